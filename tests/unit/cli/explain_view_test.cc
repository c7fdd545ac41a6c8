// `perfctl explain`'s view: the waterfall, its detail sections and its
// JSON, from hand-made answers.
#include "cli/explain_view.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "tests/unit/cli/breakdown_sample.h"

namespace perfd::cli {
namespace {

// GET /orders: 34 ms mean, 20 of it DB; a tail of 10 requests at 234 ms,
// most of it DB and loop wait.
v1::RouteBreakdown Orders() {
  return SampleRoute("GET /orders", 1200, {0.3, 1.2, 0.8, 4.0, 2.0, 1.5, 3.2, 20.0, 0.5, 0.1, 0.4},
                     {2.1, 1.3, 0.9, 4.2, 9.0, 1.6, 3.3, 180, 30, 0, 1.2});
}

v1::FunctionStats Function(const std::string& name, uint64_t own, uint64_t total) {
  v1::FunctionStats f;
  f.set_function(name);
  f.set_file("shop/" + name + ".py");
  f.set_line(10);
  f.set_own_samples(own);
  f.set_total_samples(total);
  f.set_own_seconds(static_cast<double>(own) * 0.01);
  f.set_total_seconds(static_cast<double>(total) * 0.01);
  return f;
}

v1::QueryStats Query(const std::string& id, const std::string& text, uint64_t calls,
                     double total_seconds, std::map<std::string, uint64_t> routes) {
  v1::QueryStats q;
  q.set_system("postgresql");
  q.set_id(id);
  q.set_fingerprint(text);
  q.set_calls(calls);
  q.set_total_seconds(total_seconds);
  q.set_p99_seconds(0.0051);
  for (const auto& [route, n] : routes) (*q.mutable_routes())[route] = n;
  return q;
}

// Everything explain fetches for Orders(), as perfd would answer.
ExplainData Sample() {
  ExplainData d;
  d.breakdown = SampleBreakdown({Orders()});
  d.breakdown.set_timestamp_unix_nanos(0);
  d.route = Orders();
  ExplainFunctions ser{"cpu_serialization", {}};
  *ser.functions.add_functions() = Function("serialize", 400, 400);  // 4 s / 1200 = 3.33 ms
  *ser.functions.add_functions() = Function("encode", 60, 60);
  *ser.functions.add_functions() = Function("view", 0, 460);  // only on the stack
  *ser.functions.add_functions() = Function("dumps", 20, 20);
  *ser.functions.add_functions() = Function("escape", 10, 10);  // the fourth: cut
  d.functions.push_back(ser);
  d.functions.push_back({"cpu_auth", {}});  // sampled nothing of it
  d.has_queries = true;
  // items: 24000 of 30000 calls from the route, 1 ms each: 24 s of it.
  v1::QueryStats items = Query("00000000000000aa", "SELECT * FROM items WHERE order_id = $1", 30000,
                               30, {{"GET /orders", 24000}, {"GET /x", 6000}});
  v1::NPlusOne* n = items.add_n_plus_one();
  n->set_route("GET /orders");
  n->set_mean_count(20);
  n->set_max_count(21);
  n->set_requests(1200);
  n->set_call_site("shop.views.list (views.py:42)");
  v1::NPlusOne* other = items.add_n_plus_one();
  *other = *n;
  other->set_route("GET /x");
  *d.queries.add_queries() = items;
  // users: the route's 1200 calls at 5 ms: 6 s.
  *d.queries.add_queries() = Query("00000000000000bb", "SELECT * FROM users WHERE id = $1", 1200, 6,
                                   {{"GET /orders", 1200}});
  // Not the route's.
  *d.queries.add_queries() = Query("00000000000000cc", "SELECT 1", 50000, 100, {{"GET /x", 50000}});
  d.has_blocking = true;
  d.blocking.set_traced(true);
  d.blocking.set_blocking_threshold_seconds(0.02);
  d.blocking.set_events(3);
  d.blocking.set_total_seconds(0.2);
  v1::BlockingSite* s = d.blocking.add_sites();
  s->set_route("GET /orders");
  s->set_kind("offcpu");
  s->set_blocked_sleep_seconds(0.2);
  s->set_events(3);
  s->set_total_seconds(0.2);
  s->set_max_seconds(0.1);
  s->set_site("export (shop/reports.py:88)");
  return d;
}

TEST(WaterfallBar, EighthsOfACellFromTheOffset) {
  EXPECT_EQ(WaterfallBar(0, 0, 10), "");
  EXPECT_EQ(WaterfallBar(0, 0.5, 10), "█████");
  EXPECT_EQ(WaterfallBar(0, 1, 10), "██████████");
  EXPECT_EQ(WaterfallBar(0, 0.3125, 2), "▋");  // 5 eighths
  EXPECT_EQ(WaterfallBar(0.5, 0.25, 8), "    ██");
  EXPECT_EQ(WaterfallBar(0, 0.14, 10), "█▍");  // 11.2 eighths → 11
  // A share too small to draw shows as the thinnest bar, never as nothing.
  EXPECT_EQ(WaterfallBar(0.2, 0.0001, 10), "  ▏");
  // Never past the width.
  EXPECT_EQ(WaterfallBar(0.9, 0.5, 10), "         █");
  EXPECT_EQ(WaterfallBar(1, 0.5, 10), "          ▏");
}

TEST(PartsToProfile, CpuPartsWithTimeInPartOrder) {
  std::vector<std::string> parts;
  for (const PartName* p : PartsToProfile(SampleRoute("GET /a", 1, {1, 0, 2, 0, 0, 0, 3, 4})))
    parts.push_back(p->part);
  EXPECT_EQ(parts, (std::vector<std::string>{"cpu_validation", "cpu_app"}));
  EXPECT_TRUE(PartsToProfile(SampleRoute("GET /a", 1, {1})).empty());
  EXPECT_TRUE(WantsQueries(SampleRoute("GET /a", 1, {0, 0, 0, 0, 0, 0, 0, 4})));
  EXPECT_FALSE(WantsQueries(SampleRoute("GET /a", 1, {1, 0, 0, 0, 4})));
}

TEST(TopRouteQueries, TheRoutesCallsTimesTheMeanCallTime) {
  const ExplainData d = Sample();
  const std::vector<RouteQuery> top = TopRouteQueries(d.queries, "GET /orders", 5);
  ASSERT_EQ(top.size(), 2u);  // SELECT 1 is not the route's
  EXPECT_EQ(top[0].query->id(), "00000000000000aa");
  EXPECT_EQ(top[0].calls, 24000u);
  EXPECT_NEAR(top[0].seconds, 24.0, 1e-9);
  EXPECT_EQ(top[1].query->id(), "00000000000000bb");
  EXPECT_NEAR(top[1].seconds, 6.0, 1e-9);
  // Ranked by the route's time, not the fingerprint's: for GET /x,
  // SELECT 1 (100 s) before items (6000 calls: 6 s).
  const std::vector<RouteQuery> x = TopRouteQueries(d.queries, "GET /x", 1);
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].query->id(), "00000000000000cc");
  EXPECT_TRUE(TopRouteQueries(d.queries, "GET /none", 5).empty());
}

