#include "cli/top_table.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <map>

#include "cli/text_table.h"

namespace perfd::cli {
namespace {

TEST(RenderLoopLine, BusyShareOfTheLoopsBlockingRateAndWorst) {
  v1::GetTopResponse top;
  top.set_window_seconds(60);
  EXPECT_EQ(RenderLoopLine(top, 2), "");  // no loop figures: no line
  v1::EventLoopStats* l = top.mutable_loop();
  l->set_traced(true);
  l->set_busy_seconds(30);  // of 2 loops x 60 s
  l->set_blocking_events(3);
  l->set_worst_blocking_seconds(0.152);
  l->set_blocking_threshold_seconds(0.020);
  const std::string line = RenderLoopLine(top, 2);
  EXPECT_NE(line.find("busy 25% of 2 loops"), std::string::npos) << line;
  EXPECT_NE(line.find("blocking 3.0/min (>= 20.0ms)"), std::string::npos) << line;
  EXPECT_NE(line.find("worst 152ms"), std::string::npos) << line;
  // Workers unknown: the share of one loop, said so.
  EXPECT_NE(RenderLoopLine(top, -1).find("of one loop (summed over workers)"), std::string::npos);
  // No blocking event: no worst.
  l->set_blocking_events(0);
  EXPECT_EQ(RenderLoopLine(top, 2).find("worst"), std::string::npos);
  // The table's header carries it.
  EXPECT_NE(RenderTopTable(top, TopTableOptions{}).find("\nloop    busy"), std::string::npos);
}

TEST(RenderLoopLine, NamesTheTopBlockerWithItsRouteKindAndVictims) {
  v1::GetTopResponse top;
  top.set_window_seconds(60);
  v1::EventLoopStats* l = top.mutable_loop();
  l->set_traced(true);
  l->set_busy_seconds(6);
  l->set_blocking_events(12);
  l->set_worst_blocking_seconds(0.0532);
  l->set_blocking_threshold_seconds(0.020);
  v1::BlockingSite* s = l->mutable_top_blocking();
  s->set_route("GET /block/sleep");
  s->set_kind("offcpu");
  s->set_site("block_sleep (/app/\x1b[31mloop_app.py:27)");
  s->set_events(12);
  s->set_total_seconds(0.634);
  s->set_blocked_sleep_seconds(0.601);
  s->set_oncpu_seconds(0.033);
  s->set_victim_wait_seconds(3.419);
  const std::string out = RenderLoopLine(top, 1);
  EXPECT_EQ(out.substr(out.find('\n') + 1),
            "        top blocker block_sleep (/app/\\x1b[31mloop_app.py:27)  GET /block/sleep  "
            "offcpu:sleep  12 events, 634ms; others waited 3.42s  (perfctl blocking)\n")
      << out;
  // Without a stack the site says so; without events there is no line.
  s->set_site("");
  s->set_events(1);
  EXPECT_NE(RenderLoopLine(top, 1).find("top blocker (no stack)  GET /block/sleep"),
            std::string::npos);
  s->set_events(0);
  EXPECT_EQ(RenderLoopLine(top, 1).find("top blocker"), std::string::npos);
}

v1::GetTopResponse GcTop(uint32_t attached, uint32_t no_usdt, uint32_t failed, uint32_t unsampled) {
  v1::GetTopResponse top;
  top.set_window_seconds(60);
  v1::GcStats* gc = top.mutable_gc();
  gc->set_workers_attached(attached);
  gc->set_workers_no_usdt(no_usdt);
  gc->set_workers_failed(failed);
  gc->set_workers_unsampled(unsampled);
  return top;
}

void AddGeneration(v1::GetTopResponse& top, const std::string& name, uint64_t pauses, double total,
                   double max) {
  v1::GcStats* gc = top.mutable_gc();
  gc->set_pauses(gc->pauses() + pauses);
  gc->set_total_seconds(gc->total_seconds() + total);
  gc->set_max_seconds(std::max(gc->max_seconds(), max));
  v1::GcGeneration* g = gc->add_generations();
  g->set_generation(name);
  g->set_pauses(pauses);
  g->set_total_seconds(total);
  g->set_max_seconds(max);
}

TEST(RenderGcLine, PausesTotalShareOfWallMaxAndGenerations) {
  v1::GetTopResponse top = GcTop(4, 0, 0, 0);
  AddGeneration(top, "0", 10, 0.0024, 0.0004);
  AddGeneration(top, "1", 2, 0.0010, 0.0009);
  // 3.4 ms over 4 workers x 60 s of wall time: 0.0014%.
  EXPECT_EQ(RenderGcLine(top),
            "gc      12 pauses, 3.40ms total (<0.01% of wall), max 900µs; gen0 10, gen1 2\n");
  AddGeneration(top, "2", 1, 0.2966, 0.2966);
  AddGeneration(top, "_OTHER", 1, 0.001, 0.001);
  EXPECT_EQ(RenderGcLine(top),
            "gc      14 pauses, 301ms total (0.13% of wall), max 297ms; gen0 10, gen1 2, gen2 1, "
            "other 1\n");
  // The line sits under the header (and its loop line).
  top.mutable_loop()->set_traced(true);
  const std::string table = RenderTopTable(top, TopTableOptions{});
  EXPECT_NE(table.find("\nloop    busy"), std::string::npos) << table;
  EXPECT_LT(table.find("\nloop    "), table.find("\ngc      14 pauses"));
}

TEST(RenderGcLine, MeasuredWorkersWithoutPausesAreZero) {
  EXPECT_EQ(RenderGcLine(GcTop(2, 0, 0, 0)), "gc      0 pauses\n");
}

TEST(RenderGcLine, WorkersNotMeasuredAreNamedBesideThePauses) {
  v1::GetTopResponse top = GcTop(1, 2, 0, 1);
  AddGeneration(top, "2", 1, 0.020, 0.020);
  EXPECT_EQ(RenderGcLine(top),
            "gc      1 pause, 20.0ms total (0.03% of wall), max 20.0ms; gen2 1; not measured: the "
            "interpreter has no gc__start/gc__done USDT probes (2 workers); not sampled (1 "
            "worker)\n");
}

TEST(RenderGcLine, NoWorkerMeasuredIsUnknownNotZero) {
  EXPECT_EQ(RenderGcLine(GcTop(0, 3, 0, 0)),
            "gc      unknown: the interpreter has no gc__start/gc__done USDT probes (3 workers)\n");
  EXPECT_EQ(RenderGcLine(GcTop(0, 0, 0, 2)), "gc      unknown: not sampled (2 workers)\n");
  EXPECT_EQ(RenderGcLine(GcTop(0, 0, 1, 0)),
            "gc      unknown: the GC probes failed to attach (1 worker; see perfd's log)\n");
  EXPECT_NE(RenderTopTable(GcTop(0, 1, 0, 0), TopTableOptions{}).find("\ngc      unknown: "),
            std::string::npos);
}

TEST(RenderGcLine, NothingWithoutWorkersOrWithoutGcFigures) {
  EXPECT_EQ(RenderGcLine(GcTop(0, 0, 0, 0)), "");
  v1::GetTopResponse older;  // a perfd without GC figures
  older.set_window_seconds(60);
  EXPECT_EQ(RenderGcLine(older), "");
  EXPECT_EQ(RenderTopTable(older, TopTableOptions{}).find("gc "), std::string::npos);
  // Workers gone, their pauses still in the window: shown, with no share of wall.
  v1::GetTopResponse gone = GcTop(0, 0, 0, 0);
  AddGeneration(gone, "0", 3, 0.003, 0.0015);
  EXPECT_EQ(RenderGcLine(gone), "gc      3 pauses, 3.00ms total, max 1.50ms; gen0 3\n");
}

TEST(FormatLatency, ThreeSignificantDigitsInTheRightUnit) {
  EXPECT_EQ(FormatLatency(0), "0");
  EXPECT_EQ(FormatLatency(850e-6), "850µs");
  EXPECT_EQ(FormatLatency(0.0123), "12.3ms");
  EXPECT_EQ(FormatLatency(1.2), "1.20s");
  EXPECT_EQ(FormatLatency(1e-6), "1µs");
  EXPECT_EQ(FormatLatency(0.4e-6), "<1µs");
  EXPECT_EQ(FormatLatency(42.4e-6), "42µs");
  EXPECT_EQ(FormatLatency(0.00123), "1.23ms");
  EXPECT_EQ(FormatLatency(0.123), "123ms");
  EXPECT_EQ(FormatLatency(12.34), "12.3s");
  EXPECT_EQ(FormatLatency(123.4), "123s");
  EXPECT_EQ(FormatLatency(5000), "5000s");
}

TEST(FormatLatency, RoundingCarriesIntoTheNextUnitOrDigit) {
  EXPECT_EQ(FormatLatency(999.6e-6), "1.00ms");
  EXPECT_EQ(FormatLatency(999.4e-6), "999µs");
  EXPECT_EQ(FormatLatency(0.0099996), "10.0ms");
  EXPECT_EQ(FormatLatency(0.099996), "100ms");
  EXPECT_EQ(FormatLatency(0.9996), "1.00s");
  EXPECT_EQ(FormatLatency(9.999), "10.0s");
}

TEST(FormatRateAndErrors, Shapes) {
  EXPECT_EQ(FormatRate(0), "0");
  EXPECT_EQ(FormatRate(0.05), "0.05");
  EXPECT_EQ(FormatRate(12.34), "12.3");
  EXPECT_EQ(FormatRate(1234.4), "1234");
  EXPECT_EQ(FormatErrorPercent(0), "0.0%");
  EXPECT_EQ(FormatErrorPercent(0.0001), "<0.1%");  // 1 in 10000 is not zero
  EXPECT_EQ(FormatErrorPercent(0.07), "7.0%");
  EXPECT_EQ(FormatErrorPercent(1), "100.0%");
}

TEST(SortKeys, ParseEveryNameAndRejectOthers) {
  for (const auto& name : SortKeyNames()) EXPECT_TRUE(ParseSortKey(name).has_value()) << name;
  EXPECT_EQ(SortKeyNames().size(), 11u);
  EXPECT_EQ(ParseSortKey("queue"), SortKey::kQueue);
  EXPECT_EQ(ParseSortKey("cpu"), SortKey::kCpu);
  EXPECT_EQ(ParseSortKey("cpureq"), SortKey::kCpuPerReq);
  EXPECT_EQ(ParseSortKey("p99"), SortKey::kP99);
  EXPECT_FALSE(ParseSortKey("P99").has_value());
  EXPECT_FALSE(ParseSortKey("latency").has_value());
}

v1::RouteStats Route(const std::string& method, const std::string& route, double rps, double p50,
                     double p90, double p99, double max, double error_ratio, uint64_t errors,
                     uint32_t in_flight) {
  v1::RouteStats r;
  r.set_method(method);
  r.set_route(route);
  r.set_requests_per_second(rps);
  r.set_requests(static_cast<uint64_t>(rps * 60));
  r.set_p50_seconds(p50);
  r.set_p90_seconds(p90);
  r.set_p99_seconds(p99);
  r.set_max_seconds(max);
  r.set_error_ratio(error_ratio);
  r.set_errors(errors);
  r.set_in_flight(in_flight);
  return r;
}

v1::GetTopResponse Sample() {
  v1::GetTopResponse top;
  top.set_service("shop");
  top.set_window_seconds(60);
  // 2023-11-14 22:13:20 UTC
  top.set_timestamp_unix_nanos(1700000000LL * 1000000000LL);
  *top.add_routes() =
      Route("GET", "/users/{user_id}", 120.4, 850e-6, 0.0123, 0.0456, 0.3, 0.001, 7, 2);
  *top.add_routes() = Route("POST", "/orders", 0.25, 0.045, 0.2, 1.2, 2.5, 0.05, 10, 0);
  *top.add_routes() = Route("GET", "/health", 10, 120e-6, 200e-6, 300e-6, 0.001, 0, 0, 5);
  // Queue p50: part of the P50 spent waiting in the socket.
  top.mutable_routes(0)->set_queue_p50_seconds(300e-6);
  top.mutable_routes(1)->set_queue_p50_seconds(0.03);
  top.mutable_routes(2)->set_queue_p50_seconds(0);
  return top;
}

std::vector<std::string> Labels(const std::vector<v1::RouteStats>& routes) {
  std::vector<std::string> labels;
  for (const auto& r : routes) labels.push_back(RouteLabel(r));
  return labels;
}

// Several nodes: a NODES column, "nodes N" in the header, a PARTIAL line
// naming the nodes that did not answer, and --by-node rows under each route.
TEST(RenderTopTable, NodesColumnPartialLineAndByNodeRows) {
  v1::GetTopResponse a = Sample(), b = Sample();
  b.mutable_routes()->DeleteSubrange(1, 2);  // b has GET /users/{user_id} only
  const std::vector<NodeTop> nodes = {{"10.0.0.5:50051", a}, {"10.0.0.7:50051", b}};
  const MergedTop merged = MergeTop(nodes);
  TopTableOptions options;
  options.route_nodes = &merged.route_nodes;
  options.nodes = 2;
  options.failed_nodes = {"10.0.0.9:50051"};
  std::string text = RenderTopTable(merged.top, options);
  EXPECT_NE(text.find("   nodes 2   total "), std::string::npos) << text;
  EXPECT_NE(text.find("\nPARTIAL: no answer from 10.0.0.9:50051 (2 of 3 nodes answered; their "
                      "numbers are left out)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ROUTE                 NODES  REQ/S"), std::string::npos) << text;
  EXPECT_NE(text.find("GET /users/{user_id}      2    241"), std::string::npos) << text;
  EXPECT_NE(text.find("POST /orders              1   0.25"), std::string::npos) << text;
  EXPECT_EQ(text.find("@ "), std::string::npos) << text;

  options.by_node = &nodes;
  options.failed_nodes.clear();
  text = RenderTopTable(merged.top, options);
  EXPECT_EQ(text.find("PARTIAL"), std::string::npos) << text;
  const size_t users = text.find("GET /users/{user_id}      2    241");
  const size_t first = text.find("  @ 10.0.0.5:50051        1    120");
  const size_t second = text.find("  @ 10.0.0.7:50051        1    120");
  const size_t health = text.find("GET /health ");
  ASSERT_NE(users, std::string::npos) << text;
  ASSERT_NE(first, std::string::npos) << text;
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_LT(users, first);
  EXPECT_LT(first, second);
  EXPECT_LT(second, health) << text;
}

TEST(SortRoutes, EachKeyDescendingRouteAscending) {
  const auto top = Sample();
  using L = std::vector<std::string>;
  const L users_health_orders = {"GET /users/{user_id}", "GET /health", "POST /orders"};
  const L orders_users_health = {"POST /orders", "GET /users/{user_id}", "GET /health"};
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kRps)), users_health_orders);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kP50)), orders_users_health);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kP90)), orders_users_health);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kP99)), orders_users_health);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kMax)), orders_users_health);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kErrors)), orders_users_health);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kQueue)), orders_users_health);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kInflight)),
            L({"GET /health", "GET /users/{user_id}", "POST /orders"}));
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kRoute)),
            L({"GET /health", "POST /orders", "GET /users/{user_id}"}));
}

