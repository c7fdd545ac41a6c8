#include "daemon/aggregator/aggregator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;

const RouteSnapshot* Find(const ServiceSnapshot& snap, const std::string& method,
                          const std::string& route) {
  for (const RouteSnapshot& r : snap.routes) {
    if (r.method == method && r.route == route) return &r;
  }
  return nullptr;
}

TEST(AggregatorTest, RequestsPerSecondOverTheWindow) {
  Aggregator agg(600);
  // 120 requests spread over 60 seconds, 20 ms each.
  for (uint64_t s = 0; s < 60; ++s) {
    for (int i = 0; i < 2; ++i) {
      uint64_t end = (1000 + s) * kSec + 100 * kMs;
      agg.RecordStart("shop", "GET", "/users/{user_id}");
      agg.RecordComplete("shop", "GET", "/users/{user_id}", 200, false, end - 20 * kMs, end);
    }
  }
  ServiceSnapshot snap = agg.Snapshot("shop", 60, 1059 * kSec + 500 * kMs);
  EXPECT_EQ(snap.service, "shop");
  EXPECT_EQ(snap.window_seconds, 60u);
  ASSERT_EQ(snap.routes.size(), 1u);
  const RouteSnapshot& r = snap.routes[0];
  EXPECT_EQ(r.requests, 120u);
  EXPECT_DOUBLE_EQ(r.requests_per_second, 2.0);
  EXPECT_EQ(r.in_flight, 0u);
  EXPECT_NEAR(r.latency.Quantile(0.99), 0.020, 0.0002);
  EXPECT_NEAR(r.max_seconds, 0.020, 1e-9);
  // A 10 s window sees the last 10 seconds only.
  ServiceSnapshot last10 = agg.Snapshot("shop", 10, 1059 * kSec + 500 * kMs);
  ASSERT_EQ(last10.routes.size(), 1u);
  EXPECT_EQ(last10.routes[0].requests, 20u);
  EXPECT_DOUBLE_EQ(last10.routes[0].requests_per_second, 2.0);
}

TEST(AggregatorTest, InFlightRoutesAppearWithoutTraffic) {
  Aggregator agg(60);
  agg.RecordStart("svc", "POST", "/upload");
  agg.RecordStart("svc", "POST", "/upload");
  agg.RecordStart("svc", "GET", "/health");
  agg.RecordComplete("svc", "GET", "/health", 200, false, 5 * kSec, 5 * kSec + kMs);

  ServiceSnapshot snap = agg.Snapshot("svc", 60, 6 * kSec);
  const RouteSnapshot* upload = Find(snap, "POST", "/upload");
  ASSERT_NE(upload, nullptr);
  EXPECT_EQ(upload->in_flight, 2u);
  EXPECT_EQ(upload->requests, 0u);
  const RouteSnapshot* health = Find(snap, "GET", "/health");
  ASSERT_NE(health, nullptr);
  EXPECT_EQ(health->in_flight, 0u);

  // Long after: /health has left the window, /upload is still running.
  snap = agg.Snapshot("svc", 60, 600 * kSec);
  ASSERT_EQ(snap.routes.size(), 1u);
  EXPECT_EQ(snap.routes[0].route, "/upload");
}

TEST(AggregatorTest, InFlightClampsAtZero) {
  Aggregator agg(60);
  // Completion without a start (perfd attached mid-request).
  agg.RecordComplete("svc", "GET", "/x", 200, false, 1 * kSec, 2 * kSec);
  agg.RecordStart("svc", "GET", "/x");
  ServiceSnapshot snap = agg.Snapshot("svc", 60, 2 * kSec);
  ASSERT_EQ(snap.routes.size(), 1u);
  EXPECT_EQ(snap.routes[0].in_flight, 1u);
}

