#include "daemon/python/symbolizer.h"

#include <gtest/gtest.h>

#include <limits>

#include "daemon/python/offsets_table.h"
#include "tests/unit/python_sym/fake_memory.h"

namespace perfd::python {
namespace {

using testing::FakeMemory;

// 3.12 location table: units 0-1 on firstlineno, unit 2 one line below,
// unit 3 without a line.
const std::string kTable("\x81\x00\xd8\x00\x01\xf8", 6);

class SymbolizerTest : public ::testing::Test {
 protected:
  const py_offsets& off = *OffsetsFor(3, 12);
  FakeMemory mem;
};

TEST_F(SymbolizerTest, ResolvesNameModuleAndLine) {
  Symbolizer sym;
  const uint64_t code =
      mem.AddCode(off, "get_user", "/usr/lib/python3/dist-packages/myapp/users.py", 20, kTable);
  Symbol s = sym.Resolve(mem, 1, off, py_frame{code, 2, 20});
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.qualname, "get_user");
  EXPECT_EQ(s.module, "myapp.users");
  EXPECT_EQ(s.filename, "/usr/lib/python3/dist-packages/myapp/users.py");
  EXPECT_EQ(s.line, 21);
  EXPECT_EQ(sym.Resolve(mem, 1, off, py_frame{code, 0, 20}).line, 20);
  EXPECT_EQ(sym.Resolve(mem, 1, off, py_frame{code, 3, 20}).line, 0);             // no line
  EXPECT_EQ(sym.Resolve(mem, 1, off, py_frame{code, 0xffffffffu, 20}).line, 20);  // not started
  EXPECT_EQ(sym.stats().misses, 1u);
  EXPECT_EQ(sym.stats().hits, 3u);
}

TEST_F(SymbolizerTest, HitsDoNotTouchTheProcess) {
  Symbolizer sym;
  const uint64_t code = mem.AddCode(off, "f", "/a/b.py", 5, kTable);
  ASSERT_TRUE(sym.Resolve(mem, 1, off, py_frame{code, 0, 5}).ok);
  const int reads = mem.reads;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(sym.Resolve(mem, 1, off, py_frame{code, 2, 5}).ok);
  EXPECT_EQ(mem.reads, reads);
}

TEST_F(SymbolizerTest, ReusedAddressWithOtherFirstLineIsReRead) {
  Symbolizer sym;
  const uint64_t code = mem.AddCode(off, "old_func", "/a/old.py", 10, kTable);
  ASSERT_EQ(sym.Resolve(mem, 1, off, py_frame{code, 0, 10}).qualname, "old_func");
  // The object is freed and another code object is built at that address.
  const uint64_t other = mem.AddCode(off, "new_func", "/a/new.py", 77, kTable);
  std::string bytes(256, '\0');
  ASSERT_TRUE(mem.Read(other, bytes.data(), bytes.size()));
  mem.Poke(code, bytes.data(), bytes.size());
  Symbol s = sym.Resolve(mem, 1, off, py_frame{code, 2, 77});
  EXPECT_EQ(s.qualname, "new_func");
  EXPECT_EQ(s.line, 78);
  EXPECT_EQ(sym.stats().misses, 2u);
}

TEST_F(SymbolizerTest, ReadRacingAFreeIsNotCached) {
  Symbolizer sym;
  const uint64_t code = mem.AddCode(off, "f", "/a.py", 10, kTable);
  // The walker saw firstlineno 11 but the object now says 10: reused.
  Symbol s = sym.Resolve(mem, 1, off, py_frame{code, 0, 11});
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(sym.stats().stale_reads, 1u);
  EXPECT_EQ(sym.stats().entries, 0u);
}

TEST_F(SymbolizerTest, ReadFailuresAreCountedAndRetried) {
  Symbolizer sym;
  Symbol s = sym.Resolve(mem, 1, off, py_frame{0x1234000, 0, 1});
  EXPECT_FALSE(s.ok);
  EXPECT_TRUE(s.qualname.empty());
  EXPECT_EQ(sym.stats().read_failures, 1u);
  sym.Resolve(mem, 1, off, py_frame{0x1234000, 0, 1});
  EXPECT_EQ(sym.stats().read_failures, 2u);  // no negative caching: pages come back
}

TEST_F(SymbolizerTest, ImplausibleHeadersAreCountedAsRejected) {
  Symbolizer sym;
  const uint64_t code = mem.AddCode(off, "f", "/a.py", 10, kTable);
  uint64_t name = 0;
  ASSERT_TRUE(mem.Read(code + off.code_qualname, &name, sizeof(name)));
  const int64_t wraps = (int64_t{1} << 62) + 1;  // * 4 bytes wraps to 4
  const uint32_t wide = 1u | (4u << 2) | (1u << 5);
  mem.Poke(name + 16, &wraps, sizeof(wraps));
  mem.Poke(name + 32, &wide, sizeof(wide));
  EXPECT_FALSE(sym.Resolve(mem, 1, off, py_frame{code, 0, 10}).ok);
  EXPECT_EQ(sym.stats().read_failures, 1u);
  EXPECT_EQ(sym.stats().rejected, 1u);
  EXPECT_EQ(sym.stats().entries, 0u);
  // Unmapped memory is a plain read failure, not a rejection.
  EXPECT_FALSE(sym.Resolve(mem, 1, off, py_frame{0x1234000, 0, 1}).ok);
  EXPECT_EQ(sym.stats().read_failures, 2u);
  EXPECT_EQ(sym.stats().rejected, 1u);
}

TEST_F(SymbolizerTest, OversizedLineTableKeepsTheNameAndIsCounted) {
  Symbolizer sym;
  const uint64_t code = mem.AddCode(off, "big", "/a.py", 10, kTable);
  uint64_t table = 0;
  ASSERT_TRUE(mem.Read(code + off.code_linetable, &table, sizeof(table)));
  const int64_t huge = std::numeric_limits<int64_t>::max();
  mem.Poke(table + off.var_size, &huge, sizeof(huge));
  Symbol s = sym.Resolve(mem, 1, off, py_frame{code, 2, 10});
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.qualname, "big");
  EXPECT_EQ(s.line, 0);  // no line table, no line
  EXPECT_EQ(sym.stats().linetables_truncated, 1u);
  EXPECT_EQ(sym.stats().read_failures, 0u);
}