TEST(RenderExplain, GoldenHeaderAndWaterfall) {
  const std::string out = RenderExplain(Sample());
  EXPECT_EQ(
      out.substr(0, out.find("\n\ncpu: serialization  ") + 1),
      "service shop   route GET /orders   window 60s\n"
      "requests 1200   mean 34.0ms   p99 187ms   tail 10 requests (of the last 1000) at or above "
      "it, mean 234ms\n"
      "\n"
      "PART                MEAN  MEAN%  TAIL  TAIL%   P50   P99\n"
      "queued              0.30     1%  2.10     1%  0.27  0.90  ▎\n"
      "cpu: auth           1.20     4%  1.30     1%  1.08  3.60  █\n"
      "cpu: validation     0.80     2%  0.90    <1%  0.72  2.40   ▊\n"
      "cpu: serialization  4.00    12%  4.20     2%  3.60  12.0    ███▌\n"
      "cpu: db driver      2.00     6%  9.00     4%  1.80  6.00        █▊\n"
      "cpu: framework      1.50     4%  1.60     1%  1.35  4.50         █▍\n"
      "cpu: app            3.20     9%  3.30     1%  2.88  9.60           ██▉\n"
      "db wait             20.0    59%   180    77%  18.0  60.0             █████████████████▋\n"
      "loop wait           0.50     1%  30.0    13%  0.45  1.50                               ▌\n"
      "gc                  0.10    <1%     0     0%  0.09  0.30                                ▏\n"
      "other               0.40     1%  1.20     1%  0.36  1.20                                ▏\n"
      "total               34.0   100%   234   100%\n"
      "\n"
      "ms per request. MEAN: over the window's 1200 requests; TAIL: over the 10 tail requests (at "
      "or above p99);\n"
      "P50, P99: each part's own, over the last 1000 requests. The bars lay the parts end to end "
      "along the mean latency.\n");
}

