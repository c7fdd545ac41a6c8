// LoopMetrics: kernel log2 buckets onto Prometheus buckets, per-process
// deltas of the cumulative kernel histograms (a recreated entry starts from
// zero), blocking events named by their largest part, idle services removed.
#include "daemon/exporters/loop_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <string>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;

// The value of one sample of `family` with label service_name=service (and
// `label`=`value` when given); for histograms, the count (or a bucket's
// cumulative count when `le` >= 0).
double Value(const prometheus::Registry& registry, const std::string& family,
             const std::string& service, const std::string& label = "",
             const std::string& value = "", int bucket = -1) {
  for (const auto& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      bool match = false, other = label.empty();
      for (const auto& l : m.label) {
        if (l.name == "service_name" && l.value == service) match = true;
        if (l.name == label && l.value == value) other = true;
      }
      if (!match || !other) continue;
      if (f.type == prometheus::MetricType::Histogram)
        return bucket < 0 ? double(m.histogram.sample_count)
                          : double(m.histogram.bucket.at(size_t(bucket)).cumulative_count);
      return m.counter.value;
    }
  }
  return -1;
}

TEST(LoopMetrics, KernelBucketsLandBelowTheirUpperBound) {
  EXPECT_EQ(LoopMetrics::BucketOf(0), 0u);
  EXPECT_EQ(LoopMetrics::BucketOf(9), 0u);    // [512 ns, 1024 ns) → le 1.024 µs
  EXPECT_EQ(LoopMetrics::BucketOf(10), 1u);   // [1024, 2048) → le 2.048 µs
  EXPECT_EQ(LoopMetrics::BucketOf(24), 15u);  // [16.8 ms, 33.6 ms) → le 2^25 ns
  EXPECT_EQ(LoopMetrics::BucketOf(29), 20u);  // le 2^30 ns
  EXPECT_EQ(LoopMetrics::BucketOf(30), LoopMetrics::kBoundaries);  // +Inf
}

TEST(LoopMetrics, AddsEachProcessIncreaseToItsService) {
  prometheus::Registry registry;
  LoopMetrics m(registry, 900 * kSec);
  loop_hist h{};
  h.buckets[24] = 3;  // three iterations of ~20 ms
  h.buckets[12] = 10;
  h.iterations = 13;
  h.busy_ns = 60000000 + 10 * 5000;
  h.oncpu_ns = 10000000;
  h.blocked_ns[LOOP_BLOCK_SLEEP] = 50000000;
  m.Update(1, "api", h, 1 * kSec);
  // A second worker of the same service.
  loop_hist w{};
  w.buckets[12] = 5;
  w.iterations = 5;
  w.busy_ns = 25000;
  w.oncpu_ns = 25000;
  m.Update(2, "api", w, 1 * kSec);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "api"), 18);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "api", "", "", 15), 18);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "api", "", "", 14), 15);
  // Read again: only the increase counts.
  h.buckets[12] += 2;
  h.iterations += 2;
  h.blocked_ns[LOOP_BLOCK_LOCK] += 4000000;
  m.Update(1, "api", h, 2 * kSec);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "api"), 20);
  EXPECT_DOUBLE_EQ(
      Value(registry, "perfd_event_loop_time_seconds_total", "api", "part", "blocked_sleep"), 0.05);
  EXPECT_DOUBLE_EQ(
      Value(registry, "perfd_event_loop_time_seconds_total", "api", "part", "blocked_lock"), 0.004);
  // A pid whose kernel entry was recreated (fewer iterations) starts over.
  loop_hist fresh{};
  fresh.buckets[12] = 1;
  fresh.iterations = 1;
  m.Update(1, "api", fresh, 3 * kSec);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "api"), 21);
}

TEST(LoopMetrics, BlockingEventsAreNamedByTheirLargestPart) {
  prometheus::Registry registry;
  LoopMetrics m(registry, 900 * kSec);
  loop_block_event e{};
  e.busy_ns = 50000000;
  e.blocked_ns[LOOP_BLOCK_SLEEP] = 48000000;
  e.oncpu_ns = 2000000;
  m.OnBlockingEvent("api", e, kSec);
  e = {};
  e.busy_ns = 30000000;
  e.oncpu_ns = 29000000;
  e.runnable_ns = 1000000;
  m.OnBlockingEvent("api", e, kSec);
  e = {};
  e.busy_ns = 25000000;
  e.oncpu_ns = 5000000;
  e.runnable_ns = 20000000;
  m.OnBlockingEvent("api", e, kSec);
  EXPECT_EQ(Value(registry, "perfd_event_loop_blocking_events_total", "api", "kind", "offcpu"), 1);
  EXPECT_EQ(Value(registry, "perfd_event_loop_blocking_events_total", "api", "kind", "oncpu"), 1);
  EXPECT_EQ(Value(registry, "perfd_event_loop_blocking_events_total", "api", "kind", "runnable"),
            1);
  EXPECT_EQ(m.stats().blocking_events, 3u);
}

TEST(LoopMetrics, IdleServicesAreRemoved) {
  prometheus::Registry registry;
  LoopMetrics m(registry, 60 * kSec);
  loop_hist h{};
  h.buckets[12] = 1;
  h.iterations = 1;
  m.Update(1, "old", h, 10 * kSec);
  m.Update(2, "new", h, 65 * kSec);
  m.EvictIdle(80 * kSec);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "old"), -1);
  EXPECT_EQ(Value(registry, "perfd_event_loop_busy_seconds", "new"), 1);
  EXPECT_EQ(m.stats().series_evicted, 1u);
  EXPECT_EQ(m.stats().services, 1u);
}

}  // namespace
}  // namespace perfd
