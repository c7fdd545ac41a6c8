// FetchDeadline: one total for a whole fetch, with a poll timeout that never
// goes negative, never spins on the last fraction of a millisecond and never
// outlives the deadline. Pure: the clock is passed in.
#include "daemon/pipeline/fetch_deadline.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

using Clock = FetchDeadline::Clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(FetchDeadlineTest, CountsDownFromTheStart) {
  const Clock::time_point t0{};
  FetchDeadline d(1000, t0);
  EXPECT_FALSE(d.Expired(t0));
  EXPECT_EQ(d.PollMs(t0), 1000);
  EXPECT_EQ(d.PollMs(t0 + milliseconds(400)), 600);  // a step spent is gone
  EXPECT_EQ(d.PollMs(t0 + milliseconds(999)), 1);
  EXPECT_FALSE(d.Expired(t0 + milliseconds(999)));
}

TEST(FetchDeadlineTest, LastFractionIsWaitedNotSpun) {
  const Clock::time_point t0{};
  FetchDeadline d(10, t0);
  EXPECT_EQ(d.PollMs(t0 + milliseconds(9) + microseconds(999)), 1);
  EXPECT_EQ(d.PollMs(t0 + microseconds(1)), 10);
}

TEST(FetchDeadlineTest, ExpiredIsZeroNeverNegative) {
  const Clock::time_point t0{};
  FetchDeadline d(100, t0);
  EXPECT_TRUE(d.Expired(t0 + milliseconds(100)));
  EXPECT_EQ(d.PollMs(t0 + milliseconds(100)), 0);
  EXPECT_EQ(d.PollMs(t0 + std::chrono::hours(1)), 0);
}

TEST(FetchDeadlineTest, ZeroTimeoutIsExpiredAtOnce) {
  const Clock::time_point t0{};
  FetchDeadline d(0, t0);
  EXPECT_TRUE(d.Expired(t0));
  EXPECT_EQ(d.PollMs(t0), 0);
}

TEST(FetchDeadlineTest, LargestConfigValueFitsPoll) {
  const Clock::time_point t0{};
  FetchDeadline d(600000, t0);  // routes.openapi_timeout_ms's maximum
  EXPECT_EQ(d.PollMs(t0), 600000);
  EXPECT_EQ(d.timeout_ms(), 600000u);
}

}  // namespace
}  // namespace perfd
