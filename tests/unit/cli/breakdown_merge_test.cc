// Merging several nodes' GetBreakdown answers (`perfctl top --breakdown`
// with several endpoints).
#include "cli/breakdown_merge.h"

#include <gtest/gtest.h>

#include "cli/breakdown_parts.h"
#include "tests/unit/cli/breakdown_sample.h"

namespace perfd::cli {
namespace {

// Node a: 300 requests of GET /orders at 10 ms (2 queued + 8 DB), with a
// tail. Node b: 100 of them at 30 ms (6 queued + 4 app + 20 DB), and
// POST /pay.
std::vector<NodeBreakdown> TwoNodes() {
  v1::GetBreakdownResponse a = SampleBreakdown(
      {SampleRoute("GET /orders", 300, {2, 0, 0, 0, 0, 0, 0, 8}, {5, 0, 0, 0, 0, 0, 0, 50})});
  a.set_timestamp_unix_nanos(100);
  v1::GetBreakdownResponse b =
      SampleBreakdown({SampleRoute("GET /orders", 100, {6, 0, 0, 0, 0, 0, 4, 20}),
                       SampleRoute("POST /pay", 10, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 500})});
  b.set_timestamp_unix_nanos(200);
  b.set_blocking_threshold_seconds(0.05);
  return {{"a:1", a}, {"b:1", b}};
}

TEST(MergeBreakdown, RequestsAddAndMeansWeighByRequests) {
  const MergedBreakdown m = MergeBreakdown(TwoNodes());
  const v1::GetBreakdownResponse& b = m.breakdown;
  EXPECT_EQ(b.service(), "shop");
  EXPECT_EQ(b.window_seconds(), 60u);
  EXPECT_EQ(b.timestamp_unix_nanos(), 200);
  EXPECT_DOUBLE_EQ(b.sample_period_seconds(), 0.01);
  EXPECT_DOUBLE_EQ(b.blocking_threshold_seconds(), 0.05);
  ASSERT_EQ(b.routes_size(), 2);
  // POST /pay: 10 x 500 ms = 5 s; GET /orders: 300 x 10 + 100 x 30 ms = 6 s.
  const v1::RouteBreakdown& orders = b.routes(0);
  EXPECT_EQ(orders.route(), "GET /orders");
  EXPECT_EQ(orders.requests(), 400u);
  EXPECT_NEAR(orders.mean_seconds(), (300 * 0.010 + 100 * 0.030) / 400, 1e-12);  // 15 ms
  EXPECT_NEAR(PartMean(orders, "queued"), (300 * 0.002 + 100 * 0.006) / 400, 1e-12);
  EXPECT_NEAR(PartMean(orders, "cpu_app"), 100 * 0.004 / 400, 1e-12);
  EXPECT_NEAR(PartMean(orders, "db_wait"), (300 * 0.008 + 100 * 0.020) / 400, 1e-12);
  // The merged parts still add up to the merged mean.
  double sum = 0;
  for (const auto& p : orders.parts()) sum += p.mean_seconds();
  EXPECT_NEAR(sum, orders.mean_seconds(), 1e-12);
  // Parts in the API order.
  ASSERT_EQ(orders.parts_size(), static_cast<int>(kNumParts));
  for (size_t i = 0; i < kNumParts; ++i) EXPECT_EQ(orders.parts(int(i)).part(), kParts[i].part);

  const v1::RouteBreakdown& pay = b.routes(1);
  EXPECT_EQ(pay.route(), "POST /pay");
  EXPECT_EQ(pay.requests(), 10u);
  EXPECT_NEAR(PartMean(pay, "other"), 0.5, 1e-12);

  EXPECT_EQ(m.route_nodes.at("GET /orders"), (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(m.route_nodes.at("POST /pay"), (std::vector<std::string>{"b:1"}));
}

// Quantiles and the tail of each node's recent requests cannot be merged:
// left 0 rather than one node's numbers passed off as everyone's.
TEST(MergeBreakdown, QuantilesAndTheTailAreNotMerged) {
  const v1::RouteBreakdown orders = MergeBreakdown(TwoNodes()).breakdown.routes(0);
  EXPECT_EQ(orders.recent_requests(), 0u);
  EXPECT_EQ(orders.tail_requests(), 0u);
  EXPECT_EQ(orders.tail_mean_seconds(), 0.0);
  EXPECT_EQ(orders.tail_threshold_seconds(), 0.0);
  for (const auto& p : orders.parts()) {
    EXPECT_EQ(p.p50_seconds(), 0.0) << p.part();
    EXPECT_EQ(p.p99_seconds(), 0.0) << p.part();
    EXPECT_EQ(p.tail_mean_seconds(), 0.0) << p.part();
  }
}

TEST(MergeBreakdown, RoutesOrderedByTotalTime) {
  std::vector<NodeBreakdown> nodes = TwoNodes();
  // Node a gets 1000 more slow orders: GET /orders now far ahead.
  nodes[0].breakdown.mutable_routes(0)->set_requests(1300);
  EXPECT_EQ(MergeBreakdown(nodes).breakdown.routes(0).route(), "GET /orders");
  nodes[0].breakdown.mutable_routes(0)->set_requests(1);
  EXPECT_EQ(MergeBreakdown(nodes).breakdown.routes(0).route(), "POST /pay");
}

// A node with sampling (or loop tracing) off while another has it on:
// named, since its CPU (loop wait) is in "other" and the merged columns
// undercount. All off is the plain "off" case; a node without routes
// undercounts nothing.
TEST(MergeBreakdown, NodesWithSamplingOrLoopOffAreNamed) {
  std::vector<NodeBreakdown> nodes = TwoNodes();
  nodes[1].breakdown.set_sample_period_seconds(0);
  nodes[0].breakdown.set_blocking_threshold_seconds(0);
  MergedBreakdown m = MergeBreakdown(nodes);
  EXPECT_DOUBLE_EQ(m.breakdown.sample_period_seconds(), 0.01);
  EXPECT_EQ(m.unsampled_nodes, (std::vector<std::string>{"b:1"}));
  EXPECT_EQ(m.untraced_loop_nodes, (std::vector<std::string>{"a:1"}));

  nodes[0].breakdown.set_sample_period_seconds(0);
  m = MergeBreakdown(nodes);
  EXPECT_EQ(m.breakdown.sample_period_seconds(), 0.0);
  EXPECT_TRUE(m.unsampled_nodes.empty());

  nodes[0].breakdown.clear_routes();
  nodes[1].breakdown.set_sample_period_seconds(0.01);
  m = MergeBreakdown(nodes);
  EXPECT_TRUE(m.untraced_loop_nodes.empty());
}

TEST(MergeBreakdown, OneNodeKeepsItsMeansAndNoneIsEmpty) {
  std::vector<NodeBreakdown> nodes = TwoNodes();
  nodes.resize(1);
  const v1::RouteBreakdown r = MergeBreakdown(nodes).breakdown.routes(0);
  EXPECT_EQ(r.requests(), 300u);
  EXPECT_NEAR(r.mean_seconds(), 0.010, 1e-12);
  EXPECT_EQ(MergeBreakdown({}).breakdown.routes_size(), 0);
  // A route with no requests anywhere: zeros, not NaN.
  nodes[0].breakdown.mutable_routes(0)->set_requests(0);
  const v1::RouteBreakdown zero = MergeBreakdown(nodes).breakdown.routes(0);
  EXPECT_EQ(zero.mean_seconds(), 0.0);
  EXPECT_EQ(PartMean(zero, "db_wait"), 0.0);
}

}  // namespace
}  // namespace perfd::cli
