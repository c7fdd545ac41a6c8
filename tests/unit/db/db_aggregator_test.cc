// DbAggregator over windows: per-route DB time and queries per request
// (0 counts), per-fingerprint calls/latency/rows/errors/routes/call sites,
// N+1 findings and fan-out per route, unjoined calls, encrypted counts.
#include "daemon/db/db_aggregator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/unit/db/db_call_maker.h"

namespace perfd::db {
namespace {

using testing::Call;
using testing::kMs;
using testing::kSec;

// A request ending at end_s seconds whose calls are shifted to just before it.
std::vector<DbCall> At(std::vector<DbCall> calls, uint64_t end_s) {
  for (DbCall& c : calls) {
    c.start_ns += end_s * kSec - kSec / 2;
    c.end_ns += end_s * kSec - kSec / 2;
  }
  return calls;
}

void Request(DbAggregator& agg, uint64_t end_s, std::vector<DbCall> calls,
             const std::string& route = "/users") {
  agg.OnRequestCalls("shop", "GET", route, end_s * kSec - kSec / 2, end_s * kSec,
                     At(std::move(calls), end_s));
}

const RouteDbSnapshot* FindRoute(const DbServiceSnapshot& s, const std::string& route) {
  for (const auto& r : s.routes)
    if (r.route == route) return &r;
  return nullptr;
}

TEST(DbAggregatorTest, RouteTimeAndQueriesPerRequestIncludingZero) {
  DbAggregator agg(600);
  Request(agg, 100, {});  // a request with no query counts as 0
  Request(agg, 100, {Call(1, 0, 20), Call(1, 1, 21), Call(1, 2, 22)});  // gather of 3
  std::vector<DbCall> loop = {Call(2, 0, 1)};
  for (int i = 0; i < 20; ++i) loop.push_back(Call(3, 10 + 2 * i, 11 + 2 * i, "app.view (a.py:7)"));
  Request(agg, 101, loop);

  const DbServiceSnapshot s = agg.Snapshot("shop", 60, 101 * kSec);
  const RouteDbSnapshot* r = FindRoute(s, "/users");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->stats.requests, 3u);
  EXPECT_EQ(r->stats.calls, 24u);
  EXPECT_EQ(r->stats.queries, 24u);
  EXPECT_NEAR(r->stats.call_seconds, 0.060 + 0.001 + 0.020, 1e-9);
  EXPECT_NEAR(r->stats.wall_seconds, 0.022 + 0.001 + 0.020, 1e-9);
  const LatencySketch& qpr = r->stats.queries_per_request;
  EXPECT_EQ(qpr.Count(), 3u);
  EXPECT_EQ(qpr.zero_count(), 1u);
  EXPECT_EQ(std::lround(qpr.Quantile(0.99)), 21);
  EXPECT_EQ(std::lround(qpr.Quantile(0.5)), 3);