TEST(AggregatorTest, MethodsAndServicesAreSeparate) {
  Aggregator agg(60);
  agg.RecordComplete("a", "GET", "/items", 200, false, kSec, 2 * kSec);
  agg.RecordComplete("a", "POST", "/items", 201, false, kSec, 2 * kSec);
  agg.RecordComplete("a", "POST", "/items", 500, false, kSec, 2 * kSec);
  agg.RecordComplete("b", "GET", "/items", 0, true, kSec, 2 * kSec);

  ServiceSnapshot a = agg.Snapshot("a", 60, 2 * kSec);
  ASSERT_EQ(a.routes.size(), 2u);
  const RouteSnapshot* post = Find(a, "POST", "/items");
  ASSERT_NE(post, nullptr);
  EXPECT_EQ(post->requests, 2u);
  EXPECT_EQ(post->errors, 1u);
  EXPECT_EQ(post->status_codes.at("201"), 1u);

  ServiceSnapshot b = agg.Snapshot("b", 60, 2 * kSec);
  ASSERT_EQ(b.routes.size(), 1u);
  EXPECT_EQ(b.routes[0].aborted, 1u);
  EXPECT_EQ(b.routes[0].errors, 1u);
  EXPECT_EQ(b.routes[0].status_codes.at("aborted"), 1u);

  EXPECT_EQ(agg.Services(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(agg.RequestsTotal("a"), 3u);
  EXPECT_EQ(agg.RequestsTotal("b"), 1u);
  EXPECT_EQ(agg.RequestsTotal("nope"), 0u);
  EXPECT_TRUE(agg.Snapshot("nope", 60, 2 * kSec).routes.empty());
}

TEST(AggregatorTest, TotalsOutliveTheWindow) {
  Aggregator agg(10);
  for (int i = 0; i < 5; ++i) agg.RecordComplete("s", "GET", "/", 200, false, kSec, 2 * kSec);
  agg.RecordStart("s", "GET", "/");  // in flight: not in the total yet
  EXPECT_EQ(agg.RequestsTotal("s"), 5u);
  ServiceSnapshot snap = agg.Snapshot("s", 10, 1000 * kSec);
  ASSERT_EQ(snap.routes.size(), 1u);
  EXPECT_EQ(snap.routes[0].requests, 0u);
  EXPECT_EQ(snap.routes[0].in_flight, 1u);
}

TEST(AggregatorTest, WindowIsClampedToTheMaximum) {
  Aggregator agg(30);
  agg.RecordComplete("s", "GET", "/", 200, false, kSec, 100 * kSec);
  ServiceSnapshot snap = agg.Snapshot("s", 600, 100 * kSec);
  EXPECT_EQ(snap.window_seconds, 30u);
  ASSERT_EQ(snap.routes.size(), 1u);
  EXPECT_DOUBLE_EQ(snap.routes[0].requests_per_second, 1.0 / 30);
  EXPECT_EQ(agg.Snapshot("s", 0, 100 * kSec).window_seconds, 30u);  // 0 = default 60, clamped
  Aggregator big(600);
  EXPECT_EQ(big.Snapshot("s", 0, 0).window_seconds, 60u);
}

TEST(AggregatorTest, ConcurrentRecordingAndSnapshots) {
  Aggregator agg(60);
  constexpr int kPerThread = 20000;
  std::atomic<bool> done{false};
  auto writer = [&](const std::string& route) {
    for (int i = 0; i < kPerThread; ++i) {
      uint64_t end = (100 + i % 30) * kSec;
      agg.RecordStart("svc", "GET", route);
      agg.RecordComplete("svc", "GET", route, i % 10 == 0 ? 500 : 200, false, end - kMs, end);
    }
  };
  std::thread reader([&] {
    while (!done.load()) {
      ServiceSnapshot snap = agg.Snapshot("svc", 60, 130 * kSec);
      for (const RouteSnapshot& r : snap.routes) {
        EXPECT_LE(r.requests, static_cast<uint64_t>(kPerThread));
        EXPECT_EQ(r.latency.Count(), r.requests);
      }
    }
  });
  std::thread w1(writer, "/a");
  std::thread w2(writer, "/b");
  w1.join();
  w2.join();
  done = true;
  reader.join();
  EXPECT_EQ(agg.RequestsTotal("svc"), 2u * kPerThread);
  ServiceSnapshot snap = agg.Snapshot("svc", 60, 130 * kSec);
  ASSERT_EQ(snap.routes.size(), 2u);
  for (const RouteSnapshot& r : snap.routes) {
    EXPECT_EQ(r.requests, static_cast<uint64_t>(kPerThread));
    EXPECT_EQ(r.errors, static_cast<uint64_t>(kPerThread / 10));
    EXPECT_EQ(r.in_flight, 0u);
  }
}

TEST(AggregatorTest, QueueSketchMergesAcrossSecondsLikeLatency) {
  Aggregator agg(60);
  // Two seconds, each: 3 requests that waited 20 ms of their 25 ms, 1 that did not wait.
  for (uint64_t s = 0; s < 2; ++s) {
    const uint64_t end = (100 + s) * kSec + 300 * kMs;
    for (int i = 0; i < 3; ++i)
      agg.RecordComplete("q", "GET", "/", 200, false, end - 25 * kMs, end, 20 * kMs);
    agg.RecordComplete("q", "GET", "/", 200, false, end - 5 * kMs, end);
  }
  ServiceSnapshot snap = agg.Snapshot("q", 10, 101 * kSec + 500 * kMs);
  ASSERT_EQ(snap.routes.size(), 1u);
  const RouteSnapshot& r = snap.routes[0];
  EXPECT_EQ(r.latency.Count(), 8u);
  ASSERT_EQ(r.queue.Count(), 8u);
  EXPECT_EQ(r.queue.zero_count(), 2u);
  EXPECT_NEAR(r.queue.Quantile(0.5), 0.020, 0.0002);
  EXPECT_NEAR(r.latency.Quantile(0.5), 0.025, 0.00025);
}

}  // namespace
}  // namespace perfd
