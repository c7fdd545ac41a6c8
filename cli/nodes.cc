#include "cli/nodes.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "cli/endpoint.h"

namespace perfd::cli {
namespace {

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::vector<std::string> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return {};
  std::set<std::string> addresses;
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
        inet_ntop(ai->ai_family, addr, text, sizeof text) != nullptr) {
      addresses.insert(text);
    }
  }
  freeaddrinfo(result);
  return {addresses.begin(), addresses.end()};
}

std::vector<Node> ExpandEndpoints(const std::vector<std::string>& endpoints,
                                  const Resolver& resolve) {
  std::vector<Node> nodes;
  std::set<std::string> seen;
  auto add = [&](Node node) {
    // An address given directly and found again behind a name is one node.
    const std::string key = IsUnixEndpoint(node.target) ? ChannelTarget(node.target) : node.name;
    if (seen.insert(key).second) nodes.push_back(std::move(node));
  };
  for (const std::string& endpoint : endpoints) {
    const size_t colon = endpoint.rfind(':');
    // Unix sockets, "dns:///..." and other gRPC target forms go to gRPC as given.
    if (IsUnixEndpoint(endpoint) || colon == std::string::npos ||
        endpoint.find("://") != std::string::npos) {
      add({endpoint, endpoint, ""});
      continue;
    }
    std::string host = endpoint.substr(0, colon);
    const std::string port = endpoint.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    const std::vector<std::string> addresses =
        IsIpLiteral(host) ? std::vector<std::string>{} : resolve(host);
    if (addresses.size() <= 1) {
      add({endpoint, endpoint, ""});
      continue;
    }
    for (const std::string& address : addresses) {
      const bool v6 = address.find(':') != std::string::npos;
      const std::string host_port = (v6 ? "[" + address + "]" : address) + ":" + port;
      add({host_port, (v6 ? "ipv6:" : "ipv4:") + host_port, host});
    }
  }
  return nodes;
}

}  // namespace perfd::cli
