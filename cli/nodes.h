// The perfd instances one perfctl command asks: every --endpoint, and every
// address of a host:port whose name resolves to several (a headless
// Kubernetes Service resolves to each node's perfd).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace perfd::cli {

struct Node {
  std::string name;      // shown in NODES / --by-node / warnings
  std::string target;    // what to dial (an endpoint, or "ipv4:1.2.3.4:50051")
  std::string tls_name;  // certificate name to check when target is an address; "" = target's
};

// Addresses of "host" (getaddrinfo, TCP), as numeric strings; empty when the
// name does not resolve (gRPC then reports it when dialling).
using Resolver = std::function<std::vector<std::string>(const std::string& host)>;
std::vector<std::string> ResolveHost(const std::string& host);

// One Node per unix endpoint, per host:port whose host is an IP literal or
// resolves to at most one address (named as given), and per address of a
// name resolving to several ("10.0.0.5:50051", "[fd00::5]:50051"; tls_name =
// the name). Duplicates (same socket, same host:port) are dropped, first
// kept; order is
// the endpoints' order, addresses sorted.
std::vector<Node> ExpandEndpoints(const std::vector<std::string>& endpoints,
                                  const Resolver& resolve = ResolveHost);

}  // namespace perfd::cli
