// Hostile headers: the traced process controls every length, kind and size
// the code reader sees. Each case must be refused (or truncated) without
// reading or allocating past what the caps allow. Run under ASan/UBSan
// (-DPERFD_SANITIZE=ON) to catch an over-read that does not crash.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "daemon/python/code_reader.h"
#include "daemon/python/offsets_table.h"
#include "tests/unit/python_sym/fake_memory.h"

namespace perfd::python {
namespace {

using testing::FakeMemory;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr uint32_t kCompact = 1u << 5;
constexpr uint32_t kAscii = 1u << 6;
constexpr uint32_t Kind(uint32_t kind) { return kind << 2; }

class CodeReaderBoundsTest : public ::testing::TestWithParam<int> {
 protected:
  const py_offsets& off() { return *OffsetsFor(3, GetParam()); }

  // A real 4-byte-kind str ("ab") whose header fields the test then forges.
  uint64_t WideStr() { return mem.AddCompactStr(off(), U"ab", 4); }
  void PokeLength(uint64_t str, int64_t len) { mem.Poke(str + 16, &len, sizeof(len)); }
  void PokeState(uint64_t str, uint32_t state) { mem.Poke(str + 32, &state, sizeof(state)); }
  void PokeTableSize(uint64_t code, int64_t size) {
    uint64_t table = 0;
    ASSERT_TRUE(mem.Read(code + off().code_linetable, &table, sizeof(table)));
    mem.Poke(table + off().var_size, &size, sizeof(size));
  }

  FakeMemory mem;
};

TEST_P(CodeReaderBoundsTest, LengthTimesKindThatWrapsIsRefused) {
  const uint64_t s = WideStr();
  ASSERT_TRUE(ReadPyString(mem, off(), s).has_value());
  // 2^62 + 1 four-byte units: the byte count wraps to 4 in 64 bits, which
  // passes a naive "length * kind <= cap" check; the decode loop then runs
  // on the unwrapped length past the 4-byte buffer.
  for (int64_t len : {(int64_t{1} << 62) + 1, int64_t{1} << 62, (int64_t{1} << 62) + 256,
                      kInt64Max / 4 + 1, kInt64Max}) {
    PokeLength(s, len);
    EXPECT_FALSE(ReadPyString(mem, off(), s).has_value()) << len;
  }
}

TEST_P(CodeReaderBoundsTest, LengthsNearTheLimitsOfTheTypeAreRefused) {
  // Length as SIZE_MAX (-1 read as signed), 2^63 (INT64_MIN) and INT64_MAX,
  // for every valid kind, ASCII or not.
  for (uint32_t state :
       {kCompact | kAscii | Kind(1), kCompact | Kind(1), kCompact | Kind(2), kCompact | Kind(4)}) {
    const uint64_t s = WideStr();
    PokeState(s, state);
    for (int64_t len : {int64_t{-1}, kInt64Min, kInt64Max, kInt64Max - 1, kInt64Max / 2 + 1,
                        static_cast<int64_t>(kMaxNameBytes) + 1}) {
      PokeLength(s, len);
      EXPECT_FALSE(ReadPyString(mem, off(), s).has_value()) << "state " << state << " len " << len;
    }
  }
}

TEST_P(CodeReaderBoundsTest, KindsOtherThanOneTwoFourAreRefused) {
  for (uint32_t kind : {0u, 3u, 5u, 6u, 7u}) {
    const uint64_t s = WideStr();
    PokeState(s, kCompact | Kind(kind));
    EXPECT_FALSE(ReadPyString(mem, off(), s).has_value()) << "kind " << kind;
    PokeLength(s, (int64_t{1} << 62) + 1);
    EXPECT_FALSE(ReadPyString(mem, off(), s).has_value()) << "kind " << kind;
  }
}

TEST_P(CodeReaderBoundsTest, StrLengthBeyondTheMappedObjectIsRefused) {
  // Under the cap but longer than the object: the read must fail as a
  // whole, never return the bytes that happen to be mapped.
  const uint64_t s = WideStr();
  PokeLength(s, static_cast<int64_t>(kMaxNameBytes / 4));
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
}

TEST_P(CodeReaderBoundsTest, HostileNameFailsTheWholeCodeObject) {
  const uint64_t code = mem.AddCode(off(), "f", "/f.py", 1, "\x80\x00");
  uint64_t name = WideStr();
  PokeLength(name, (int64_t{1} << 62) + 1);
  const uint16_t name_off =
      off().code_qualname != PY_OFF_NONE ? off().code_qualname : off().code_name;
  mem.Poke(code + name_off, &name, sizeof(name));
  EXPECT_FALSE(ReadCode(mem, off(), code).has_value());
}

TEST_P(CodeReaderBoundsTest, NegativeLineTableSizeIsRefused) {
  const uint64_t code = mem.AddCode(off(), "f", "/f.py", 1, "\x80\x00");
  for (int64_t size : {int64_t{-1}, int64_t{-2}, kInt64Min}) {
    PokeTableSize(code, size);
    EXPECT_FALSE(ReadCode(mem, off(), code).has_value()) << size;
  }
}

TEST_P(CodeReaderBoundsTest, HugeLineTableSizeKeepsTheNameWithoutAllocating) {
  const uint64_t code = mem.AddCode(off(), "f", "/f.py", 1, "\x80\x00");
  for (int64_t size : {kInt64Max, kInt64Max / 2 + 1, int64_t{1} << 40,
                       static_cast<int64_t>(kMaxLineTableBytes) + 1}) {
    PokeTableSize(code, size);
    auto info = ReadCode(mem, off(), code);
    ASSERT_TRUE(info.has_value()) << size;
    EXPECT_EQ(info->qualname, "f");
    EXPECT_TRUE(info->linetable.empty());
    EXPECT_TRUE(info->linetable_truncated);
  }
  // Under the cap but past the end of the bytes object: a failed read.
  PokeTableSize(code, static_cast<int64_t>(kMaxLineTableBytes));
  EXPECT_FALSE(ReadCode(mem, off(), code).has_value());
}

INSTANTIATE_TEST_SUITE_P(Versions, CodeReaderBoundsTest, ::testing::Values(10, 11, 12, 13),
                         [](const auto& info) { return "py3" + std::to_string(info.param); });

}  // namespace
}  // namespace perfd::python
