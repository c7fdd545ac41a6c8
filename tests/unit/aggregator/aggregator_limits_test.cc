// The aggregator's memory bounds: global caps on services and routes with
// the overflow counted under "_OTHER", unknown methods folded, idle routes
// and services evicted (time injected), and lazily allocated slots.
#include <gtest/gtest.h>

#include <string>

#include "daemon/aggregator/aggregator.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;

void Request(Aggregator& agg, const std::string& service, const std::string& method,
             const std::string& route, uint64_t end_s) {
  agg.RecordStart(service, method, route);
  agg.RecordComplete(service, method, route, 200, false, end_s * kSec - 1000000, end_s * kSec);
}

uint64_t Requests(const Aggregator& agg, const std::string& service, const std::string& method,
                  const std::string& route, uint64_t now_s) {
  for (const auto& r : agg.Snapshot(service, 600, now_s * kSec).routes)
    if (r.method == method && r.route == route) return r.requests;
  return 0;
}

TEST(AggregatorLimitsTest, ServicesOverTheCapAreCountedUnderOther) {
  AggregatorLimits limits;
  limits.max_services = 3;
  Aggregator agg(600, limits);
  for (int i = 0; i < 10; ++i) Request(agg, "svc" + std::to_string(i), "GET", "/a", 100);
  AggregatorStats s = agg.Stats();
  EXPECT_EQ(s.services, 3u + 1u);      // the cap plus "_OTHER"
  EXPECT_EQ(s.services_over_cap, 7u);  // requests, counted at completion
  EXPECT_EQ(Requests(agg, "_OTHER", "GET", "/a", 100), 7u);
  EXPECT_EQ(Requests(agg, "svc0", "GET", "/a", 100), 1u);
  // A service already known keeps its own entry.
  Request(agg, "svc1", "GET", "/a", 100);
  EXPECT_EQ(Requests(agg, "svc1", "GET", "/a", 100), 2u);
}

TEST(AggregatorLimitsTest, RoutesOverTheGlobalCapAreCountedUnderOther) {
  AggregatorLimits limits;
  limits.max_routes = 5;
  Aggregator agg(600, limits);
  for (int i = 0; i < 20; ++i)
    Request(agg, i % 2 ? "a" : "b", "GET", "/r" + std::to_string(i), 100);
  AggregatorStats s = agg.Stats();
  // Five own routes, plus one "_OTHER" entry per service (never refused).
  EXPECT_EQ(s.routes, 5u + 2u);
  EXPECT_EQ(s.routes_over_cap, 15u);
  EXPECT_EQ(Requests(agg, "a", "GET", "_OTHER", 100) + Requests(agg, "b", "GET", "_OTHER", 100),
            15u);
  EXPECT_EQ(agg.RequestsTotal("a") + agg.RequestsTotal("b"), 20u);  // nothing lost
}

TEST(AggregatorLimitsTest, UnknownMethodsAreFoldedIntoOther) {
  Aggregator agg(600);
  for (int i = 0; i < 50; ++i) Request(agg, "shop", "X" + std::to_string(i), "/a", 100);
  Request(agg, "shop", "GET", "/a", 100);
  EXPECT_EQ(agg.Stats().routes, 2u);
  EXPECT_EQ(agg.Stats().methods_folded, 50u);
  EXPECT_EQ(Requests(agg, "shop", "_OTHER", "/a", 100), 50u);
}

TEST(AggregatorLimitsTest, IdleRoutesAndServicesAreEvicted) {
  AggregatorLimits limits;
  limits.idle_ns = 900 * kSec;
  Aggregator agg(600, limits);
  Request(agg, "old", "GET", "/a", 1000);
  Request(agg, "busy", "GET", "/a", 1000);
  Request(agg, "busy", "GET", "/b", 1800);
  agg.RecordStart("busy", "POST", "/slow");  // in flight: never evicted
  agg.EvictIdle(1899 * kSec);
  EXPECT_EQ(agg.Stats().routes, 4u);  // 899 s idle is not yet idle
  agg.EvictIdle(1900 * kSec);
  AggregatorStats s = agg.Stats();
  EXPECT_EQ(s.routes, 2u);  // busy /b and the in-flight /slow
  EXPECT_EQ(s.routes_evicted, 2u);
  EXPECT_EQ(s.services, 1u);
  EXPECT_EQ(s.services_evicted, 1u);
  EXPECT_EQ(agg.Services(), std::vector<std::string>{"busy"});
  EXPECT_EQ(Requests(agg, "busy", "GET", "/b", 1900), 1u);
  // Eviction made room: a new route and service are their own again.
  Request(agg, "old", "GET", "/a", 2000);
  EXPECT_EQ(Requests(agg, "old", "GET", "/a", 2000), 1u);
}

TEST(AggregatorLimitsTest, EvictionFreesTheCapForNewRoutes) {
  AggregatorLimits limits;
  limits.max_routes = 2;
  limits.idle_ns = 600 * kSec;
  Aggregator agg(600, limits);
  Request(agg, "s", "GET", "/a", 100);
  Request(agg, "s", "GET", "/b", 100);
  agg.EvictIdle(700 * kSec);
  Request(agg, "s", "GET", "/c", 800);
  EXPECT_EQ(agg.Stats().routes_over_cap, 0u);
  EXPECT_EQ(Requests(agg, "s", "GET", "/c", 800), 1u);
}

// A start folded into "_OTHER" while the cap was full ends there even if an
// eviction made room before its completion: the entry must not stay in
// flight (and so unevictable) forever.
TEST(AggregatorLimitsTest, AFoldedStartCompletesInOther) {
  AggregatorLimits limits;
  limits.max_routes = 1;
  limits.idle_ns = 600 * kSec;
  Aggregator agg(600, limits);
  Request(agg, "s", "GET", "/a", 100);
  agg.RecordStart("s", "GET", "/b");  // folded
  agg.EvictIdle(700 * kSec);          // /a goes
  agg.RecordComplete("s", "GET", "/b", 200, false, 799 * kSec, 800 * kSec);
  EXPECT_EQ(Requests(agg, "s", "GET", "_OTHER", 800), 1u);
  agg.EvictIdle(1400 * kSec);
  EXPECT_EQ(agg.Stats().routes, 0u);
}

// Slots are allocated for seconds with traffic only: 1,000 routes that each
// served one request cost 1,000 slots, not 600,000.
TEST(AggregatorLimitsTest, SlotsAreAllocatedPerSecondOfTraffic) {
  Aggregator agg(600);
  for (int i = 0; i < 1000; ++i) Request(agg, "s", "GET", "/r" + std::to_string(i), 100);
  EXPECT_EQ(agg.Stats().slots, 1000u);
}

}  // namespace
}  // namespace perfd
