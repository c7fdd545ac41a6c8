#include "daemon/aggregator/route_window.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;

// A request that ended at `end_s` seconds after lasting `ms` milliseconds.
void Ok(RouteWindow& w, uint64_t end_s, uint64_t ms = 10, int status = 200) {
  uint64_t end = end_s * kSec + 500 * kMs;
  w.Record(status, false, end - ms * kMs, end);
}

TEST(RouteWindowTest, CountsRequestsInTheWindow) {
  RouteWindow w(60);
  for (int i = 0; i < 3; ++i) Ok(w, 1000);
  Ok(w, 1001);
  WindowStats s = w.Snapshot(10, 1001 * kSec + 900 * kMs);
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(s.latency.Count(), 4u);
  EXPECT_EQ(s.status_codes.at("200"), 4u);
  EXPECT_NEAR(s.latency.Quantile(0.5), 0.010, 0.0001);
}

TEST(RouteWindowTest, RecordsExpireAfterTheWindow) {
  RouteWindow w(60);
  Ok(w, 1000);
  // The window covers seconds (now - window, now].
  EXPECT_EQ(w.Snapshot(10, 1009 * kSec).requests, 1u);
  EXPECT_EQ(w.Snapshot(10, 1010 * kSec).requests, 0u);
  EXPECT_EQ(w.Snapshot(60, 1059 * kSec + 999 * kMs).requests, 1u);
  EXPECT_EQ(w.Snapshot(60, 1060 * kSec).requests, 0u);
  // The current second counts, a future one does not.
  EXPECT_EQ(w.Snapshot(1, 1000 * kSec).requests, 1u);
  EXPECT_EQ(w.Snapshot(1, 999 * kSec).requests, 0u);
}

TEST(RouteWindowTest, SlotsAreReusedAndReset) {
  RouteWindow w(5);
  Ok(w, 100, 2000, 500);  // slot 0, slow and failing
  Ok(w, 105, 10, 200);    // same slot index, five seconds later
  WindowStats s = w.Snapshot(5, 105 * kSec);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.latency.Count(), 1u);
  EXPECT_NEAR(s.max_seconds, 0.010, 1e-9);
  EXPECT_EQ(s.status_codes.count("500"), 0u);
  // An event for the overwritten second is too old now and is dropped.
  Ok(w, 100);
  EXPECT_EQ(w.Snapshot(5, 105 * kSec).requests, 1u);
  // Late but still inside the window: counted in its own second.
  Ok(w, 103);
  EXPECT_EQ(w.Snapshot(5, 105 * kSec).requests, 2u);
  EXPECT_EQ(w.Snapshot(1, 103 * kSec).requests, 1u);
}

TEST(RouteWindowTest, ErrorsAbortsAndStatusCodes) {
  RouteWindow w(60);
  Ok(w, 10, 5, 200);
  Ok(w, 10, 5, 404);
  Ok(w, 10, 5, 500);
  Ok(w, 10, 5, 503);
  w.Record(0, true, 10 * kSec, 10 * kSec + 300 * kMs);    // aborted before a status
  w.Record(502, true, 10 * kSec, 10 * kSec + 400 * kMs);  // aborted mid-response
  WindowStats s = w.Snapshot(60, 11 * kSec);
  EXPECT_EQ(s.requests, 6u);
  EXPECT_EQ(s.errors, 4u);  // 500, 503 and both aborts, each once
  EXPECT_EQ(s.aborted, 2u);
  EXPECT_EQ(s.status_codes.at("200"), 1u);
  EXPECT_EQ(s.status_codes.at("404"), 1u);
  EXPECT_EQ(s.status_codes.at("500"), 1u);
  EXPECT_EQ(s.status_codes.at("503"), 1u);
  EXPECT_EQ(s.status_codes.at("aborted"), 2u);
  EXPECT_EQ(s.status_codes.size(), 5u);
  EXPECT_EQ(s.latency.Count(), 6u);  // aborted requests keep their latency
  EXPECT_NEAR(s.max_seconds, 0.4, 1e-9);
}

