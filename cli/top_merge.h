// Merging what several perfd instances (one per node) report for one
// service into one GetTopResponse, as if one perfd had watched every worker.
// Counts add; latency and queue sketches merge bucket by bucket (exact: the
// merged sketch equals the one a single perfd would have built from the same
// latencies); quantiles, rates and ratios are recomputed from the merged data.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

struct NodeTop {
  std::string node;  // Node::name
  v1::GetTopResponse top;
};

// (method, route) of a RouteStats.
using RouteKey = std::pair<std::string, std::string>;
RouteKey KeyOf(const v1::RouteStats& route);

struct MergedTop {
  v1::GetTopResponse top;
  // Nodes that reported each route (in the order of the input).
  std::map<RouteKey, std::vector<std::string>> route_nodes;
};

// Per route (method, route):
// - requests, errors, aborted, in_flight, status_codes, db_requests,
//   db_calls, cpu_seconds and cpu_seconds_by_category add up;
//   requests_per_second adds (every node used the same window);
// - latency and queue sketches merge (LatencySketch::Merge); p50/p90/p99
//   and queue_p50/p90/p99 are read from the merged sketch; max is the max;
// - error_ratio = errors / requests; cpu_seconds_per_request = cpu_seconds /
//   requests; db_*_per_request and queries_per_request are means weighted by
//   each node's db_requests; queries_per_request_p99 is the largest node's
//   (an upper bound: that p99 is not mergeable);
// - N+1 findings and fan-outs merge by fingerprint id: requests add,
//   mean_count and mean_seconds are weighted by requests, max_count max.
// GC pauses (gc): worker counts, pauses and total_seconds add, max_seconds
// is the max; generations merge by name (in the order 0, 1, 2, _OTHER); a
// node without gc (an older perfd) adds nothing.
// The response: service and window of the first node; timestamp the latest;
// sample_period_seconds the first non-zero; cpu_exact_share weighted by each
// node's CPU seconds. A sketch a node sent with a different accuracy (a
// differently configured perfd) cannot merge: its quantiles are left out
// and the route's latency is that of the other nodes (counts still add).
MergedTop MergeTop(const std::vector<NodeTop>& nodes);

// `perfctl services` over several nodes: the union of the services, each
// with every node's workers (in the nodes' order); sorted by name, as perfd
// sorts them.
v1::ListServicesResponse MergeServices(const std::vector<v1::ListServicesResponse>& nodes);

}  // namespace perfd::cli
