// GcWindows: per-service, per-generation sums over perfctl's window, the
// longest pause, generations outside 0..2 as "other", idle services dropped.
#include "daemon/aggregator/gc_windows.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;

TEST(GcWindows, SumsEachGenerationOverTheWindow) {
  GcWindows w(600);
  w.AddPause("api", 0, 1 * kMs, 100 * kSec);
  w.AddPause("api", 2, 30 * kMs, 100 * kSec + 5);
  w.AddPause("api", 0, 3 * kMs, 150 * kSec);
  w.AddPause("api", 1, 2 * kMs, 150 * kSec);
  w.AddPause("other", 2, 90 * kMs, 150 * kSec);

  const GcWindowSnapshot all = w.Snapshot("api", 60, 150 * kSec);
  EXPECT_EQ(all.overall.pauses, 4u);
  EXPECT_EQ(all.overall.total_ns, 36 * kMs);
  EXPECT_EQ(all.overall.max_ns, 30 * kMs);
  EXPECT_EQ(all.generations[0].pauses, 2u);
  EXPECT_EQ(all.generations[0].total_ns, 4 * kMs);
  EXPECT_EQ(all.generations[0].max_ns, 3 * kMs);
  EXPECT_EQ(all.generations[1].pauses, 1u);
  EXPECT_EQ(all.generations[2].pauses, 1u);
  EXPECT_EQ(all.generations[2].max_ns, 30 * kMs);
  EXPECT_EQ(all.generations[GcWindowSnapshot::kOther].pauses, 0u);

  // A 10 s window holds the pauses of second 150 only: the full collection
  // of second 100 (and its 30 ms maximum) left it.
  const GcWindowSnapshot recent = w.Snapshot("api", 10, 150 * kSec);
  EXPECT_EQ(recent.overall.pauses, 2u);
  EXPECT_EQ(recent.overall.total_ns, 5 * kMs);
  EXPECT_EQ(recent.overall.max_ns, 3 * kMs);
  EXPECT_EQ(recent.generations[2].pauses, 0u);

  EXPECT_EQ(w.Snapshot("none", 60, 150 * kSec).overall.pauses, 0u);
}

TEST(GcWindows, GenerationsOutsideZeroToTwoAreOther) {
  EXPECT_EQ(GcGenerationIndex(0), 0u);
  EXPECT_EQ(GcGenerationIndex(2), 2u);
  EXPECT_EQ(GcGenerationIndex(3), GcWindowSnapshot::kOther);
  EXPECT_EQ(GcGenerationIndex(-1), GcWindowSnapshot::kOther);
  GcWindows w(60);
  w.AddPause("api", 7, 4 * kMs, 10 * kSec);
  const GcWindowSnapshot s = w.Snapshot("api", 60, 10 * kSec);
  EXPECT_EQ(s.generations[GcWindowSnapshot::kOther].pauses, 1u);
  EXPECT_EQ(s.overall.total_ns, 4 * kMs);
}

TEST(GcWindows, PausesOlderThanTheLongestWindowAreDropped) {
  GcWindows w(60);
  w.AddPause("api", 0, kMs, 200 * kSec);
  w.AddPause("api", 0, kMs, 100 * kSec);  // late by more than 60 s
  EXPECT_EQ(w.Snapshot("api", 60, 200 * kSec).overall.pauses, 1u);
}

TEST(GcWindows, EvictsIdleServices) {
  GcWindows w(600);
  w.AddPause("api", 0, kMs, 150 * kSec);
  w.AddPause("old", 0, kMs, 100 * kSec);
  w.EvictIdle(180 * kSec, 40 * kSec);  // "old" last paused 80 s ago
  EXPECT_EQ(w.services(), 1u);
  EXPECT_EQ(w.Snapshot("api", 60, 180 * kSec).overall.pauses, 1u);
  w.EvictIdle(300 * kSec, 40 * kSec);
  EXPECT_EQ(w.services(), 0u);
}

}  // namespace
}  // namespace perfd