TEST(RenderExplain, SectionsForFunctionsQueriesLoopWaitAndBlocking) {
  ExplainData d = Sample();
  d.errors.push_back("perfctl: no answer");
  const std::string out = RenderExplain(d);
  const std::string rest = out.substr(out.find("\n\ncpu: serialization  ") + 1);
  EXPECT_EQ(rest,
            "\ncpu: serialization  4.00ms/request; top functions by own CPU per request:\n"
            "  OWN/REQ  FUNCTION\n"
            "   3.33ms  serialize (shop/serialize.py:10)\n"
            "    500µs  encode (shop/encode.py:10)\n"
            "    167µs  dumps (shop/dumps.py:10)\n"
            "\n"
            "cpu: auth  1.20ms/request; top functions by own CPU per request:\n"
            "  (no samples of it for the route in the window)\n"
            "\n"
            "db wait  20.0ms/request; top statements of the route:\n"
            "  SYSTEM      CALLS/REQ     P99  TOTAL  FINGERPRINT\n"
            "  postgresql         20  5.10ms  24.0s  SELECT * FROM items WHERE order_id = $1\n"
            "  postgresql          1  5.10ms  6.00s  SELECT * FROM users WHERE id = $1\n"
            "  N+1  20x/request (max 21, 1200 requests)  at shop.views.list (views.py:42)  SELECT "
            "* FROM items WHERE order_id = $1  [00000000000000aa]\n"
            "  (CALLS/REQ over the route's requests; P99 over every route's calls of the "
            "statement; TOTAL: the route's calls x their mean time)\n"
            "\n"
            "loop wait  500µs/request: waiting for the event loop (to read a reply, or behind "
            "other code holding it); `perfctl blocking -s shop` names the code that held it.\n"
            "\n"
            "the route's own code held the event loop (>= 20.0ms): 3 events, 200ms in the "
            "window, other requests waiting behind; top sites:\n"
            "  KIND          EVENTS  TOTAL    MAX  SITE\n"
            "  offcpu:sleep       3  200ms  100ms  export (shop/reports.py:88)\n"
            "\n"
            "not shown: perfctl: no answer\n");
}

TEST(RenderExplain, QuietPartsAreHiddenAndCounted) {
  ExplainData d;
  d.breakdown = SampleBreakdown({});
  d.route = SampleRoute("GET /a", 10, {0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1},
                        {0, 0, 0, 0, 0, 0, 2, 0, 0, 3, 1});
  const std::string out = RenderExplain(d);
  EXPECT_NE(out.find("\ncpu: app"), std::string::npos) << out;
  EXPECT_NE(out.find("\ngc  "), std::string::npos) << "time in the tail only: shown\n" << out;
  EXPECT_EQ(out.find("\nqueued"), std::string::npos) << out;
  EXPECT_NE(out.find("\n(8 parts with no time hidden: queued, cpu: auth, cpu: validation, cpu: "
                     "serialization, cpu: db driver, cpu: framework, db wait, loop wait)\n"),
            std::string::npos)
      << out;
  // Nothing fetched, nothing to say: no sections.
  EXPECT_EQ(out.find("top functions"), std::string::npos) << out;
  EXPECT_EQ(out.find("statements"), std::string::npos) << out;
  EXPECT_EQ(out.find("held the event loop"), std::string::npos) << out;
}

TEST(RenderExplain, NoTailYetLeavesTailColumnsBlank) {
  ExplainData d;
  d.breakdown = SampleBreakdown({});
  d.route = SampleRoute("GET /a", 3, {1, 0, 0, 0, 0, 0, 3});
  const std::string out = RenderExplain(d);
  EXPECT_NE(out.find("requests 3   mean 4.00ms\n\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nqueued    1.00    25%               0.90  3.00  ███████▌\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\ntotal     4.00   100%\n"), std::string::npos) << out;
  EXPECT_NE(out.find("TAIL: no tail requests yet;"), std::string::npos) << out;
}

TEST(RenderExplain, ZeroLatencyRouteHasNoBarsAndNoDivisionByZero) {
  ExplainData d;
  d.breakdown = SampleBreakdown({});
  d.route = SampleRoute("GET /noop", 1, {});
  const std::string out = RenderExplain(d);
  EXPECT_NE(out.find("\ntotal     0      -\n"), std::string::npos) << out;
  EXPECT_NE(out.find("(11 parts with no time hidden:"), std::string::npos) << out;
  EXPECT_EQ(out.find("nan"), std::string::npos) << out;
}

