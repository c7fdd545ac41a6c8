#include "daemon/python/code_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "daemon/python/offsets_table.h"
#include "tests/unit/python_sym/fake_memory.h"

namespace perfd::python {
namespace {

using testing::FakeMemory;

class CodeReaderTest : public ::testing::TestWithParam<int> {
 protected:
  const py_offsets& off() {
    const py_offsets* o = OffsetsFor(3, GetParam());
    EXPECT_NE(o, nullptr);
    return *o;
  }
  FakeMemory mem;
};

TEST_P(CodeReaderTest, ReadsQualnameFilenameLineAndTable) {
  const std::string table("\x80\x00\xd8\x04\x05", 5);  // embedded NUL kept
  const uint64_t code = mem.AddCode(off(), "Klass.method", "/srv/app/x.py", 42, table);
  auto info = ReadCode(mem, off(), code);
  ASSERT_TRUE(info.has_value());
  // On 3.10 there is no co_qualname: co_name is what we can show.
  EXPECT_EQ(info->qualname, "Klass.method");
  EXPECT_EQ(info->filename, "/srv/app/x.py");
  EXPECT_EQ(info->firstlineno, 42);
  EXPECT_EQ(info->linetable, table);
  EXPECT_FALSE(info->linetable_truncated);
}

TEST_P(CodeReaderTest, DecodesEveryCompactKindToUtf8) {
  struct Case {
    std::u32string text;
    int kind;
    std::string utf8;
  };
  const Case cases[] = {
      {U"caf\u00e9", 1, "caf\xc3\xa9"},
      {U"\u95a2\u6570", 2, "\xe9\x96\xa2\xe6\x95\xb0"},
      {U"x\U0001F600", 4, "x\xf0\x9f\x98\x80"},
      // surrogateescape'd byte 0x80 in a filename, and a lone surrogate in
      // a 4-byte string: both must come out as valid UTF-8 (U+FFFD).
      {U"a\xdc80", 2, "a\xef\xbf\xbd"},
      {U"\U0001F600\xd800", 4, "\xf0\x9f\x98\x80\xef\xbf\xbd"},
      {U"", 2, ""},
  };
  for (const auto& c : cases) {
    const uint64_t s = mem.AddCompactStr(off(), c.text, c.kind);
    auto got = ReadPyString(mem, off(), s);
    ASSERT_TRUE(got.has_value()) << c.utf8;
    EXPECT_EQ(*got, c.utf8);
  }
}

TEST_P(CodeReaderTest, RefusesImplausibleStrings) {
  const uint64_t s = mem.AddAsciiStr(off(), "name");
  auto poke_state = [&](uint32_t state) { mem.Poke(s + 32, &state, 4); };
  auto poke_len = [&](int64_t len) { mem.Poke(s + 16, &len, 8); };
  ASSERT_TRUE(ReadPyString(mem, off(), s).has_value());
  poke_state(1 | (1 << 2) | (1 << 6));  // not compact
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
  poke_state(1 | (3 << 2) | (1 << 5));  // kind 3 does not exist
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
  poke_state(1 | (2 << 2) | (1 << 5) | (1 << 6));  // "ascii" with 2-byte kind
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
  poke_state(1 | (1 << 2) | (1 << 5) | (1 << 6));
  poke_len(-1);
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
  poke_len(kMaxNameBytes + 1);
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
  poke_len(100);  // beyond the mapped object
  EXPECT_FALSE(ReadPyString(mem, off(), s).has_value());
  EXPECT_FALSE(ReadPyString(mem, off(), 0).has_value());
  // An "ASCII" string with a high byte is not a str we understand.
  const uint64_t bad = mem.AddAsciiStr(off(), "ab\xff");
  EXPECT_FALSE(ReadPyString(mem, off(), bad).has_value());
}

TEST_P(CodeReaderTest, LongestNameIsAcceptedOneMoreIsNot) {
  const uint64_t ok = mem.AddAsciiStr(off(), std::string(kMaxNameBytes, 'q'));
  EXPECT_TRUE(ReadPyString(mem, off(), ok).has_value());
  const uint64_t big = mem.AddAsciiStr(off(), std::string(kMaxNameBytes + 1, 'q'));
  EXPECT_FALSE(ReadPyString(mem, off(), big).has_value());
  // 4-byte kind: the bound is on storage bytes, not characters.
  const uint64_t wide =
      mem.AddCompactStr(off(), std::u32string(kMaxNameBytes / 4 + 1, U'\U0001F600'), 4);
  EXPECT_FALSE(ReadPyString(mem, off(), wide).has_value());
}

TEST_P(CodeReaderTest, HugeLineTableKeepsTheName) {
  const uint64_t code =
      mem.AddCode(off(), "huge", "/f.py", 1, std::string(kMaxLineTableBytes + 1, '\x80'));
  auto info = ReadCode(mem, off(), code);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->qualname, "huge");
  EXPECT_TRUE(info->linetable.empty());
  EXPECT_TRUE(info->linetable_truncated);
}

TEST_P(CodeReaderTest, UnreadableObjectsFail) {
  EXPECT_FALSE(ReadCode(mem, off(), 0).has_value());
  EXPECT_FALSE(ReadCode(mem, off(), 0xdead0000).has_value());
  const uint64_t code = mem.AddCode(off(), "f", "/f.py", 1, "");
  uint64_t null = 0;
  mem.Poke(code + off().code_filename, &null, 8);
  EXPECT_FALSE(ReadCode(mem, off(), code).has_value());
}

TEST_P(CodeReaderTest, MissingOffsetsAreRefused) {
  const uint64_t code = mem.AddCode(off(), "f", "/f.py", 1, "");
  py_offsets broken = off();
  broken.code_linetable = PY_OFF_NONE;
  EXPECT_FALSE(ReadCode(mem, broken, code).has_value());
}

INSTANTIATE_TEST_SUITE_P(Versions, CodeReaderTest, ::testing::Values(10, 11, 12, 13),
                         [](const auto& info) { return "py3" + std::to_string(info.param); });

TEST(ProcessMemoryReader, ReadsOwnMemoryAndRejectsUnmapped) {
  static const char kText[] = "perfd code reader";
  ProcessMemoryReader self(getpid());
  char buf[sizeof(kText)] = {};
  ASSERT_TRUE(self.Read(reinterpret_cast<uint64_t>(kText), buf, sizeof(buf)));
  EXPECT_STREQ(buf, kText);
  EXPECT_FALSE(self.Read(8, buf, 4));
  EXPECT_TRUE(self.Read(8, buf, 0));
}

}  // namespace
}  // namespace perfd::python
