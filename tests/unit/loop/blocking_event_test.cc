// BlockingKindOf: the one rule naming an event by its largest part, shared
// by BlockingTracker and perfd_event_loop_blocking_events_total.
#include "daemon/loop/blocking_event.h"

#include <gtest/gtest.h>

#include <string>

namespace perfd {
namespace {

TEST(BlockingKind, TheLargestPartNamesTheEvent) {
  EXPECT_EQ(BlockingKindOf(30, 10, 5), BlockingKind::kOnCpu);
  EXPECT_EQ(BlockingKindOf(2, 48, 0), BlockingKind::kOffCpu);
  EXPECT_EQ(BlockingKindOf(5, 0, 20), BlockingKind::kRunnable);
  EXPECT_EQ(BlockingKindOf(5, 6, 20), BlockingKind::kRunnable);
}

TEST(BlockingKind, TiesNameTheCodeBeforeTheHost) {
  EXPECT_EQ(BlockingKindOf(10, 10, 10), BlockingKind::kOnCpu);
  EXPECT_EQ(BlockingKindOf(5, 10, 10), BlockingKind::kOffCpu);
  EXPECT_EQ(BlockingKindOf(10, 5, 10), BlockingKind::kOnCpu);
  EXPECT_EQ(BlockingKindOf(0, 0, 0), BlockingKind::kOnCpu);
}

TEST(BlockingKind, Names) {
  EXPECT_EQ(std::string(BlockingKindName(BlockingKind::kOnCpu)), "oncpu");
  EXPECT_EQ(std::string(BlockingKindName(BlockingKind::kOffCpu)), "offcpu");
  EXPECT_EQ(std::string(BlockingKindName(BlockingKind::kRunnable)), "runnable");
}

TEST(BlockingEvent, OffCpuIsTheSumOfTheBlockedParts) {
  BlockingEvent e;
  e.start_ns = 100;
  e.busy_ns = 50;
  e.blocked_ns[LOOP_BLOCK_SLEEP] = 3;
  e.blocked_ns[LOOP_BLOCK_IO] = 4;
  EXPECT_EQ(e.offcpu_ns(), 7u);
  EXPECT_EQ(e.end_ns(), 150u);
}

}  // namespace
}  // namespace perfd
