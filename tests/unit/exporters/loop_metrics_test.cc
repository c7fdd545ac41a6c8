// LoopMetrics: kernel log2 buckets onto Prometheus buckets, per-process
// deltas of the cumulative kernel histograms (a recreated entry starts from
// zero), blocking events named by their largest part, decided events' route
// shares in blocked seconds (bare templates, capped routes), idle services
// removed.
#include "daemon/exporters/loop_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

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

BlockingEvent Decided(std::vector<BlockingRouteShare> routes) {
  BlockingEvent e;
  e.routes = std::move(routes);
  for (const auto& r : e.routes) e.busy_ns += r.ns;
  e.route = e.routes.front().route;
  return e;
}

// The number of series of `family` for `service`.
size_t Series(const prometheus::Registry& registry, const std::string& family,
              const std::string& service) {
  size_t n = 0;
  for (const auto& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric)
      for (const auto& l : m.label)
        if (l.name == "service_name" && l.value == service) ++n;
  }
  return n;
}

TEST(LoopMetrics, DecidedEventsAddTheirRouteSharesInSeconds) {
  prometheus::Registry registry;
  LoopMetrics m(registry, 900 * kSec);
  m.OnBlockingDecided("api", Decided({{"GET /users/{id}", 75000000}, {"(no request)", 25000000}}),
                      kSec);
  m.OnBlockingDecided("api", Decided({{"POST /users/{id}", 50000000}}), 2 * kSec);
  m.OnBlockingDecided("api", Decided({{"(unattributed)", 30000000}}), 2 * kSec);
  m.OnBlockingDecided("web", Decided({{"GET /", 20000000}}), 2 * kSec);
  const std::string family = "perfd_event_loop_blocked_seconds_total";
  // The bare template: both methods of /users/{id} add to one series.
  EXPECT_DOUBLE_EQ(Value(registry, family, "api", "http_route", "/users/{id}"), 0.125);
  EXPECT_DOUBLE_EQ(Value(registry, family, "api", "http_route", "(no request)"), 0.025);
  EXPECT_DOUBLE_EQ(Value(registry, family, "api", "http_route", "(unattributed)"), 0.03);
  EXPECT_DOUBLE_EQ(Value(registry, family, "web", "http_route", "/"), 0.02);
  EXPECT_EQ(Value(registry, family, "api", "http_route", "GET /users/{id}"), -1);
  EXPECT_EQ(Series(registry, family, "api"), 3u);
  // Exactly the labels service_name and http_route.
  for (const auto& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const auto& metric : f.metric) {
      ASSERT_EQ(metric.label.size(), 2u);
      EXPECT_EQ(metric.label[0].name, "http_route");
      EXPECT_EQ(metric.label[1].name, "service_name");
    }
  }
}

TEST(LoopMetrics, BlockedRoutesPerServiceAreCapped) {
  prometheus::Registry registry;
  LoopMetrics m(registry, 900 * kSec);
  const size_t routes = LoopMetrics::kMaxBlockedRoutes + 10;
  for (size_t i = 0; i < routes; ++i)
    m.OnBlockingDecided("api", Decided({{"GET /r" + std::to_string(i), 1000000}}), kSec);
  // Routes seen before the cap keep their series.
  m.OnBlockingDecided("api", Decided({{"GET /r0", 1000000}}), kSec);
  const std::string family = "perfd_event_loop_blocked_seconds_total";
  EXPECT_EQ(Series(registry, family, "api"), LoopMetrics::kMaxBlockedRoutes + 1);
  EXPECT_DOUBLE_EQ(Value(registry, family, "api", "http_route", "/r0"), 0.002);
  EXPECT_DOUBLE_EQ(Value(registry, family, "api", "http_route", "_OTHER"), 0.010);
  EXPECT_EQ(Value(registry, family, "api", "http_route", "/r" + std::to_string(routes - 1)), -1);
  EXPECT_EQ(m.stats().blocked_routes_folded, 10u);
  // The cap is per service.
  m.OnBlockingDecided("web", Decided({{"GET /new", 1000000}}), kSec);
  EXPECT_DOUBLE_EQ(Value(registry, family, "web", "http_route", "/new"), 0.001);
}

TEST(LoopMetrics, BlockedSecondsLeaveWithTheirService) {
  prometheus::Registry registry;
  LoopMetrics m(registry, 60 * kSec);
  m.OnBlockingDecided("old", Decided({{"GET /a", 1000000}, {"GET /b", 1000000}}), 10 * kSec);
  m.OnBlockingDecided("new", Decided({{"GET /a", 1000000}}), 65 * kSec);
  m.EvictIdle(80 * kSec);
  const std::string family = "perfd_event_loop_blocked_seconds_total";
  EXPECT_EQ(Series(registry, family, "old"), 0u);
  EXPECT_DOUBLE_EQ(Value(registry, family, "new", "http_route", "/a"), 0.001);
  EXPECT_EQ(m.stats().series_evicted, 1u);
  // A service that comes back starts from zero.
  m.OnBlockingDecided("old", Decided({{"GET /a", 3000000}}), 90 * kSec);
  EXPECT_DOUBLE_EQ(Value(registry, family, "old", "http_route", "/a"), 0.003);
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
