// N+1 detection: sequential runs of one fingerprint are findings; overlapping
// ones (asyncio.gather) are fan-out; housekeeping never counts.
#include "daemon/db/n_plus_one.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/db/db_call_maker.h"

namespace perfd::db {
namespace {

using testing::Call;
using testing::kMs;

std::vector<DbCall> Sequential(uint64_t fp, int n, uint64_t from_ms, const std::string& site) {
  std::vector<DbCall> calls;
  for (int i = 0; i < n; ++i) calls.push_back(Call(fp, from_ms + 2 * i, from_ms + 2 * i + 1, site));
  return calls;
}

TEST(NPlusOneTest, SequentialRunOfTwentyIsOneFindingWithItsCallSite) {
  std::vector<DbCall> calls = {Call(1, 0, 5, "shop.list (shop.py:10)")};
  for (const DbCall& c : Sequential(2, 20, 10, "shop.list (shop.py:14)")) calls.push_back(c);
  calls[3].call_site = "";  // unknown sites do not win
  const RequestPatterns p = NPlusOneDetector().Detect(calls);
  ASSERT_EQ(p.n_plus_one.size(), 1u);
  EXPECT_TRUE(p.fan_out.empty());
  EXPECT_EQ(p.n_plus_one[0].fingerprint_id, 2u);
  EXPECT_EQ(p.n_plus_one[0].count, 20u);
  EXPECT_EQ(p.n_plus_one[0].call_site, "shop.list (shop.py:14)");
  EXPECT_EQ(p.n_plus_one[0].total_ns, 20 * kMs);
}

TEST(NPlusOneTest, GatherOfThreeOverlappingIsFanOutNotNPlusOne) {
  const std::vector<DbCall> calls = {Call(7, 0, 20), Call(7, 1, 21), Call(7, 2, 22)};
  const RequestPatterns p = NPlusOneDetector(2).Detect(calls);
  EXPECT_TRUE(p.n_plus_one.empty());
  ASSERT_EQ(p.fan_out.size(), 1u);
  EXPECT_EQ(p.fan_out[0].count, 3u);
}

// gather's children waiting for a busy pool run one after another on the
// wire; they are still separate tasks, issued concurrently: fan-out.
TEST(NPlusOneTest, SequentialCallsOfDifferentTasksAreFanOut) {
  std::vector<DbCall> calls = Sequential(7, 3, 0, "");
  for (size_t i = 0; i < calls.size(); ++i) calls[i].task = 100 + i;
  RequestPatterns p = NPlusOneDetector(2).Detect(calls);
  EXPECT_TRUE(p.n_plus_one.empty());
  ASSERT_EQ(p.fan_out.size(), 1u);
  // One task looping: N+1, as without task ids.
  for (auto& c : calls) c.task = 100;
  p = NPlusOneDetector(2).Detect(calls);
  EXPECT_EQ(p.n_plus_one.size(), 1u);
  EXPECT_TRUE(p.fan_out.empty());
}

TEST(NPlusOneTest, OverlapAnywhereInALongRunMakesItFanOut) {
  std::vector<DbCall> calls = Sequential(3, 10, 0, "");
  calls[5].start_ns = calls[4].end_ns - 1;  // started before the previous ended
  const RequestPatterns p = NPlusOneDetector().Detect(calls);
  EXPECT_TRUE(p.n_plus_one.empty());
  ASSERT_EQ(p.fan_out.size(), 1u);
  EXPECT_EQ(p.fan_out[0].count, 10u);
}

TEST(NPlusOneTest, FourInARunIsBelowTheDefaultThreshold) {
  EXPECT_TRUE(NPlusOneDetector().Detect(Sequential(4, 4, 0, "x")).n_plus_one.empty());
  EXPECT_EQ(NPlusOneDetector().Detect(Sequential(4, 5, 0, "x")).n_plus_one.size(), 1u);
  EXPECT_EQ(NPlusOneDetector(4).Detect(Sequential(4, 4, 0, "x")).n_plus_one.size(), 1u);
}

TEST(NPlusOneTest, HousekeepingIsNeverAFindingAndDoesNotBreakARun) {
  std::vector<DbCall> hk;
  for (int i = 0; i < 10; ++i) hk.push_back(Call(9, 2 * i, 2 * i + 1, "", true));
  EXPECT_TRUE(NPlusOneDetector().Detect(hk).n_plus_one.empty());

  // BEGIN, 3 loop queries, a SAVEPOINT-like housekeeping call, 3 more, COMMIT.
  std::vector<DbCall> calls = {Call(9, 0, 1, "", true)};
  for (int i = 0; i < 6; ++i) {
    calls.push_back(Call(5, 10 + 4 * i, 11 + 4 * i));
    if (i == 2) calls.push_back(Call(9, 12 + 4 * i, 13 + 4 * i, "", true));
  }
  calls.push_back(Call(9, 100, 101, "", true));
  const RequestPatterns p = NPlusOneDetector().Detect(calls);
  ASSERT_EQ(p.n_plus_one.size(), 1u);
  EXPECT_EQ(p.n_plus_one[0].count, 6u);
}

TEST(NPlusOneTest, ADifferentFingerprintBreaksTheRun) {
  std::vector<DbCall> calls = Sequential(1, 4, 0, "");
  calls.push_back(Call(2, 50, 51));
  for (const DbCall& c : Sequential(1, 4, 60, "")) calls.push_back(c);
  EXPECT_TRUE(NPlusOneDetector().Detect(calls).n_plus_one.empty());
}

TEST(NPlusOneTest, SingleQueryAndNoQueryHaveNoFinding) {
  EXPECT_TRUE(NPlusOneDetector().Detect({Call(1, 0, 1)}).n_plus_one.empty());
  const RequestPatterns p = NPlusOneDetector().Detect({});
  EXPECT_TRUE(p.n_plus_one.empty());
  EXPECT_TRUE(p.fan_out.empty());
}

}  // namespace
}  // namespace perfd::db
