// The DB aggregator's memory bounds: fingerprints past the per-service cap
// fold into one "_OTHER" entry (calls counted), routes / call sites /
// error codes per fingerprint are capped, route and service caps, findings
// per route capped, and idle entries evicted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/db/db_aggregator.h"
#include "tests/unit/db/db_call_maker.h"

namespace perfd::db {
namespace {

using testing::Call;
using testing::kSec;

DbCall CallAt(uint64_t fp, uint64_t end_s, std::string site = "") {
  DbCall c = Call(fp, 0, 1, std::move(site));
  c.start_ns += end_s * kSec - kSec / 2;
  c.end_ns += end_s * kSec - kSec / 2;
  return c;
}

TEST(DbLimitsTest, FingerprintsPastTheCapFoldIntoOther) {
  DbLimits limits;
  limits.max_fingerprints_per_service = 3;
  DbAggregator agg(600, limits);
  for (uint64_t fp = 1; fp <= 10; ++fp) agg.OnUnjoinedCall("shop", CallAt(fp, 100));
  agg.OnUnjoinedCall("shop", CallAt(9, 100));
  const DbServiceSnapshot s = agg.Snapshot("shop", 60, 100 * kSec);
  ASSERT_EQ(s.fingerprints.size(), 4u);  // three own + "_OTHER"
  uint64_t other_calls = 0;
  for (const auto& f : s.fingerprints) {
    if (f.info.fingerprint_id == 0) {
      EXPECT_EQ(f.info.text, "_OTHER");
      other_calls = f.calls;
    }
  }
  EXPECT_EQ(other_calls, 8u);
  EXPECT_EQ(agg.Stats().fingerprints_over_cap, 8u);
  // Eviction makes room again.
  agg.EvictIdle(2000 * kSec);
  agg.OnUnjoinedCall("shop", CallAt(42, 2001));
  EXPECT_EQ(agg.Snapshot("shop", 60, 2001 * kSec).fingerprints.at(0).info.fingerprint_id, 42u);
}

TEST(DbLimitsTest, RoutesAndCallSitesPerFingerprintAreCapped) {
  DbLimits limits;
  limits.per_fingerprint.routes = 16;
  limits.per_fingerprint.call_sites = 16;
  DbAggregator agg(600, limits);
  for (int i = 0; i < 40; ++i) {
    agg.OnRequestCalls("shop", "GET", "/r" + std::to_string(i), 0, 100 * kSec,
                       {CallAt(1, 100, "site" + std::to_string(i))});
  }
  const FingerprintStats f = agg.Snapshot("shop", 60, 100 * kSec).fingerprints.at(0);
  EXPECT_EQ(f.routes.size(), 17u);  // 16 + "_OTHER"
  EXPECT_EQ(f.routes.at("_OTHER"), 24u);
  EXPECT_EQ(f.call_sites.size(), 17u);
  EXPECT_EQ(f.call_sites.at("_OTHER"), 24u);
  EXPECT_EQ(f.calls, 40u);
  EXPECT_EQ(agg.Stats().names_folded, 48u);
}

TEST(DbLimitsTest, RouteAndServiceCaps) {
  DbLimits limits;
  limits.max_routes = 2;
  limits.max_services = 1;
  DbAggregator agg(600, limits);
  for (int i = 0; i < 5; ++i)
    agg.OnRequestCalls("shop", "GET", "/r" + std::to_string(i), 0, 100 * kSec, {});
  agg.OnRequestCalls("blog", "GET", "/x", 0, 100 * kSec, {});
  const DbAggregatorStats st = agg.Stats();
  EXPECT_EQ(st.routes_over_cap, 4u);
  EXPECT_EQ(st.services_over_cap, 1u);
  uint64_t other = 0;
  for (const auto& r : agg.Snapshot("shop", 60, 100 * kSec).routes)
    if (r.route == "_OTHER") other = r.stats.requests;
  EXPECT_EQ(other, 3u);
}

TEST(DbLimitsTest, FindingsPerRouteAreCapped) {
  DbLimits limits;
  limits.max_patterns_per_route = 2;
  DbAggregator agg(600, limits);
  std::vector<DbCall> calls;
  for (uint64_t fp = 1; fp <= 4; ++fp)
    for (int i = 0; i < 5; ++i) calls.push_back(Call(fp, fp * 100 + 2 * i, fp * 100 + 2 * i + 1));
  agg.OnRequestCalls("shop", "GET", "/a", 0, 100 * kSec, calls);
  EXPECT_EQ(agg.Snapshot("shop", 60, 100 * kSec).routes.at(0).stats.patterns.size(), 2u);
  EXPECT_EQ(agg.Stats().patterns_dropped, 2u);
}

TEST(DbLimitsTest, IdleRoutesFingerprintsAndServicesAreEvicted) {
  DbLimits limits;
  limits.idle_ns = 900 * kSec;
  DbAggregator agg(600, limits);
  agg.OnRequestCalls("shop", "GET", "/a", 0, 1000 * kSec, {CallAt(1, 1000)});
  agg.OnRequestCalls("shop", "GET", "/b", 0, 1800 * kSec, {CallAt(2, 1800)});
  agg.EvictIdle(1899 * kSec);
  EXPECT_EQ(agg.Stats().routes, 2u);
  agg.EvictIdle(1900 * kSec);
  DbAggregatorStats s = agg.Stats();
  EXPECT_EQ(s.routes, 1u);
  EXPECT_EQ(s.fingerprints, 1u);
  EXPECT_EQ(s.routes_evicted, 1u);
  EXPECT_EQ(s.fingerprints_evicted, 1u);
  agg.EvictIdle(3000 * kSec);
  EXPECT_EQ(agg.Stats().services, 0u);
  EXPECT_EQ(agg.Stats().services_evicted, 1u);
}

}  // namespace
}  // namespace perfd::db
