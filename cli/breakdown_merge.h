// `perfctl top --breakdown` over several perfd instances (one per node):
// one GetBreakdownResponse, route by route. Only what merges exactly is
// merged: request counts add and means are weighted by requests (a mean of
// the union of the nodes' requests). Quantiles and the tail come from each
// node's own recent requests and cannot be combined, so the merged
// response leaves them 0; the table shows means only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

struct NodeBreakdown {
  std::string node;  // Node::name
  v1::GetBreakdownResponse breakdown;
};

struct MergedBreakdown {
  v1::GetBreakdownResponse breakdown;
  // Nodes that reported each route (RouteBreakdown.route), in input order.
  std::map<std::string, std::vector<std::string>> route_nodes;
  // Nodes (that reported routes) with Python sampling off, or event-loop
  // tracing off, while another node has it on: their CPU, or their loop
  // wait, is in "other", so the merged columns undercount it.
  std::vector<std::string> unsampled_nodes;
  std::vector<std::string> untraced_loop_nodes;
};

// Per route: requests add; mean_seconds and each part's mean_seconds are
// means weighted by each node's requests (a part a node lacks counts 0 for
// it); recent_requests, the tail and part quantiles are 0 (not merged).
// Parts keep the first node's order (new names appended). Service and
// window are the first node's, the timestamp the latest;
// sample_period_seconds is the first non-zero, blocking_threshold_seconds
// the largest. Routes are ordered as perfd orders them: by mean_seconds x
// requests, descending (ties by route).
MergedBreakdown MergeBreakdown(const std::vector<NodeBreakdown>& nodes);

}  // namespace perfd::cli