TEST_F(SymbolizerTest, LruEvictsLeastRecentlyUsed) {
  Symbolizer sym(2);
  const uint64_t a = mem.AddCode(off, "a", "/a.py", 1, kTable);
  const uint64_t b = mem.AddCode(off, "b", "/b.py", 1, kTable);
  const uint64_t c = mem.AddCode(off, "c", "/c.py", 1, kTable);
  sym.Resolve(mem, 1, off, py_frame{a, 0, 1});
  sym.Resolve(mem, 1, off, py_frame{b, 0, 1});
  sym.Resolve(mem, 1, off, py_frame{a, 0, 1});  // a is now most recent
  sym.Resolve(mem, 1, off, py_frame{c, 0, 1});  // evicts b
  EXPECT_EQ(sym.stats().evictions, 1u);
  EXPECT_EQ(sym.stats().entries, 2u);
  const uint64_t misses = sym.stats().misses;
  sym.Resolve(mem, 1, off, py_frame{a, 0, 1});
  EXPECT_EQ(sym.stats().misses, misses);
  sym.Resolve(mem, 1, off, py_frame{b, 0, 1});
  EXPECT_EQ(sym.stats().misses, misses + 1);
}

TEST_F(SymbolizerTest, PidsAreSeparateAndDropPidForgetsOne) {
  Symbolizer sym;
  const uint64_t code = mem.AddCode(off, "f", "/a.py", 3, kTable);
  sym.Resolve(mem, 100, off, py_frame{code, 0, 3});
  sym.Resolve(mem, 200, off, py_frame{code, 0, 3});  // same address, other process
  EXPECT_EQ(sym.stats().misses, 2u);
  sym.DropPid(100);
  EXPECT_EQ(sym.stats().entries, 1u);
  sym.Resolve(mem, 200, off, py_frame{code, 0, 3});
  EXPECT_EQ(sym.stats().hits, 1u);
  sym.Resolve(mem, 100, off, py_frame{code, 0, 3});
  EXPECT_EQ(sym.stats().misses, 3u);
}

TEST_F(SymbolizerTest, UsesTheProcessVersionFormat) {
  // The same bytes mean different lines in the 3.10 and 3.11+ formats.
  const py_offsets& off310 = *OffsetsFor(3, 10);
  const std::string t310("\x04\x03", 2);  // 2 units at firstlineno + 3
  const uint64_t code = mem.AddCode(off310, "f", "/a.py", 10, t310);
  Symbolizer sym;
  EXPECT_EQ(sym.Resolve(mem, 1, off310, py_frame{code, 1, 10}).line, 13);
}

}  // namespace
}  // namespace perfd::python
