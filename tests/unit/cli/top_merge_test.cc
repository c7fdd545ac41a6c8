#include "cli/top_merge.h"

#include <gtest/gtest.h>

#include <random>

#include "daemon/aggregator/latency_sketch.h"
#include "daemon/api/sketch_convert.h"

namespace perfd::cli {
namespace {

// A node's RouteStats as perfd fills it from its own latencies.
v1::RouteStats NodeRoute(const std::string& method, const std::string& route,
                         const std::vector<double>& latencies, uint64_t errors, double window) {
  LatencySketch sketch;
  double max = 0;
  for (double v : latencies) {
    sketch.Add(v);
    max = std::max(max, v);
  }
  v1::RouteStats r;
  r.set_method(method);
  r.set_route(route);
  r.set_requests(latencies.size());
  r.set_errors(errors);
  r.set_requests_per_second(static_cast<double>(latencies.size()) / window);
  r.set_error_ratio(static_cast<double>(errors) / static_cast<double>(latencies.size()));
  r.set_p50_seconds(sketch.Quantile(0.5));
  r.set_p99_seconds(sketch.Quantile(0.99));
  r.set_max_seconds(max);
  SketchToProto(sketch, r.mutable_latency());
  (*r.mutable_status_codes())["200"] = latencies.size() - errors;
  (*r.mutable_status_codes())["500"] = errors;
  return r;
}

std::vector<double> Latencies(std::mt19937& rng, size_t n, double median) {
  std::lognormal_distribution<double> dist(std::log(median), 0.6);
  std::vector<double> out(n);
  for (auto& v : out) v = dist(rng);
  return out;
}

// The merge is exact: three nodes' sketches merged read the same quantiles,
// bucket for bucket, as one sketch of every latency (what one perfd watching
// all workers would hold).
TEST(MergeTop, CountsAddAndSketchesMergeExactly) {
  std::mt19937 rng(7);
  std::vector<NodeTop> nodes;
  LatencySketch all;
  uint64_t requests = 0, errors = 0;
  for (int n = 0; n < 3; ++n) {
    const auto lat = Latencies(rng, 1000 + 300 * n, 0.02 * (n + 1));
    for (double v : lat) all.Add(v);
    requests += lat.size();
    errors += n;
    NodeTop node{"node" + std::to_string(n), {}};
    node.top.set_service("api");
    node.top.set_window_seconds(60);
    node.top.set_timestamp_unix_nanos(1000 + n);
    *node.top.add_routes() = NodeRoute("GET", "/users/{id}", lat, n, 60);
    if (n == 1) *node.top.add_routes() = NodeRoute("POST", "/orders", {0.5, 0.7}, 1, 60);
    nodes.push_back(node);
  }
  const MergedTop merged = MergeTop(nodes);
  ASSERT_EQ(merged.top.routes_size(), 2);
  EXPECT_EQ(merged.top.service(), "api");
  EXPECT_EQ(merged.top.window_seconds(), 60u);
  EXPECT_EQ(merged.top.timestamp_unix_nanos(), 1002);
  const v1::RouteStats& users = merged.top.routes(0);
  EXPECT_EQ(users.route(), "/users/{id}");
  EXPECT_EQ(users.requests(), requests);
  EXPECT_EQ(users.errors(), errors);
  EXPECT_DOUBLE_EQ(users.error_ratio(), static_cast<double>(errors) / requests);
  EXPECT_NEAR(users.requests_per_second(), requests / 60.0, 1e-9);
  EXPECT_EQ(users.status_codes().at("500"), errors);
  EXPECT_EQ(users.status_codes().at("200"), requests - errors);
  EXPECT_EQ(SketchFromProto(users.latency()), all);
  EXPECT_EQ(users.p50_seconds(), all.Quantile(0.5));
  EXPECT_EQ(users.p90_seconds(), all.Quantile(0.9));
  EXPECT_EQ(users.p99_seconds(), all.Quantile(0.99));
  EXPECT_EQ(merged.route_nodes.at({"GET", "/users/{id}"}),
            (std::vector<std::string>{"node0", "node1", "node2"}));
  EXPECT_EQ(merged.route_nodes.at({"POST", "/orders"}), (std::vector<std::string>{"node1"}));
  const v1::RouteStats& orders = merged.top.routes(1);
  EXPECT_EQ(orders.requests(), 2u);
  EXPECT_DOUBLE_EQ(orders.max_seconds(), 0.7);
}

TEST(MergeTop, DbAndCpuAreWeightedAndFindingsMergeById) {
  std::vector<NodeTop> nodes(2);
  for (int n = 0; n < 2; ++n) {
    nodes[n].node = "n" + std::to_string(n);
    nodes[n].top.set_sample_period_seconds(n == 0 ? 0 : 0.0101);
    nodes[n].top.set_cpu_exact_share(n == 0 ? 1.0 : 0.5);
    v1::RouteStats* r = nodes[n].top.add_routes();
    r->set_method("GET");
    r->set_route("/r");
    r->set_requests(10);
    r->set_cpu_seconds(n == 0 ? 1.0 : 3.0);
    (*r->mutable_cpu_seconds_by_category())["db"] = n == 0 ? 0.5 : 1.0;
    r->set_db_requests(n == 0 ? 10 : 30);
    r->set_db_calls(n == 0 ? 20 : 90);
    r->set_db_seconds_per_request(n == 0 ? 0.010 : 0.020);
    r->set_queries_per_request(n == 0 ? 2 : 3);
    r->set_queries_per_request_p99(n == 0 ? 4 : 3);
    v1::NPlusOne* f = r->add_n_plus_one();
    f->set_fingerprint_id("abc");
    f->set_requests(n == 0 ? 1 : 3);
    f->set_mean_count(n == 0 ? 10 : 20);
    f->set_max_count(n == 0 ? 12 : 25);
  }
  const MergedTop merged = MergeTop(nodes);
  const v1::RouteStats& r = merged.top.routes(0);
  EXPECT_DOUBLE_EQ(r.cpu_seconds(), 4.0);
  EXPECT_DOUBLE_EQ(r.cpu_seconds_per_request(), 0.2);
  EXPECT_DOUBLE_EQ(r.cpu_seconds_by_category().at("db"), 1.5);
  EXPECT_EQ(r.db_requests(), 40u);
  EXPECT_EQ(r.db_calls(), 110u);
  EXPECT_DOUBLE_EQ(r.db_seconds_per_request(), (10 * 0.010 + 30 * 0.020) / 40);
  EXPECT_DOUBLE_EQ(r.queries_per_request(), (10 * 2 + 30 * 3) / 40.0);
  EXPECT_DOUBLE_EQ(r.queries_per_request_p99(), 4);
  ASSERT_EQ(r.n_plus_one_size(), 1);
  EXPECT_EQ(r.n_plus_one(0).requests(), 4u);
  EXPECT_DOUBLE_EQ(r.n_plus_one(0).mean_count(), (10 + 3 * 20) / 4.0);
  EXPECT_EQ(r.n_plus_one(0).max_count(), 25u);
  EXPECT_DOUBLE_EQ(merged.top.sample_period_seconds(), 0.0101);
  EXPECT_DOUBLE_EQ(merged.top.cpu_exact_share(), (1.0 * 1 + 0.5 * 3) / 4);
  // No latencies (only in-flight requests): no sketch, no quantiles.
  EXPECT_EQ(r.latency().counts_size(), 0);
  EXPECT_EQ(r.p50_seconds(), 0);
}

// Event-loop figures add over nodes (each node's loops are its own); the
// worst blocking iteration is the longest any node saw; a node without
// loop tracing adds nothing.
TEST(MergeTop, EventLoopFiguresAddAndTheWorstIsTheMax) {
  std::vector<NodeTop> nodes(3);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].node = "node" + std::to_string(i);
    nodes[i].top.set_service("api");
    nodes[i].top.set_window_seconds(60);
  }
  for (size_t i = 0; i < 2; ++i) {
    v1::EventLoopStats* l = nodes[i].top.mutable_loop();
    l->set_traced(true);
    l->set_busy_seconds(1.5 + double(i));
    l->set_iterations(1000 * (i + 1));
    l->set_blocking_events(2 + i);
    l->set_worst_blocking_seconds(i == 0 ? 0.150 : 0.055);
    l->set_blocking_threshold_seconds(0.020);
  }
  const v1::EventLoopStats& m = MergeTop(nodes).top.loop();
  EXPECT_TRUE(m.traced());
  EXPECT_DOUBLE_EQ(m.busy_seconds(), 4.0);
  EXPECT_EQ(m.iterations(), 3000u);
  EXPECT_EQ(m.blocking_events(), 5u);
  EXPECT_DOUBLE_EQ(m.worst_blocking_seconds(), 0.150);
  EXPECT_DOUBLE_EQ(m.blocking_threshold_seconds(), 0.020);
}