  // One N+1 pattern (fingerprint 3) and one fan-out (fingerprint 1).
  ASSERT_EQ(r->stats.patterns.size(), 2u);
  for (const RoutePattern& p : r->stats.patterns) {
    if (p.fingerprint_id == 3) {
      EXPECT_EQ(p.n_plus_one_requests, 1u);
      EXPECT_EQ(p.n_plus_one_max_count, 20u);
      EXPECT_DOUBLE_EQ(p.n_plus_one_mean_count, 20.0);
      EXPECT_EQ(p.call_site, "app.view (a.py:7)");
      EXPECT_EQ(p.fan_out_requests, 0u);
    } else {
      EXPECT_EQ(p.fingerprint_id, 1u);
      EXPECT_EQ(p.n_plus_one_requests, 0u);
      EXPECT_EQ(p.fan_out_requests, 1u);
      EXPECT_DOUBLE_EQ(p.fan_out_mean_count, 3.0);
    }
  }
}

TEST(DbAggregatorTest, WindowsKeepOnlyTheirSeconds) {
  DbAggregator agg(600);
  Request(agg, 100, {Call(1, 0, 10)});
  Request(agg, 150, {Call(1, 0, 10), Call(1, 20, 30)});
  EXPECT_EQ(FindRoute(agg.Snapshot("shop", 10, 150 * kSec), "/users")->stats.calls, 2u);
  EXPECT_EQ(FindRoute(agg.Snapshot("shop", 60, 150 * kSec), "/users")->stats.calls, 3u);
  const DbServiceSnapshot later = agg.Snapshot("shop", 10, 400 * kSec);
  EXPECT_TRUE(later.routes.empty());
  EXPECT_TRUE(later.fingerprints.empty());
  // Asking for more than the maximum is clamped.
  EXPECT_EQ(agg.Snapshot("shop", 5000, 150 * kSec).window_seconds, 600u);
}

TEST(DbAggregatorTest, FingerprintStatsAcrossRoutesWithRowsErrorsAndSites) {
  DbAggregator agg(600);
  DbCall a = Call(5, 0, 20, "app.a (a.py:1)");
  a.rows = 3;
  DbCall b = Call(5, 30, 40, "app.b (b.py:2)");
  b.rows = -1;  // unknown rows are not summed
  DbCall c = Call(5, 50, 60);
  c.error = true;
  c.error_code = "57014";
  Request(agg, 100, {a, b});
  Request(agg, 100, {c}, "/orders");
  DbCall u = Call(6, 0, 5);
  u.start_ns += 100 * kSec - kSec / 2;
  u.end_ns += 100 * kSec - kSec / 2;
  agg.OnUnjoinedCall("shop", u);

  const DbServiceSnapshot s = agg.Snapshot("shop", 60, 100 * kSec);
  ASSERT_EQ(s.fingerprints.size(), 2u);
  const FingerprintStats& f = s.fingerprints[0];  // most total time first
  EXPECT_EQ(f.info.fingerprint_id, 5u);
  EXPECT_EQ(f.info.text, "SELECT * FROM t5 WHERE id = $1");
  EXPECT_EQ(f.info.operation, "SELECT");
  EXPECT_EQ(f.info.collection, "t5");
  EXPECT_EQ(f.calls, 3u);
  EXPECT_EQ(f.rows, 3u);
  EXPECT_EQ(f.rows_known, 1u);  // only a: b and c (Call default) have rows -1
  EXPECT_EQ(f.errors, 1u);
  EXPECT_EQ(f.error_codes.at("57014"), 1u);
  EXPECT_NEAR(f.total_seconds, 0.040, 1e-9);
  EXPECT_EQ(f.latency.Count(), 3u);
  EXPECT_EQ(f.routes.at("GET /users"), 2u);
  EXPECT_EQ(f.routes.at("GET /orders"), 1u);
  EXPECT_EQ(f.call_sites.at("app.a (a.py:1)"), 1u);
  EXPECT_EQ(f.call_sites.size(), 2u);  // calls with no site are not listed
  EXPECT_EQ(s.fingerprints[1].routes.at("(no request)"), 1u);
  const RouteDbSnapshot* none = FindRoute(s, "(no request)");
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->method, "");
  EXPECT_EQ(none->stats.requests, 0u);
  EXPECT_EQ(none->stats.calls, 1u);
}

TEST(DbAggregatorTest, EncryptedConnectionsPerSystem) {
  DbAggregator agg(600);
  agg.OnEncryptedConnection("shop", "postgresql");
  agg.OnEncryptedConnection("shop", "postgresql");
  agg.OnEncryptedConnection("shop", "redis");
  const DbServiceSnapshot s = agg.Snapshot("shop", 60, 100 * kSec);
  EXPECT_EQ(s.encrypted_connections.at("postgresql"), 2u);
  EXPECT_EQ(s.encrypted_connections.at("redis"), 1u);
  // Counted without a time: kept for idle_ns after the first eviction pass.
  agg.EvictIdle(5000 * kSec);
  EXPECT_EQ(agg.Snapshot("shop", 60, 100 * kSec).encrypted_connections.size(), 2u);
  agg.EvictIdle(5900 * kSec);
  EXPECT_TRUE(agg.Services().empty());
}

TEST(DbAggregatorTest, UnknownMethodIsFolded) {
  DbAggregator agg(600);
  agg.OnRequestCalls("shop", "BREW", "/pot", 0, 100 * kSec, {});
  const DbServiceSnapshot s = agg.Snapshot("shop", 60, 100 * kSec);
  ASSERT_EQ(s.routes.size(), 1u);
  EXPECT_EQ(s.routes[0].method, "_OTHER");
}

}  // namespace
}  // namespace perfd::db
