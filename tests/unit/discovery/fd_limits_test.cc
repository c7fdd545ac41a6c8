#include "daemon/fd_limits.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

TEST(FdLimitsTest, RaisesTheSoftLimitToTheHardLimit) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 64) GTEST_SKIP() << "hard limit too low to lower the soft one";
  rlimit low = saved;
  low.rlim_cur = 32;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimitChange c = RaiseFdLimit();
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(c.error, 0);
  EXPECT_EQ(c.before, 32u);
  EXPECT_EQ(c.after, saved.rlim_max);
  EXPECT_EQ(now.rlim_cur, saved.rlim_max);
  // Already at the hard limit: nothing to do, not an error.
  const FdLimitChange again = RaiseFdLimit();
  EXPECT_EQ(again.error, 0);
  EXPECT_EQ(again.before, again.after);
  setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(FdLimitsTest, SamplingBudgetLeavesTheReserve) {
  EXPECT_EQ(SamplingFdBudget(1024, 100, 256), 668u);
  EXPECT_EQ(SamplingFdBudget(300, 100, 256), 0u);  // never negative
  EXPECT_EQ(SamplingFdBudget(RLIM_INFINITY, 100), SIZE_MAX);
  EXPECT_GT(OpenFdCount(), 2u);  // stdin, stdout, stderr at least
}

}  // namespace
}  // namespace perfd