// GC figures add over nodes (worker counts, pauses, totals); the longest
// pause is the max; generations merge by name in perfd's order; a node
// without GC figures (an older perfd) adds nothing.
// Each node names its own heaviest blocking site; the merge keeps the
// heaviest of them (sites of different nodes are different processes).
TEST(MergeTop, TopBlockerIsTheHeaviestNodes) {
  std::vector<NodeTop> nodes(3);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].node = "node" + std::to_string(i);
    nodes[i].top.set_service("api");
    nodes[i].top.set_window_seconds(60);
    nodes[i].top.mutable_loop()->set_traced(true);
  }
  auto site = [](NodeTop& n, const std::string& name, double total) {
    v1::BlockingSite* s = n.top.mutable_loop()->mutable_top_blocking();
    s->set_site(name);
    s->set_events(1);
    s->set_total_seconds(total);
  };
  site(nodes[0], "a (x.py:1)", 0.5);
  site(nodes[1], "b (y.py:2)", 0.9);  // nodes[2]: no blocking
  const v1::GetTopResponse merged = MergeTop(nodes).top;
  ASSERT_TRUE(merged.loop().has_top_blocking());
  EXPECT_EQ(merged.loop().top_blocking().site(), "b (y.py:2)");
}

TEST(MergeTop, GcFiguresAddAndTheLongestPauseIsTheMax) {
  std::vector<NodeTop> nodes(3);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].node = "node" + std::to_string(i);
    nodes[i].top.set_service("api");
    nodes[i].top.set_window_seconds(60);
  }
  auto add = [](v1::GcStats* gc, const std::string& name, uint64_t pauses, double total,
                double max) {
    v1::GcGeneration* g = gc->add_generations();
    g->set_generation(name);
    g->set_pauses(pauses);
    g->set_total_seconds(total);
    g->set_max_seconds(max);
    gc->set_pauses(gc->pauses() + pauses);
    gc->set_total_seconds(gc->total_seconds() + total);
    gc->set_max_seconds(std::max(gc->max_seconds(), max));
  };
  v1::GcStats* a = nodes[0].top.mutable_gc();
  a->set_workers_attached(2);
  a->set_workers_unsampled(1);
  add(a, "2", 1, 0.030, 0.030);
  v1::GcStats* b = nodes[1].top.mutable_gc();
  b->set_workers_attached(1);
  b->set_workers_no_usdt(3);
  b->set_workers_failed(1);
  add(b, "0", 5, 0.005, 0.002);
  add(b, "2", 2, 0.050, 0.045);
  add(b, "_OTHER", 1, 0.001, 0.001);
  // nodes[2]: no gc (an older perfd)

  const v1::GetTopResponse merged = MergeTop(nodes).top;
  ASSERT_TRUE(merged.has_gc());
  const v1::GcStats& m = merged.gc();
  EXPECT_EQ(m.workers_attached(), 3u);
  EXPECT_EQ(m.workers_no_usdt(), 3u);
  EXPECT_EQ(m.workers_failed(), 1u);
  EXPECT_EQ(m.workers_unsampled(), 1u);
  EXPECT_EQ(m.pauses(), 9u);
  EXPECT_DOUBLE_EQ(m.total_seconds(), 0.086);
  EXPECT_DOUBLE_EQ(m.max_seconds(), 0.045);
  ASSERT_EQ(m.generations_size(), 3);
  EXPECT_EQ(m.generations(0).generation(), "0");
  EXPECT_EQ(m.generations(0).pauses(), 5u);
  EXPECT_EQ(m.generations(1).generation(), "2");
  EXPECT_EQ(m.generations(1).pauses(), 3u);
  EXPECT_DOUBLE_EQ(m.generations(1).total_seconds(), 0.080);
  EXPECT_DOUBLE_EQ(m.generations(1).max_seconds(), 0.045);
  EXPECT_EQ(m.generations(2).generation(), "_OTHER");

  // No node with GC figures: none merged.
  nodes.resize(1);
  nodes[0].top.clear_gc();
  EXPECT_FALSE(MergeTop(nodes).top.has_gc());
}

TEST(MergeServices, UnionByNameWithEveryNodesWorkers) {
  std::vector<v1::ListServicesResponse> nodes(2);
  for (int n = 0; n < 2; ++n) {
    v1::Service* s = nodes[n].add_services();
    s->set_name(n == 0 ? "web" : "api");
    s->add_workers()->set_pid(100 + n);
    s->set_requests_total(5);
    v1::Service* shared = nodes[n].add_services();
    shared->set_name("shared");
    shared->add_workers()->set_pid(200 + n);
    shared->set_requests_total(7);
  }
  const v1::ListServicesResponse merged = MergeServices(nodes);
  ASSERT_EQ(merged.services_size(), 3);
  EXPECT_EQ(merged.services(0).name(), "api");
  EXPECT_EQ(merged.services(1).name(), "shared");
  EXPECT_EQ(merged.services(1).workers_size(), 2);
  EXPECT_EQ(merged.services(1).requests_total(), 14u);
  EXPECT_EQ(merged.services(2).name(), "web");
}

}  // namespace
}  // namespace perfd::cli
