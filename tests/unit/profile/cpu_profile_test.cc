#include "daemon/profile/cpu_profile.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

constexpr uint64_t kS = 1000000000ull;

TEST(CpuProfileStore, CountsPerRouteAndCategoryInTheWindow) {
  CpuProfileStore store(60, 0.01);
  store.Add("api", "/a", 0, 1, 100 * kS);
  store.Add("api", "/a", 5, 1, 100 * kS);
  store.Add("api", "/a", 5, 2, 101 * kS);
  store.Add("api", "/b", 3, 3, 101 * kS);
  store.Add("other", "/a", 0, 1, 101 * kS);
  auto cpu = store.RouteCpuInWindow("api", 10, 101 * kS + 5);
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_EQ(cpu["/a"].total, 3u);
  EXPECT_EQ(cpu["/a"].by_category[0], 1u);
  EXPECT_EQ(cpu["/a"].by_category[5], 2u);
  EXPECT_EQ(cpu["/b"].by_category[3], 1u);
  // One-second window: only second 101.
  EXPECT_EQ(store.RouteCpuInWindow("api", 1, 101 * kS)["/a"].total, 1u);
  EXPECT_TRUE(store.RouteCpuInWindow("nope", 10, 101 * kS).empty());
}

TEST(CpuProfileStore, OldSlotsExpireAndAreReused) {
  CpuProfileStore store(10, 0.01);
  store.Add("api", "/a", 0, 1, 100 * kS);
  store.Add("api", "/a", 0, 1, 111 * kS);  // same ring position as 100
  auto cpu = store.RouteCpuInWindow("api", 10, 111 * kS);
  EXPECT_EQ(cpu["/a"].total, 1u);
  // A sample older than the slot now holding its position is dropped.
  store.Add("api", "/a", 0, 1, 100 * kS);
  EXPECT_EQ(store.RouteCpuInWindow("api", 10, 111 * kS)["/a"].total, 1u);
}

TEST(CpuProfileStore, StacksByIntervalAndRoute) {
  CpuProfileStore store(60, 0.01);
  store.Add("api", "/a", 0, 7, 100 * kS);
  store.Add("api", "/a", 0, 7, 101 * kS);
  store.Add("api", "/b", 0, 8, 101 * kS);
  store.Add("api", "/b", 0, 8, 105 * kS);
  auto all = store.Stacks("api", "", 100 * kS, 102 * kS);
  EXPECT_EQ(all[7], 2u);
  EXPECT_EQ(all[8], 1u);
  auto b = store.Stacks("api", "/b", 0, 200 * kS);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b[8], 2u);
}

// GetFunctions' category filter: each sample's stack is kept under the
// category it was given, so one stack sampled in two categories splits.
TEST(CpuProfileStore, StacksByCategory) {
  CpuProfileStore store(60, 0.01);
  store.Add("api", "/a", 2, 7, 100 * kS);
  store.Add("api", "/a", 2, 7, 100 * kS);
  store.Add("api", "/a", 5, 7, 100 * kS);
  store.Add("api", "/a", 5, 8, 101 * kS);
  store.Add("api", "/b", 2, 9, 101 * kS);
  using Counts = std::unordered_map<uint32_t, uint64_t>;
  EXPECT_EQ(store.Stacks("api", "", 0, 200 * kS, 2), (Counts{{7, 2}, {9, 1}}));
  EXPECT_EQ(store.Stacks("api", "/a", 0, 200 * kS, 5), (Counts{{7, 1}, {8, 1}}));
  EXPECT_EQ(store.Stacks("api", "/a", 0, 200 * kS), (Counts{{7, 3}, {8, 1}}));
  EXPECT_EQ(store.Stacks("api", "/a", 0, 200 * kS, kAllCategories), (Counts{{7, 3}, {8, 1}}));
  EXPECT_TRUE(store.Stacks("api", "", 0, 200 * kS, 0).empty());
  // An out-of-range category was stored as app, and is found there.
  store.Add("api", "/c", 99, 3, 101 * kS);
  EXPECT_EQ(store.Stacks("api", "/c", 0, 200 * kS, kNumCategories - 1), (Counts{{3, 1}}));
}

TEST(CpuProfileStore, CategoryIndexIsTheNamesOrder) {
  for (int c = 0; c < kNumCategories; ++c) EXPECT_EQ(CategoryIndex(kCategoryNames[c]), c);
  EXPECT_EQ(CategoryIndex("serialization"), 2);
  EXPECT_EQ(CategoryIndex(""), -1);
  EXPECT_EQ(CategoryIndex("App"), -1);
  EXPECT_EQ(CategoryIndex("cpu_app"), -1);
}

TEST(CpuProfileStore, OutOfRangeCategoryCountsAsApp) {
  CpuProfileStore store(60, 0.01);
  store.Add("api", "/a", 99, 1, 100 * kS);
  EXPECT_EQ(store.RouteCpuInWindow("api", 5, 100 * kS)["/a"].by_category[kNumCategories - 1], 1u);
}

// Services that stop sampling (their workers gone) are dropped after the
// idle time: names of services that come and go over days are unbounded.
TEST(CpuProfileStore, IdleServicesAreEvicted) {
  CpuProfileStore store(60, 0.01);
  store.Add("old", "/a", 0, 1, 100 * kS);
  store.Add("new", "/a", 0, 1, 500 * kS);
  store.EvictIdle(1000 * kS, 900 * kS);  // "old" ended at 101 s: 899 s idle
  EXPECT_EQ(store.services(), 2u);
  store.EvictIdle(1001 * kS, 900 * kS);
  EXPECT_EQ(store.services(), 1u);
  EXPECT_EQ(store.services_evicted(), 1u);
  EXPECT_TRUE(store.RouteCpuInWindow("old", 60, 1001 * kS).empty());
  EXPECT_EQ(store.RouteCpuInWindow("new", 60, 501 * kS).at("/a").total, 1u);
}

}  // namespace
}  // namespace perfd
