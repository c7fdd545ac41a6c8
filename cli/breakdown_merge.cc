#include "cli/breakdown_merge.h"

#include <algorithm>
#include <utility>

namespace perfd::cli {
namespace {

struct RouteSum {
  uint64_t requests = 0;
  double latency_sum = 0;                   // mean_seconds x requests, summed
  std::vector<std::string> part_order;      // first-seen
  std::map<std::string, double> part_sums;  // part mean x requests, summed
};

void AddRoute(RouteSum& sum, const v1::RouteBreakdown& r) {
  const double w = static_cast<double>(r.requests());
  sum.requests += r.requests();
  sum.latency_sum += r.mean_seconds() * w;
  for (const auto& p : r.parts()) {
    auto [it, fresh] = sum.part_sums.try_emplace(p.part(), 0.0);
    if (fresh) sum.part_order.push_back(p.part());
    it->second += p.mean_seconds() * w;
  }
}

void Finish(const std::string& route, const RouteSum& sum, v1::RouteBreakdown* out) {
  out->set_route(route);
  out->set_requests(sum.requests);
  const double n = static_cast<double>(sum.requests);
  out->set_mean_seconds(n > 0 ? sum.latency_sum / n : 0);
  for (const std::string& name : sum.part_order) {
    v1::BreakdownPart* p = out->add_parts();
    p->set_part(name);
    p->set_mean_seconds(n > 0 ? sum.part_sums.at(name) / n : 0);
  }
}

}  // namespace

MergedBreakdown MergeBreakdown(const std::vector<NodeBreakdown>& nodes) {
  MergedBreakdown merged;
  v1::GetBreakdownResponse& b = merged.breakdown;
  std::vector<std::string> order;  // first-seen
  std::map<std::string, RouteSum> sums;
  bool sampled = false, looped = false;
  for (const NodeBreakdown& node : nodes) {
    const v1::GetBreakdownResponse& n = node.breakdown;
    if (b.service().empty()) {
      b.set_service(n.service());
      b.set_window_seconds(n.window_seconds());
    }
    b.set_timestamp_unix_nanos(std::max(b.timestamp_unix_nanos(), n.timestamp_unix_nanos()));
    if (b.sample_period_seconds() == 0) b.set_sample_period_seconds(n.sample_period_seconds());
    b.set_blocking_threshold_seconds(
        std::max(b.blocking_threshold_seconds(), n.blocking_threshold_seconds()));
    sampled = sampled || n.sample_period_seconds() > 0;
    looped = looped || n.blocking_threshold_seconds() > 0;
    for (const auto& r : n.routes()) {
      auto [it, fresh] = sums.try_emplace(r.route());
      if (fresh) order.push_back(r.route());
      AddRoute(it->second, r);
      merged.route_nodes[r.route()].push_back(node.node);
    }
  }
  // A node without routes has nothing in "other" to undercount.
  for (const NodeBreakdown& node : nodes) {
    if (node.breakdown.routes_size() == 0) continue;
    if (sampled && node.breakdown.sample_period_seconds() == 0)
      merged.unsampled_nodes.push_back(node.node);
    if (looped && node.breakdown.blocking_threshold_seconds() == 0)
      merged.untraced_loop_nodes.push_back(node.node);
  }
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    const double ta = sums[a].latency_sum, tb = sums[b].latency_sum;
    if (ta != tb) return ta > tb;
    return a < b;
  });
  for (const std::string& route : order) Finish(route, sums[route], b.add_routes());
  return merged;
}

}  // namespace perfd::cli