TEST(SortRoutes, TiesBreakByRouteThenMethod) {
  v1::GetTopResponse top;
  *top.add_routes() = Route("POST", "/b", 1, 0, 0, 0, 0, 0.5, 1, 0);
  *top.add_routes() = Route("GET", "/b", 1, 0, 0, 0, 0, 0.5, 3, 0);
  *top.add_routes() = Route("GET", "/a", 1, 0, 0, 0, 0, 0.5, 1, 0);
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kRps)),
            (std::vector<std::string>{"GET /a", "GET /b", "POST /b"}));
  // Same error ratio: more errors first.
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kErrors)),
            (std::vector<std::string>{"GET /b", "GET /a", "POST /b"}));
}

class RenderTopTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = getenv("TZ");
    saved_tz_ = tz ? tz : "";
    had_tz_ = tz != nullptr;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (had_tz_) {
      setenv("TZ", saved_tz_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  std::string saved_tz_;
  bool had_tz_ = false;
};

TEST_F(RenderTopTableTest, GoldenLayout) {
  TopTableOptions options;
  options.workers = 4;
  const std::string out = RenderTopTable(Sample(), options);
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(out.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 6u) << out;
  EXPECT_EQ(lines[0], "service shop   window 60s   workers 4   total 131 req/s   at 22:13:20");
  EXPECT_EQ(lines[1], "");
  EXPECT_EQ(lines[2],
            "ROUTE                 REQ/S  ERR%     P50     P90     P99     MAX   QUEUE  INFLIGHT");
  EXPECT_EQ(lines[3],
            "GET /users/{user_id}    120  0.1%   850µs  12.3ms  45.6ms   300ms   300µs         2");
  EXPECT_EQ(lines[4],
            "GET /health            10.0  0.0%   120µs   200µs   300µs  1.00ms       0         5");
  EXPECT_EQ(lines[5],
            "POST /orders           0.25  5.0%  45.0ms   200ms   1.20s   2.50s  30.0ms         0");
  // Every row has the same display width: right-aligned columns end together.
  for (size_t i = 3; i < lines.size(); ++i) {
    EXPECT_EQ(DisplayWidth(lines[i]), DisplayWidth(lines[2])) << lines[i];
  }
}

TEST_F(RenderTopTableTest, HostileRouteNamesCannotEmitEscapeSequences) {
  v1::GetTopResponse top;
  top.set_service("shop\x1b[2J");
  top.set_window_seconds(60);
  *top.add_routes() =
      Route("GET", "/a\x1b[2J\x1b[H\x1b]0;owned\x07", 1, 1e-3, 1e-3, 1e-3, 1e-3, 0, 0, 0);
  *top.add_routes() =
      Route("GE\nT", "/caf\xc3\xa9\xe2\x80\xae\xc0", 0.5, 1e-3, 1e-3, 1e-3, 1e-3, 0, 0, 0);
  const std::string out = RenderTopTable(top, {});
  for (char c : out) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 || c == '\n') << "control byte " << int(u) << " in:\n" << out;
  }
  EXPECT_NE(out.find("service shop\\x1b[2J   window 60s"), std::string::npos) << out;
  EXPECT_NE(out.find("\nGET /a\\x1b[2J\\x1b[H\\x1b]0;owned\\x07  "), std::string::npos) << out;
  // Valid printable UTF-8 stays; the bidi override and the invalid byte do not.
  EXPECT_NE(out.find("\nGE\\x0aT /caf\xc3\xa9\\u202e\\xc0  "), std::string::npos) << out;
}

