// GetTop's DB fields and GetQueries from a DbAggregator: queries per request
// (including requests with none), DB time, N+1 findings with call site and
// fingerprint, fan-out, route filter, ids as 16 hex digits, and the answers
// without DB data.
#include <gtest/gtest.h>

#include "daemon/api/db_convert.h"
#include "daemon/api/grpc_service.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kNow = 10000 * kSec + 500 * kMs;
constexpr int64_t kWallNow = 1700000000LL * 1000000000LL;
constexpr uint64_t kLoopFp = 0xabcdef0123456789ULL;
constexpr const char* kSite = "shop.views.list_orders (shop/views.py:42)";

db::DbCall Call(uint64_t fp, uint64_t start_ns, uint64_t ms, const std::string& site = "") {
  db::DbCall c;
  c.fingerprint_id = fp;
  c.fingerprint = fp == kLoopFp ? "SELECT * FROM items WHERE order_id = $1" : "SELECT 1";
  c.operation = "SELECT";
  c.collection = fp == kLoopFp ? "items" : "";
  c.start_ns = start_ns;
  c.end_ns = start_ns + ms * kMs;
  c.rows = 1;
  c.call_site = site;
  return c;
}

class DbServiceTest : public ::testing::Test {
 protected:
  DbServiceTest()
      : aggregator_(600),
        db_(600),
        service_(aggregator_, workers_, 600,
                 ApiClocks{[] { return kNow; }, [] { return kWallNow; }}) {
    service_.SetDbAggregator(&db_);
  }

  // GET /orders: 1 + 20 sequential queries. GET /health: no query. GET
  // /dash: a gather of 3.
  void Feed() {
    const uint64_t t0 = kNow - 5 * kSec;
    std::vector<db::DbCall> orders = {Call(1, t0, 2)};
    for (int i = 0; i < 20; ++i) orders.push_back(Call(kLoopFp, t0 + (3 + i * 2) * kMs, 1, kSite));
    Request("/orders", t0, t0 + 50 * kMs, orders);
    Request("/health", t0, t0 + kMs, {});
    Request("/dash", t0, t0 + 30 * kMs,
            {Call(1, t0, 20), Call(1, t0 + kMs, 20), Call(1, t0 + 2 * kMs, 20)});
  }

  void Request(const std::string& route, uint64_t start, uint64_t end,
               const std::vector<db::DbCall>& calls) {
    aggregator_.RecordStart("api", "GET", route);
    aggregator_.RecordComplete("api", "GET", route, 200, false, start, end);
    db_.OnRequestCalls("api", "GET", route, start, end, calls);
  }

  const v1::RouteStats* Row(const v1::GetTopResponse& top, const std::string& route) {
    for (const auto& r : top.routes())
      if (r.route() == route) return &r;
    return nullptr;
  }

  Aggregator aggregator_;
  db::DbAggregator db_;
  FakeWorkerDirectory workers_;
  PerfdService service_;
};

TEST_F(DbServiceTest, TopCarriesQueriesPerRequestDbTimeAndNPlusOne) {
  Feed();
  v1::GetTopRequest request;
  request.set_service("api");
  v1::GetTopResponse top;
  ASSERT_TRUE(service_.GetTop(nullptr, &request, &top).ok());
  const v1::RouteStats* orders = Row(top, "/orders");
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->db_requests(), 1u);
  EXPECT_EQ(orders->db_calls(), 21u);
  EXPECT_DOUBLE_EQ(orders->queries_per_request(), 21.0);
  EXPECT_DOUBLE_EQ(orders->queries_per_request_p99(), 21.0);
  EXPECT_NEAR(orders->db_seconds_per_request(), 0.022, 1e-9);
  ASSERT_EQ(orders->n_plus_one_size(), 1);
  const v1::NPlusOne& f = orders->n_plus_one(0);
  EXPECT_EQ(f.fingerprint_id(), "abcdef0123456789");
  EXPECT_EQ(f.fingerprint(), "SELECT * FROM items WHERE order_id = $1");
  EXPECT_EQ(f.max_count(), 20u);
  EXPECT_EQ(f.call_site(), kSite);

  const v1::RouteStats* health = Row(top, "/health");
  ASSERT_NE(health, nullptr);
  EXPECT_EQ(health->db_requests(), 1u);  // DB data: zero queries, not blank
  EXPECT_EQ(health->queries_per_request(), 0.0);
  EXPECT_EQ(health->n_plus_one_size(), 0);

  const v1::RouteStats* dash = Row(top, "/dash");
  ASSERT_NE(dash, nullptr);
  EXPECT_EQ(dash->n_plus_one_size(), 0);
  ASSERT_EQ(dash->db_fan_out_size(), 1);
  EXPECT_EQ(dash->db_fan_out(0).mean_count(), 3.0);
  EXPECT_NEAR(dash->db_call_seconds_per_request(), 0.060, 1e-9);
  EXPECT_NEAR(dash->db_seconds_per_request(), 0.022, 1e-9);
}

