#include "daemon/profile/stack_table.h"

#include <gtest/gtest.h>

#include <string>

namespace perfd {
namespace {

TEST(StackTable, InternsStacksAndFrames) {
  StackTable t;
  std::vector<FrameInfo> s1 = {{"leaf", "a.py", 10, 8}, {"root", "a.py", 3, 1}};
  std::vector<FrameInfo> s2 = {{"leaf", "a.py", 11, 8}, {"root", "a.py", 3, 1}};
  uint32_t a = t.Intern(s1, false);
  EXPECT_EQ(t.Intern(s1, false), a);
  uint32_t b = t.Intern(s2, false);
  EXPECT_NE(a, b);  // another line is another stack
  uint32_t c = t.Intern(s1, true);
  EXPECT_NE(a, c);  // truncated stays apart
  EXPECT_TRUE(t.Truncated(c));
  EXPECT_FALSE(t.Truncated(a));
  auto frames = t.Stack(a);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(t.Frame(frames[0]).function, "leaf");
  EXPECT_EQ(t.Frame(frames[1]).line, 3);
  EXPECT_EQ(t.Stack(b)[1], frames[1]);  // shared frame id
}

TEST(StackTable, BoundedWithCountedOverflow) {
  StackTable t(3);  // the overflow stack + 2
  EXPECT_NE(t.Intern({{"f", "x.py", 1, 1}}, false), StackTable::kOverflowStack);
  EXPECT_NE(t.Intern({{"f", "x.py", 2, 1}}, false), StackTable::kOverflowStack);
  EXPECT_EQ(t.Intern({{"f", "x.py", 3, 1}}, false), StackTable::kOverflowStack);
  EXPECT_EQ(t.overflowed(), 1u);
  EXPECT_EQ(t.Frame(t.Stack(StackTable::kOverflowStack)[0]).function, "[stack table full]");
}

}  // namespace
// A full table refuses a new stack before interning its frames: samples of
// ever-new code (generated functions, changing line numbers) must not grow
// the frame table behind the stack cap.
TEST(StackTable, FullTableRefusesBeforeInterningFrames) {
  StackTable t(2);  // the overflow stack + 1
  t.Intern({{"f", "x.py", 1, 1}}, false);
  const size_t frames = t.frames();
  for (int line = 2; line < 1000; ++line) {
    EXPECT_EQ(t.Intern({{"g" + std::to_string(line), "x.py", line, 1}}, false),
              StackTable::kOverflowStack);
  }
  EXPECT_EQ(t.frames(), frames);
  EXPECT_EQ(t.Frame(static_cast<uint32_t>(frames)).function, "");  // no frame past the old ones
  EXPECT_EQ(t.overflowed(), 998u);
  // A stack already interned is still found while the table is full.
  EXPECT_NE(t.Intern({{"f", "x.py", 1, 1}}, false), StackTable::kOverflowStack);
}

}  // namespace perfd