TEST_F(RenderTopTableTest, LimitEmptyAndInFlightOnly) {
  TopTableOptions options;
  options.limit = 1;
  options.sort = SortKey::kP99;
  std::string out = RenderTopTable(Sample(), options);
  EXPECT_NE(out.find("POST /orders"), std::string::npos);
  EXPECT_EQ(out.find("GET /health"), std::string::npos);
  EXPECT_NE(out.find("(2 more routes; --limit 0 shows all)\n"), std::string::npos);
  EXPECT_EQ(out.find("workers"), std::string::npos);  // unknown count is not shown

  v1::GetTopResponse empty;
  empty.set_service("shop");
  empty.set_window_seconds(300);
  out = RenderTopTable(empty, {});
  EXPECT_NE(out.find("total 0 req/s"), std::string::npos) << out;
  EXPECT_NE(out.find("(no requests in the last 300s)\n"), std::string::npos) << out;

  v1::GetTopResponse waiting;
  waiting.set_service("shop");
  waiting.set_window_seconds(60);
  v1::RouteStats* r = waiting.add_routes();
  r->set_method("POST");
  r->set_route("/slow");
  r->set_in_flight(3);
  out = RenderTopTable(waiting, {});
  EXPECT_NE(out.find("POST /slow      0     -    -    -    -    -      -         3\n"),
            std::string::npos)
      << out;
}