TEST(RouteWindowTest, UnknownStartCountsWithoutLatency) {
  RouteWindow w(60);
  w.Record(200, false, 0, 50 * kSec);          // start never seen
  w.Record(200, false, 51 * kSec, 50 * kSec);  // clock went backwards
  WindowStats s = w.Snapshot(60, 50 * kSec);
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.latency.Count(), 0u);
  EXPECT_EQ(s.max_seconds, 0);
}

TEST(RouteWindowTest, WindowIsClamped) {
  RouteWindow w(10);
  Ok(w, 100);
  Ok(w, 91);
  EXPECT_EQ(w.Snapshot(0, 100 * kSec).requests, 1u);     // at least one second
  EXPECT_EQ(w.Snapshot(1000, 100 * kSec).requests, 2u);  // at most ten
  EXPECT_EQ(w.window_max_seconds(), 10u);
}

TEST(RouteWindowTest, EarlyClockValues) {
  RouteWindow w(60);
  w.Record(200, false, 1, 2 * kSec);  // monotonic clock a few seconds after boot
  EXPECT_EQ(w.Snapshot(60, 3 * kSec).requests, 1u);
}

TEST(RouteWindowTest, QueueTimeIsRecordedWithTheLatency) {
  RouteWindow w(60);
  const uint64_t end = 1000 * kSec + 500 * kMs;
  w.Record(200, false, end - 40 * kMs, end, 30 * kMs);  // waited 30 of its 40 ms
  w.Record(200, false, end - 10 * kMs, end, 0);         // read at once
  w.Record(200, false, end - 10 * kMs, end, 50 * kMs);  // bad input: clamped to 10 ms
  w.Record(200, false, 0, end, 5 * kMs);                // start unknown: neither sketch
  WindowStats s = w.Snapshot(10, end);
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(s.latency.Count(), 3u);
  ASSERT_EQ(s.queue.Count(), 3u);
  EXPECT_EQ(s.queue.zero_count(), 1u);
  EXPECT_NEAR(s.queue.Quantile(0.5), 0.010, 0.0001);
  EXPECT_NEAR(s.queue.Quantile(1.0), 0.030, 0.0003);
  // A reused slot starts with an empty queue sketch too.
  w.Record(200, false, end + 60 * kSec - kMs, end + 60 * kSec, 0);
  EXPECT_EQ(w.Snapshot(1, end + 60 * kSec).queue.Count(), 1u);
}

// A route holds slots only for seconds that had requests: tens of thousands
// of routes must not each cost window_max_seconds slots.
TEST(RouteWindowTest, SlotsAreAllocatedLazily) {
  RouteWindow w(600);
  EXPECT_EQ(w.allocated_slots(), 0u);
  Ok(w, 1000);
  Ok(w, 1000);
  EXPECT_EQ(w.allocated_slots(), 1u);
  Ok(w, 1010);
  EXPECT_EQ(w.allocated_slots(), 2u);
  Ok(w, 1005);  // late, inside the window: its own slot, in order
  EXPECT_EQ(w.allocated_slots(), 3u);
  EXPECT_EQ(w.Snapshot(600, 1010 * kSec).requests, 4u);
  EXPECT_EQ(w.Snapshot(5, 1009 * kSec).requests, 1u);
}

// A busy route never holds more than window_max_seconds slots: older ones
// go as newer seconds arrive.
TEST(RouteWindowTest, SlotsOlderThanTheWindowAreFreed) {
  RouteWindow w(10);
  for (uint64_t s = 0; s < 100; ++s) Ok(w, 1000 + s);
  EXPECT_EQ(w.allocated_slots(), 10u);
  EXPECT_EQ(w.Snapshot(10, 1099 * kSec).requests, 10u);
  Ok(w, 1200);  // a gap longer than the window leaves one slot
  EXPECT_EQ(w.allocated_slots(), 1u);
  Ok(w, 1150);  // older than the window behind the newest: dropped
  EXPECT_EQ(w.allocated_slots(), 1u);
}

}  // namespace
}  // namespace perfd