TEST_F(DbServiceTest, QueriesByTotalTimeWithFindingsAndRouteFilter) {
  Feed();
  db_.OnEncryptedConnection("api", "postgresql");
  v1::GetQueriesRequest request;
  request.set_service("api");
  v1::GetQueriesResponse all;
  ASSERT_TRUE(service_.GetQueries(nullptr, &request, &all).ok());
  EXPECT_EQ(all.window_seconds(), 60u);
  EXPECT_EQ(all.timestamp_unix_nanos(), kWallNow);
  ASSERT_EQ(all.queries_size(), 2);
  EXPECT_EQ(all.queries(0).id(), "0000000000000001");  // 62 ms before the loop's 20 ms
  EXPECT_EQ(all.queries(0).calls(), 4u);
  EXPECT_EQ(all.queries(0).fan_out_size(), 1);
  EXPECT_EQ(all.queries(0).fan_out(0).route(), "GET /dash");
  const v1::QueryStats& loop = all.queries(1);
  EXPECT_EQ(loop.system(), "postgresql");
  EXPECT_EQ(loop.collection(), "items");
  EXPECT_EQ(loop.calls(), 20u);
  EXPECT_NEAR(loop.calls_per_second(), 20.0 / 60, 1e-9);
  EXPECT_EQ(loop.rows(), 20u);
  EXPECT_EQ(loop.routes().at("GET /orders"), 20u);
  EXPECT_EQ(loop.call_sites().at(kSite), 20u);
  ASSERT_EQ(loop.n_plus_one_size(), 1);
  EXPECT_EQ(loop.n_plus_one(0).route(), "GET /orders");
  EXPECT_EQ(all.encrypted_connections().at("postgresql"), 1u);

  request.set_route("/dash");  // template, any method
  v1::GetQueriesResponse dash;
  ASSERT_TRUE(service_.GetQueries(nullptr, &request, &dash).ok());
  ASSERT_EQ(dash.queries_size(), 1);
  EXPECT_EQ(dash.queries(0).id(), "0000000000000001");
  EXPECT_EQ(dash.queries(0).n_plus_one_size(), 0);
  request.set_route("GET /orders");
  v1::GetQueriesResponse orders;
  ASSERT_TRUE(service_.GetQueries(nullptr, &request, &orders).ok());
  EXPECT_EQ(orders.queries_size(), 2);
}

TEST_F(DbServiceTest, ErrorsAndNoDbData) {
  Feed();
  v1::GetQueriesRequest request;
  v1::GetQueriesResponse out;
  EXPECT_EQ(service_.GetQueries(nullptr, &request, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.set_service("nope");
  EXPECT_EQ(service_.GetQueries(nullptr, &request, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  request.set_service("api");
  request.set_window_seconds(601);
  EXPECT_EQ(service_.GetQueries(nullptr, &request, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  PerfdService plain(aggregator_, workers_, 600,
                     ApiClocks{[] { return kNow; }, [] { return kWallNow; }});
  request.set_window_seconds(0);
  EXPECT_EQ(plain.GetQueries(nullptr, &request, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::GetTopRequest top_request;
  top_request.set_service("api");
  v1::GetTopResponse top;
  ASSERT_TRUE(plain.GetTop(nullptr, &top_request, &top).ok());
  for (const auto& r : top.routes()) EXPECT_EQ(r.db_requests(), 0u);
}

TEST(DbConvertTest, UnjoinedCallsGetTheirOwnRowAndIdsAreSixteenHexDigits) {
  EXPECT_EQ(FingerprintIdHex(0), "0000000000000000");
  EXPECT_EQ(FingerprintIdHex(~0ULL), "ffffffffffffffff");
  EXPECT_TRUE(RouteMatches("GET /a", "/a"));
  EXPECT_TRUE(RouteMatches("GET /a", "GET /a"));
  EXPECT_FALSE(RouteMatches("GET /a", "POST /a"));
  EXPECT_FALSE(RouteMatches("GET /ab", "/a"));
  EXPECT_TRUE(RouteMatches("(no request)", "(no request)"));

  db::DbAggregator agg(600);
  agg.OnUnjoinedCall("api", Call(1, kNow - kSec, 3));
  v1::GetTopResponse top;
  AddRouteDbToTop(agg.Snapshot("api", 60, kNow), &top);
  ASSERT_EQ(top.routes_size(), 1);
  EXPECT_EQ(top.routes(0).route(), "(no request)");
  EXPECT_EQ(top.routes(0).method(), "");
  EXPECT_EQ(top.routes(0).db_calls(), 1u);
  EXPECT_EQ(top.routes(0).db_requests(), 0u);
}

}  // namespace
}  // namespace perfd