TEST(FormatShare, WholePercentsNeverZeroForNonZero) {
  EXPECT_EQ(FormatShare(0, 0), "-");
  EXPECT_EQ(FormatShare(1, 0), "-");
  EXPECT_EQ(FormatShare(0, 2), "0%");
  EXPECT_EQ(FormatShare(0.001, 2), "<1%");
  EXPECT_EQ(FormatShare(0.011, 2), "1%");
  EXPECT_EQ(FormatShare(0.3, 60), "1%");    // exactly 0.5%: half rounds up, never "0%"
  EXPECT_EQ(FormatShare(1.5, 60), "3%");    // 2.5%
  EXPECT_EQ(FormatShare(0.29, 60), "<1%");  // 0.48%
  EXPECT_EQ(FormatShare(1, 2), "50%");
  EXPECT_EQ(FormatShare(2, 2), "100%");
  EXPECT_EQ(FormatShare(5, 2), "250%");  // several cores
}

void SetCpu(v1::RouteStats* r, double seconds, std::map<std::string, double> by_category) {
  r->set_cpu_seconds(seconds);
  r->set_cpu_seconds_per_request(r->requests() ? seconds / static_cast<double>(r->requests()) : 0);
  for (const char* c : {"auth", "validation", "serialization", "db", "framework", "app"}) {
    (*r->mutable_cpu_seconds_by_category())[c] = by_category[c];
  }
}

