#include "daemon/python/context_hook.h"

#include <gtest/gtest.h>

#include <string>

namespace perfd::python {
namespace {

// PyContext_CopyCurrent of Debian's /usr/bin/python3.11 (3.11.2, LTO), at
// 0x6936f0:  push %rsi; call context_get; test %rax,%rax; je <error>;
//            mov 0x18(%rax),%rdi; pop %rcx; jmp context_new_from_vars
const std::string kDebian311(
    "\x56"
    "\xe8\x1a\x00\x00\x00"
    "\x48\x85\xc0"
    "\x0f\x84\x29\x6c\xe0\xff"
    "\x48\x8b\x78\x18"
    "\x59"
    "\xe9\x37\x02\x00\x00"
    "\x0f\x1f\x80\x00\x00\x00\x00",
    32);

TEST(DecodeCopyTailJump, DebianPython311) {
  auto target = DecodeCopyTailJump(kDebian311, 0x6936f0, 24);
  ASSERT_TRUE(std::holds_alternative<uint64_t>(target)) << std::get<std::string>(target);
  EXPECT_EQ(std::get<uint64_t>(target), 0x693940u);  // objdump: jmp 693940
}

TEST(DecodeCopyTailJump, DisplacementMustBeTheVerifiedCtxVarsOffset) {
  // Same code, but the table says ctx_vars sits elsewhere: not trusted.
  EXPECT_TRUE(std::holds_alternative<std::string>(DecodeCopyTailJump(kDebian311, 0x6936f0, 32)));
}

TEST(DecodeCopyTailJump, CallInsteadOfTailJumpIsRejected) {
  std::string code = kDebian311;
  code[20] = '\xe8';  // call rel32: the copy returns here, no tail call
  EXPECT_TRUE(std::holds_alternative<std::string>(DecodeCopyTailJump(code, 0x6936f0, 24)));
}

TEST(DecodeCopyTailJump, TruncatedCodeIsRejected) {
  EXPECT_TRUE(std::holds_alternative<std::string>(
      DecodeCopyTailJump(kDebian311.substr(0, 22), 0x6936f0, 24)));
  EXPECT_TRUE(std::holds_alternative<std::string>(DecodeCopyTailJump("", 0, 24)));
}

TEST(DecodeCopyTailJump, BackwardJumpAndRexPops) {
  // mov 0x18(%rax),%rdi; pop %r8; pop %rbx; jmp -0x100
  const std::string code("\x48\x8b\x78\x18\x41\x58\x5b\xe9\x00\xff\xff\xff", 12);
  auto target = DecodeCopyTailJump(code, 0x1000, 24);
  ASSERT_TRUE(std::holds_alternative<uint64_t>(target));
  EXPECT_EQ(std::get<uint64_t>(target), 0x1000u + 12 - 0x100);
}

}  // namespace
}  // namespace perfd::python
