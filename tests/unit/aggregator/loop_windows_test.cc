// LoopWindows: per-service sums over perfctl's window, the worst blocking
// iteration of the window, idle services dropped.
#include "daemon/aggregator/loop_windows.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;

TEST(LoopWindows, SumsTheWindowAndKeepsItsWorstBlockingIteration) {
  LoopWindows w(600);
  w.AddIterations("api", 100 * kSec, 2 * kSec / 10, 500);
  w.AddBlocking("api", 100 * kSec, 150000000);
  w.AddIterations("api", 150 * kSec, kSec / 10, 300);
  w.AddBlocking("api", 150 * kSec, 60000000);
  w.AddIterations("other", 150 * kSec, kSec, 1);
  auto all = w.Snapshot("api", 60, 150 * kSec);
  EXPECT_TRUE(all.found);
  EXPECT_EQ(all.busy_ns, 3 * kSec / 10);
  EXPECT_EQ(all.iterations, 800u);
  EXPECT_EQ(all.blocking_events, 2u);
  EXPECT_EQ(all.worst_blocking_ns, 150000000u);
  // A 10 s window holds the second event only.
  auto recent = w.Snapshot("api", 10, 150 * kSec);
  EXPECT_EQ(recent.iterations, 300u);
  EXPECT_EQ(recent.worst_blocking_ns, 60000000u);
  EXPECT_FALSE(w.Snapshot("none", 60, 150 * kSec).found);
  w.EvictIdle(180 * kSec, 40 * kSec);  // both last at 150 s, within 40 s of 180: kept
  EXPECT_EQ(w.services(), 2u);
  w.EvictIdle(300 * kSec, 40 * kSec);
  EXPECT_EQ(w.services(), 0u);
}

}  // namespace
}  // namespace perfd
