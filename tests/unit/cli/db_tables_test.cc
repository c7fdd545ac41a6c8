// `perfctl queries` and the DB columns of `perfctl top`: layout, blanks
// without DB data, the N+1 flag and footer lines, fingerprints on one line
// cut to the terminal width, hostile text escaped, protobuf JSON.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "cli/db_text.h"
#include "cli/json_output.h"
#include "cli/queries_table.h"
#include "cli/text_table.h"
#include "cli/top_table.h"

namespace perfd::cli {
namespace {

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(out.substr(start, end - start));
  return lines;
}

v1::GetQueriesResponse SampleQueries() {
  v1::GetQueriesResponse q;
  q.set_service("shop");
  q.set_window_seconds(60);
  (*q.mutable_encrypted_connections())["postgresql"] = 2;
  v1::QueryStats* a = q.add_queries();
  a->set_system("postgresql");
  a->set_fingerprint("SELECT *\n  FROM items\n  WHERE order_id = $1");
  a->set_id("abcdef0123456789");
  a->set_calls_per_second(20);
  a->set_p50_seconds(0.0012);
  a->set_p99_seconds(0.0051);
  a->set_rows(2400);
  a->set_rows_known_calls(1200);
  a->set_total_seconds(1.5);
  (*a->mutable_routes())["GET /orders"] = 1200;
  (*a->mutable_routes())["GET /admin"] = 3;
  (*a->mutable_call_sites())["shop.views.list (views.py:42)"] = 1200;
  v1::NPlusOne* f = a->add_n_plus_one();
  f->set_route("GET /orders");
  f->set_mean_count(20);
  f->set_max_count(20);
  f->set_requests(60);
  f->set_call_site("shop.views.list (views.py:42)");
  v1::QueryStats* b = q.add_queries();
  b->set_system("redis");
  b->set_fingerprint("GET");
  b->set_id("0000000000000002");
  b->set_calls_per_second(0.5);
  b->set_p50_seconds(0.0002);
  b->set_p99_seconds(0.0004);
  b->set_errors(1);
  b->set_total_seconds(0.006);
  (*b->mutable_routes())["(no request)"] = 30;
  v1::DbFanOut* g = b->add_fan_out();
  g->set_route("GET /dash");
  g->set_mean_count(3);
  g->set_requests(4);
  return q;
}

TEST(QueriesTableTest, GoldenLayout) {
  const std::vector<std::string> lines = Lines(RenderQueriesTable(SampleQueries(), {}));
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0], "service shop   window 60s   route all   encrypted postgresql 2");
  EXPECT_EQ(lines[2],
            "SYSTEM      CALLS/S     P50     P99  ROWS  ERR   TOTAL  ROUTES          CALL SITE    "
            "                  FINGERPRINT");
  EXPECT_EQ(
      lines[3],
      "postgresql     20.0  1.20ms  5.10ms  2400    0   1.50s  GET /orders +1  shop.views.list "
      "(views.py:42)  SELECT * FROM items WHERE order_id = $1");
  EXPECT_EQ(lines[4],
            "redis          0.50   200µs   400µs     -    1  6.00ms  (no request)    -            "
            "                  GET");
  EXPECT_EQ(
      lines[6],
      "N+1  GET /orders  20x/request (max 20, 60 requests)  at shop.views.list (views.py:42)  "
      "SELECT * FROM items WHERE order_id = $1  [abcdef0123456789]");
  EXPECT_EQ(lines[7],
            "fan-out  GET /dash  3 concurrent/request (4 requests), not N+1  GET  "
            "[0000000000000002]");
}

TEST(QueriesTableTest, FingerprintIsCutToTheTerminalAndHostileTextEscaped) {
  v1::GetQueriesResponse q = SampleQueries();
  q.mutable_queries(0)->set_fingerprint(std::string(500, 'x'));
  q.mutable_queries(1)->set_fingerprint("GET\x1b]0;pwned\x07");
  QueriesTableOptions options;
  options.width = 140;
  std::vector<std::string> lines = Lines(RenderQueriesTable(q, options));
  EXPECT_EQ(DisplayWidth(lines[3]), 140u) << lines[3];
  EXPECT_NE(lines[3].find("x…"), std::string::npos);
  EXPECT_EQ(lines[4].find('\x1b'), std::string::npos);
  EXPECT_NE(lines[4].find("\\x1b"), std::string::npos);
  // A narrow terminal still shows 20 code points of the fingerprint.
  options.width = 60;
  lines = Lines(RenderQueriesTable(q, options));
  EXPECT_NE(lines[3].find("  " + std::string(19, 'x') + "…"), std::string::npos) << lines[3];
}