// Sample() with Python CPU: 7224 users requests burn 36.12 s (5 ms each),
// 15 orders 1.8 s (120 ms each), health none, plus the "(no request)" row.
v1::GetTopResponse SampleWithCpu() {
  v1::GetTopResponse top = Sample();
  top.set_sample_period_seconds(0.01);
  top.set_cpu_exact_share(0.975);
  SetCpu(top.mutable_routes(0), 36.12,
         {{"auth", 3.612},
          {"serialization", 18.06},
          {"db", 0.03612},
          {"framework", 7.224},
          {"app", 7.18788}});
  SetCpu(top.mutable_routes(1), 1.8, {{"app", 1.8}});
  v1::RouteStats* none = top.add_routes();
  none->set_route("(no request)");
  SetCpu(none, 0.6, {{"framework", 0.6}});
  return top;
}

TEST_F(RenderTopTableTest, CpuColumnsWhenSamplingIsOn) {
  const std::string out = RenderTopTable(SampleWithCpu(), {});
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(out.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 7u) << out;
  // (36.12 + 1.8 + 0.6) s over 60 s = 64% of one core.
  EXPECT_EQ(lines[0],
            "service shop   window 60s   total 131 req/s   cpu 64% of a core   exact 98%   at "
            "22:13:20");
  EXPECT_EQ(lines[2],
            "ROUTE                 REQ/S  ERR%     P50     P90     P99     MAX   QUEUE  INFLIGHT  "
            "CPU%  CPU/REQ  AUTH%  VALID%  SER%  DB%   FW%  APP%");
  EXPECT_EQ(lines[3],
            "GET /users/{user_id}    120  0.1%   850µs  12.3ms  45.6ms   300ms   300µs         2  "
            " 60%   5.00ms    10%      0%   50%  <1%   20%   20%");
  // No CPU: the split is "-", not a row of zeros.
  EXPECT_EQ(lines[4],
            "GET /health            10.0  0.0%   120µs   200µs   300µs  1.00ms       0         5  "
            "  0%        -      -       -     -    -     -     -");
  EXPECT_EQ(lines[5],
            "POST /orders           0.25  5.0%  45.0ms   200ms   1.20s   2.50s  30.0ms         0  "
            "  3%    120ms     0%      0%    0%   0%    0%  100%");
  // A pseudo-route: CPU but no requests.
  EXPECT_EQ(lines[6],
            "(no request)              0     -       -       -       -       -       -         0  "
            "  1%        -     0%      0%    0%   0%  100%    0%");
}

TEST(SortRoutes, ByCpuAndCpuPerRequest) {
  const auto top = SampleWithCpu();
  using L = std::vector<std::string>;
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kCpu)),
            L({"GET /users/{user_id}", "POST /orders", "(no request)", "GET /health"}));
  EXPECT_EQ(Labels(SortRoutes(top, SortKey::kCpuPerReq)),
            L({"POST /orders", "GET /users/{user_id}", "(no request)", "GET /health"}));
}

}  // namespace
}  // namespace perfd::cli
