// `perfctl top --breakdown`'s table and the ms format, from hand-made
// GetBreakdown answers.
#include "cli/breakdown_table.h"

#include <gtest/gtest.h>

#include "cli/breakdown_parts.h"
#include "tests/unit/cli/breakdown_sample.h"

namespace perfd::cli {
namespace {

// GET /orders: 34 ms, mostly DB; GET /health: 0.39 ms. No timestamp, so
// no clock time in the header.
v1::GetBreakdownResponse TwoRoutes() {
  v1::GetBreakdownResponse b = SampleBreakdown(
      {SampleRoute("GET /orders", 1200, {0.3, 1.2, 0.8, 4.0, 2.0, 1.5, 3.2, 20.0, 0.5, 0.1, 0.4}),
       SampleRoute("GET /health", 30000, {0.05, 0, 0, 0.01, 0, 0.3, 0.02, 0, 0, 0, 0.01})});
  b.set_timestamp_unix_nanos(0);
  return b;
}

std::vector<std::string> Routes(const std::vector<v1::RouteBreakdown>& routes) {
  std::vector<std::string> out;
  for (const auto& r : routes) out.push_back(r.route());
  return out;
}

TEST(FormatMs, ThreeSignificantDigitsWithoutAUnit) {
  EXPECT_EQ(FormatMs(0), "0");
  EXPECT_EQ(FormatMs(-1), "0");
  EXPECT_EQ(FormatMs(1e-9), "<0.01");
  EXPECT_EQ(FormatMs(0.00001), "0.01");
  EXPECT_EQ(FormatMs(0.00085), "0.85");
  EXPECT_EQ(FormatMs(0.0123), "12.3");
  EXPECT_EQ(FormatMs(0.123), "123");
  EXPECT_EQ(FormatMs(1.2), "1200");
  // Rounding that would add a digit moves to the next format.
  EXPECT_EQ(FormatMs(0.0099996), "10.0");
  EXPECT_EQ(FormatMs(0.099996), "100");
}

TEST(BreakdownParts, TheApiOrderWithColumnsAndCategories) {
  std::vector<std::string> parts, columns;
  for (const PartName& p : kParts) {
    parts.push_back(p.part);
    columns.push_back(p.column);
  }
  EXPECT_EQ(parts, (std::vector<std::string>{"queued", "cpu_auth", "cpu_validation",
                                             "cpu_serialization", "cpu_db_driver", "cpu_framework",
                                             "cpu_app", "db_wait", "loop_wait", "gc", "other"}));
  EXPECT_EQ(columns, (std::vector<std::string>{"QUEUED", "AUTH", "VALID", "SERIAL", "DBDRV",
                                               "FRAMEW", "APP", "DB", "LOOP", "GC", "OTHER"}));
  // CPU parts name GetFunctions' categories (daemon/python/categories.h).
  EXPECT_STREQ(FindPartName("cpu_db_driver")->category, "db");
  EXPECT_STREQ(FindPartName("cpu_app")->category, "app");
  EXPECT_EQ(FindPartName("db_wait")->category, nullptr);
  EXPECT_EQ(FindPartName("future_part"), nullptr);
  const v1::RouteBreakdown r = SampleRoute("GET /a", 1, {1, 2});
  EXPECT_DOUBLE_EQ(PartMean(r, "cpu_auth"), 0.002);
  EXPECT_EQ(PartMean(r, "future_part"), 0.0);
}

TEST(RenderBreakdownTable, GoldenLayoutWithTheAllRoutesRowAndNotes) {
  EXPECT_EQ(
      RenderBreakdownTable(TwoRoutes(), {}),
      "service shop   window 60s   requests 31200\n"
      "\n"
      "ROUTE          REQS  QUEUED  AUTH  VALID  SERIAL  DBDRV  FRAMEW   APP    DB  LOOP     "
      "GC  OTHER  TOTAL\n"
      "GET /orders    1200    0.30  1.20   0.80    4.00   2.00    1.50  3.20  20.0  0.50   "
      "0.10   0.40   34.0\n"
      "GET /health   30000    0.05     0      0    0.01      0    0.30  0.02     0     0      "
      "0   0.01   0.39\n"
      "(all routes)  31200    0.06  0.05   0.03    0.16   0.08    0.35  0.14  0.77  0.02  "
      "<0.01   0.03   1.68\n"
      "\n"
      "ms per request, mean over the window; the parts add up to TOTAL.\n"
      "AUTH..APP: Python CPU by category, from samples (each stands for 10.0ms of CPU).\n"
      "LOOP: waiting for the event loop: to read a reply that had arrived, or behind other code "
      "holding it (>= 20.0ms).\n");
}

// The all-routes row weighs each route by its requests: 1200 x 34 ms +
// 30000 x 0.39 ms over 31200 requests.
TEST(RenderBreakdownTable, AllRoutesIsTheRequestWeightedMean) {
  const std::string out = RenderBreakdownTable(TwoRoutes(), {});
  const double total = (1200 * 34.0 + 30000 * 0.39) / 31200;  // 1.683 ms
  EXPECT_EQ(FormatMs(total / 1e3), "1.68");
  EXPECT_NE(out.find("(all routes)  31200"), std::string::npos) << out;
  // One route: no such row.
  v1::GetBreakdownResponse one = TwoRoutes();
  one.mutable_routes()->RemoveLast();
  EXPECT_EQ(RenderBreakdownTable(one, {}).find("(all routes)"), std::string::npos);
}

// Sampling off: the CPU parts are 0 because not measured (their time is in
// OTHER), so their columns are blank. Event-loop tracing off: LOOP still
// holds the waits to read replies (docs/METRICS.md), so it is shown, and a
// note says what it lacks.
TEST(RenderBreakdownTable, SamplingOffBlanksCpuAndLoopTracingOffIsSaid) {
  v1::GetBreakdownResponse b = TwoRoutes();
  b.set_sample_period_seconds(0);
  b.set_blocking_threshold_seconds(0);
  const std::string out = RenderBreakdownTable(b, {});
  EXPECT_NE(out.find("ROUTE          REQS  QUEUED  AUTH  VALID  SERIAL  DBDRV  FRAMEW  APP    DB  "
                     "LOOP     GC  OTHER  TOTAL\n"
                     "GET /orders    1200    0.30                                           20.0  "
                     "0.50   0.10   0.40   34.0\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nAUTH..APP blank: Python sampling is off in this perfd (python.sampling), "
                     "so CPU time is in OTHER.\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nLOOP: only waits to read replies that had arrived: event-loop tracing is "
                     "off in this perfd (event_loop.enabled), so waiting behind other code's "
                     "blocking is in OTHER.\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("from samples"), std::string::npos) << out;
  EXPECT_EQ(out.find("(>= "), std::string::npos) << out;
  // One of them off: only its note.
  b.set_sample_period_seconds(0.01);
  const std::string loop_off = RenderBreakdownTable(b, {});
  EXPECT_EQ(loop_off.find("AUTH..APP blank"), std::string::npos) << loop_off;
  EXPECT_NE(loop_off.find("LOOP: only waits"), std::string::npos) << loop_off;
  EXPECT_NE(loop_off.find(" 1.20 "), std::string::npos) << loop_off;
}

TEST(RenderBreakdownTable, NoRoutesSaysSo) {
  v1::GetBreakdownResponse b = SampleBreakdown({});
  b.set_timestamp_unix_nanos(0);
  const std::string out = RenderBreakdownTable(b, {});
  EXPECT_EQ(out.substr(0, out.find("\n\nms per")),
            "service shop   window 60s   requests 0\n\n"
            "ROUTE  REQS  QUEUED  AUTH  VALID  SERIAL  DBDRV  FRAMEW  APP  DB  LOOP  GC  OTHER  "
            "TOTAL\n"
            "(no requests in the last 60s)");
}

TEST(RenderBreakdownTable, ZeroLatencyRouteShowsZeros) {
  v1::GetBreakdownResponse b = SampleBreakdown({SampleRoute("GET /noop", 5, {})});
  b.set_timestamp_unix_nanos(0);
  EXPECT_NE(RenderBreakdownTable(b, {}).find(
                "GET /noop     5       0     0      0       0      0       0    0   0     0   0  "
                "    0      0\n"),
            std::string::npos)
      << RenderBreakdownTable(b, {});
}

TEST(RenderBreakdownTable, LimitCutsRoutesButNotTheAllRoutesRow) {
  BreakdownTableOptions options;
  options.limit = 1;
  const std::string out = RenderBreakdownTable(TwoRoutes(), options);
  EXPECT_EQ(out.find("GET /health"), std::string::npos) << out;
  EXPECT_NE(out.find("(all routes)  31200"), std::string::npos) << out;
  EXPECT_NE(out.find("\n(1 more routes; --limit 0 shows all)\n"), std::string::npos) << out;
}

TEST(RenderBreakdownTable, RouteNamesAreEscaped) {
  v1::GetBreakdownResponse b = SampleBreakdown({SampleRoute("GET /\x1b[2Jx", 1, {1})});
  const std::string out = RenderBreakdownTable(b, {});
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_NE(out.find("GET /\\x1b[2Jx"), std::string::npos) << out;
}

TEST(RenderBreakdownTable, SeveralNodesAddNodesColumnPartialLineAndUndercountNotes) {
  const v1::GetBreakdownResponse b = TwoRoutes();
  const std::map<std::string, std::vector<std::string>> route_nodes = {
      {"GET /orders", {"a:1", "b:1"}}, {"GET /health", {"a:1"}}};
  BreakdownTableOptions options;
  options.route_nodes = &route_nodes;
  options.nodes = 2;
  options.failed_nodes = {"c:1"};
  options.unsampled_nodes = {"b:1"};
  options.untraced_loop_nodes = {"a:1", "b:1"};
  const std::string out = RenderBreakdownTable(b, options);
  EXPECT_EQ(out.find("service shop   window 60s   nodes 2   requests 31200\n"
                     "PARTIAL: no answer from c:1 (2 of 3 nodes answered; their numbers are left "
                     "out)\n\n"
                     "ROUTE         NODES   REQS  QUEUED"),
            0u)
      << out;
  EXPECT_NE(out.find("GET /orders       2   1200"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /health       1  30000"), std::string::npos) << out;
  EXPECT_NE(out.find("(all routes)      2  31200"), std::string::npos) << out;
  EXPECT_NE(out.find("AUTH..APP undercount: Python sampling is off on b:1; CPU time there is in "
                     "OTHER.\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("LOOP undercounts: event-loop tracing is off on a:1, b:1; waiting behind "
                     "blocking there is in OTHER.\n"),
            std::string::npos)
      << out;
}

TEST(SortBreakdownRoutes, ByTimeRequestsLatencyPartOrName) {
  v1::GetBreakdownResponse b = SampleBreakdown({
      SampleRoute("GET /a", 100, {1, 0, 0, 0, 0, 0, 0, 10}),  // 11 ms, 1.1 s in all
      SampleRoute("GET /b", 1000, {0, 0, 0, 0, 0, 0, 2}),     // 2 ms, 2 s
      SampleRoute("GET /c", 10, {5}),                         // 5 ms, 0.05 s
  });
  using V = std::vector<std::string>;
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "time")), (V{"GET /b", "GET /a", "GET /c"}));
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "reqs")), (V{"GET /b", "GET /a", "GET /c"}));
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "total")), (V{"GET /a", "GET /c", "GET /b"}));
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "queued")), (V{"GET /c", "GET /a", "GET /b"}));
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "db")), (V{"GET /a", "GET /b", "GET /c"}));
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "app")), (V{"GET /b", "GET /a", "GET /c"}));
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "route")), (V{"GET /a", "GET /b", "GET /c"}));
  // Ties by route name.
  EXPECT_EQ(Routes(SortBreakdownRoutes(b, "gc")), (V{"GET /a", "GET /b", "GET /c"}));
  // The table sorts as asked.
  BreakdownTableOptions options;
  options.sort = "total";
  const std::string out = RenderBreakdownTable(b, options);
  EXPECT_LT(out.find("GET /a"), out.find("GET /c")) << out;
  EXPECT_LT(out.find("GET /c"), out.find("GET /b")) << out;
}

TEST(BreakdownSortKeys, NamesAreTheColumnsLowercasedPlusFour) {
  EXPECT_EQ(
      BreakdownSortKeyNames(),
      (std::vector<std::string>{"time", "reqs", "total", "route", "queued", "auth", "valid",
                                "serial", "dbdrv", "framew", "app", "db", "loop", "gc", "other"}));
  EXPECT_TRUE(IsBreakdownSortKey("dbdrv"));
  EXPECT_FALSE(IsBreakdownSortKey("rps"));
  EXPECT_FALSE(IsBreakdownSortKey("DB"));
}

}  // namespace
}  // namespace perfd::cli
