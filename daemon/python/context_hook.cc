#include "daemon/python/context_hook.h"

#include <cstring>

namespace perfd::python {

namespace {
// PyContext_CopyCurrent is a handful of instructions in every build seen
// (25 bytes in Debian's 3.11); the tail jump sits well inside this window.
constexpr size_t kScanBytes = 64;
constexpr int kMaxPops = 4;

bool IsPop(std::string_view c, size_t* i) {
  auto b = static_cast<uint8_t>(c[*i]);
  if (b >= 0x58 && b <= 0x5f) {  // pop %rax..%rdi
    *i += 1;
    return true;
  }
  if (b == 0x41 && *i + 1 < c.size()) {  // REX.B pop %r8..%r15
    auto b2 = static_cast<uint8_t>(c[*i + 1]);
    if (b2 >= 0x58 && b2 <= 0x5f) {
      *i += 2;
      return true;
    }
  }
  return false;
}
}  // namespace

const char* ContextHookKindName(ContextHookKind k) {
  return k == ContextHookKind::kAllCopies ? "all context copies (context_new_from_vars)"
                                          : "copies through PyContext_CopyCurrent";
}

std::variant<uint64_t, std::string> DecodeCopyTailJump(std::string_view code, uint64_t vaddr,
                                                       uint16_t context_vars) {
  if (context_vars > 0x7f) return std::string("PyContext.ctx_vars offset does not fit a disp8");
  // mov disp8(%rax),%rdi = REX.W 8b /r with ModRM 0x78 (mod=01 reg=rdi rm=rax).
  const char mov[] = {0x48, static_cast<char>(0x8b), 0x78, static_cast<char>(context_vars)};
  for (size_t at = 0; at + sizeof(mov) <= code.size(); ++at) {
    if (std::memcmp(code.data() + at, mov, sizeof(mov)) != 0) continue;
    size_t i = at + sizeof(mov);
    for (int pops = 0; pops < kMaxPops && i < code.size() && IsPop(code, &i); ++pops) {
    }
    if (i + 5 > code.size() || static_cast<uint8_t>(code[i]) != 0xe9) continue;
    int32_t rel;
    std::memcpy(&rel, code.data() + i + 1, sizeof(rel));
    return vaddr + i + 5 + static_cast<int64_t>(rel);
  }
  return std::string("PyContext_CopyCurrent does not end in a tail jump after loading ctx_vars");
}

std::variant<ContextHook, std::string> FindContextHook(const ElfFile& elf, uint16_t context_vars) {
  auto copy = elf.FindSymbol("PyContext_CopyCurrent");
  if (!copy) return std::string("no PyContext_CopyCurrent symbol");
  // The constructor when its address decodes into code, else the export.
  auto target = DecodeCopyTailJump(elf.BytesAt(*copy, kScanBytes), *copy, context_vars);
  if (auto* t = std::get_if<uint64_t>(&target)) {
    if (auto off = elf.FileOffset(*t, /*code=*/true))
      return ContextHook{ContextHookKind::kAllCopies, *t, *off};
  }
  auto off = elf.FileOffset(*copy, /*code=*/true);
  if (!off) return std::string("PyContext_CopyCurrent is outside the executable segments");
  return ContextHook{ContextHookKind::kCApiCopies, *copy, *off};
}

}  // namespace perfd::python