TEST(QueriesTableTest, EmptyAndLimit) {
  v1::GetQueriesResponse q;
  q.set_service("shop");
  q.set_window_seconds(30);
  EXPECT_NE(RenderQueriesTable(q, {}).find("(no database calls in the last 30s)"),
            std::string::npos);
  QueriesTableOptions options;
  options.limit = 1;
  const std::string out = RenderQueriesTable(SampleQueries(), options);
  EXPECT_NE(out.find("(1 more fingerprints; --limit 0 shows all)"), std::string::npos);
  EXPECT_NE(out.find("fan-out"), std::string::npos);  // findings whatever the limit
}

TEST(QueriesTableTest, JsonIsProtobufJson) {
  const std::string json = ToJson(SampleQueries());
  EXPECT_NE(json.find("\"encryptedConnections\":{\"postgresql\":\"2\"}"), std::string::npos);
  EXPECT_NE(json.find("\"nPlusOne\":[{"), std::string::npos);
  EXPECT_NE(json.find("\"callSite\":\"shop.views.list (views.py:42)\""), std::string::npos);
  EXPECT_NE(json.find("\"id\":\"abcdef0123456789\""), std::string::npos);
}

TEST(DbTextTest, OneLineAndCounts) {
  EXPECT_EQ(OneLine("  SELECT 1\n\tFROM t  ", 0), "SELECT 1 FROM t");
  EXPECT_EQ(OneLine("abcdef", 6), "abcdef");
  EXPECT_EQ(OneLine("abcdefg", 6), "abcde…");
  EXPECT_EQ(OneLine("ééééééé", 3), "éé…");
  EXPECT_EQ(FormatCount(21), "21");
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(3.25), "3.3");
}

class TopDbColumnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(TopDbColumnsTest, DbColumnsNPlusOneFlagAndFooter) {
  v1::GetTopResponse top;
  top.set_service("shop");
  top.set_window_seconds(60);
  v1::RouteStats* orders = top.add_routes();
  orders->set_method("GET");
  orders->set_route("/orders");
  orders->set_requests(60);
  orders->set_requests_per_second(1);
  orders->set_p50_seconds(0.05);
  orders->set_db_requests(60);
  orders->set_db_calls(1260);
  orders->set_db_seconds_per_request(0.022);
  orders->set_queries_per_request(21);
  v1::NPlusOne* f = orders->add_n_plus_one();
  f->set_fingerprint("SELECT * FROM items WHERE order_id = $1");
  f->set_mean_count(20);
  f->set_call_site("shop.views.list (views.py:42)");
  v1::RouteStats* health = top.add_routes();
  health->set_method("GET");
  health->set_route("/health");
  health->set_requests(30);
  health->set_requests_per_second(0.5);
  v1::RouteStats* cpu_only = top.add_routes();
  cpu_only->set_route("(unattributed)");

  const std::vector<std::string> lines = Lines(RenderTopTable(top, {}));
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[2],
            "ROUTE             REQ/S  ERR%     P50  P90  P99  MAX  QUEUE  INFLIGHT  DB/REQ  Q/REQ");
  EXPECT_EQ(lines[3],
            "GET /orders  N+1    1.0  0.0%  50.0ms    0    0    0      0         0  22.0ms     21");
  EXPECT_EQ(lines[4], "GET /health        0.50  0.0%       0    0    0    0      0         0");
  EXPECT_EQ(lines[7],
            "N+1  GET /orders  20x/request  at shop.views.list (views.py:42)  SELECT * FROM items "
            "WHERE order_id = $1");
}

TEST_F(TopDbColumnsTest, NoDbDataNoDbColumns) {
  v1::GetTopResponse top;
  top.set_service("shop");
  top.set_window_seconds(60);
  v1::RouteStats* r = top.add_routes();
  r->set_method("GET");
  r->set_route("/a");
  r->set_requests(1);
  EXPECT_EQ(RenderTopTable(top, {}).find("Q/REQ"), std::string::npos);
}

}  // namespace
}  // namespace perfd::cli