TEST(RenderExplain, SamplingAndLoopTracingOffAreSaid) {
  ExplainData d = Sample();
  d.breakdown.set_sample_period_seconds(0);
  d.breakdown.set_blocking_threshold_seconds(0);
  const std::string out = RenderExplain(d);
  EXPECT_NE(out.find("\nPython sampling is off in this perfd (python.sampling): CPU time is in "
                     "\"other\" and functions are unknown.\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nEvent-loop tracing is off in this perfd (event_loop.enabled): loop wait "
                     "is only the waits to read replies that had arrived; waiting behind other "
                     "code's blocking is in \"other\".\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(RenderExplain(Sample()).find("is off in this perfd"), std::string::npos);
}

TEST(RenderExplain, NamesFromTheApplicationAreEscaped) {
  ExplainData d = Sample();
  d.route.set_route("GET /\x1b[2J");
  d.functions[0].functions.mutable_functions(0)->set_function("evil\x1b]0;x\x07");
  d.blocking.mutable_sites(0)->set_site("\x1b[31msite");
  const std::string out = RenderExplain(d);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_NE(out.find("GET /\\x1b[2J"), std::string::npos) << out;
}

TEST(ExplainToJson, OneObjectWithTheRouteAndItsDetails) {
  ExplainData d = Sample();
  d.errors.push_back("perfctl: \"quoted\"");
  const std::string json = ExplainToJson(d);
  ASSERT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "one line";
  EXPECT_EQ(json.find("{\"service\":\"shop\",\"windowSeconds\":60,\"timestampUnixNanos\":\"0\","
                      "\"samplePeriodSeconds\":0.01,\"blockingThresholdSeconds\":0.02,"
                      "\"route\":{\"route\":\"GET /orders\",\"requests\":\"1200\","),
            0u)
      << json;
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &doc).ok()) << json;
  const auto& f = doc.fields();
  EXPECT_EQ(f.at("route").struct_value().fields().at("parts").list_value().values_size(), 11);
  const auto& functions = f.at("functions").struct_value().fields();
  ASSERT_EQ(functions.size(), 2u);
  const auto& ser = functions.at("cpu_serialization").list_value();
  ASSERT_EQ(ser.values_size(), 3);  // top 3 by own; "view" (own 0) left out
  EXPECT_EQ(ser.values(0).struct_value().fields().at("function").string_value(), "serialize");
  EXPECT_EQ(ser.values(2).struct_value().fields().at("function").string_value(), "dumps");
  EXPECT_EQ(functions.at("cpu_auth").list_value().values_size(), 0);
  const auto& queries = f.at("queries").list_value();
  ASSERT_EQ(queries.values_size(), 2);
  const auto& q0 = queries.values(0).struct_value().fields();
  EXPECT_EQ(q0.at("query").struct_value().fields().at("id").string_value(), "00000000000000aa");
  EXPECT_EQ(q0.at("routeCalls").string_value(), "24000");
  EXPECT_DOUBLE_EQ(q0.at("callsPerRequest").number_value(), 20);
  EXPECT_DOUBLE_EQ(q0.at("routeSeconds").number_value(), 24);
  const auto& findings = f.at("nPlusOne").list_value();
  ASSERT_EQ(findings.values_size(), 1);  // the route's, not GET /x's
  EXPECT_EQ(findings.values(0).struct_value().fields().at("route").string_value(), "GET /orders");
  EXPECT_EQ(f.at("blockingSites").list_value().values_size(), 1);
  ASSERT_EQ(f.at("errors").list_value().values_size(), 1);
  EXPECT_EQ(f.at("errors").list_value().values(0).string_value(), "perfctl: \"quoted\"");

  // Nothing fetched: empty lists, not missing keys.
  ExplainData bare;
  bare.route = SampleRoute("GET /a", 1, {1});
  const std::string empty = ExplainToJson(bare);
  EXPECT_NE(empty.find(",\"functions\":{},\"queries\":[],\"nPlusOne\":[],\"blockingSites\":[],"
                       "\"errors\":[]}\n"),
            std::string::npos)
      << empty;
}

TEST(RouteMessages, UnknownNamesTheKnownRoutesAmbiguousNamesTheMatches) {
  v1::GetBreakdownResponse all =
      SampleBreakdown({SampleRoute("POST /pay", 1, {1}), SampleRoute("GET /orders", 1, {1})});
  EXPECT_EQ(UnknownRouteMessage("/nope", all),
            "unknown route \"/nope\" of service \"shop\" in the last 60s; known routes: GET "
            "/orders, POST /pay");
  EXPECT_EQ(UnknownRouteMessage("/nope", SampleBreakdown({})),
            "unknown route \"/nope\" of service \"shop\" in the last 60s; known routes: (none)");
  EXPECT_EQ(UnknownRouteMessage("/\x1b[2J", SampleBreakdown({})).find('\x1b'), std::string::npos);
  const v1::GetBreakdownResponse items =
      SampleBreakdown({SampleRoute("GET /items", 1, {1}), SampleRoute("DELETE /items", 1, {1})});
  EXPECT_EQ(AmbiguousRouteMessage("/items", items),
            "route \"/items\" of service \"shop\" matches 2 routes: DELETE /items, GET /items; "
            "name one with its method (--route \"DELETE /items\")");
}

}  // namespace
}  // namespace perfd::cli
