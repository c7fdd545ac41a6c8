// `-o json` over several perfd instances: the merged message in protobuf's
// canonical JSON (as with one perfd) plus what says where it came from.
#pragma once

#include <string>
#include <vector>

#include "cli/top_merge.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

struct NodeFailure {
  std::string node;
  std::string error;  // DescribeRpcError's line
};

// The message's JSON with, at the top level, "nodes" (names that answered),
// "partial" (any failed) and "failedEndpoints" ([{"endpoint", "error"}]);
// for a GetTopResponse each route also gets "nodes" (names reporting it,
// from route_nodes), and with by_node a "byNode" list of {"node", "top"}
// (each node's own response).
std::string ToJsonWithNodes(
    const google::protobuf::Message& message, const std::vector<std::string>& answered,
    const std::vector<NodeFailure>& failed,
    const std::map<RouteKey, std::vector<std::string>>* route_nodes = nullptr,
    const std::vector<NodeTop>* by_node = nullptr);

}  // namespace perfd::cli
