#include "cli/nodes.h"

#include <gtest/gtest.h>

#include <map>

namespace perfd::cli {
namespace {

TEST(ExpandEndpoints, ANameWithSeveralAddressesFansOutCheckedByName) {
  std::map<std::string, std::vector<std::string>> dns = {
      {"perfd.monitoring.svc", {"10.0.0.5", "10.0.0.7", "fd00::9"}}, {"one.example", {"10.0.0.1"}}};
  std::vector<std::string> asked;
  const Resolver resolve = [&](const std::string& host) {
    asked.push_back(host);
    auto it = dns.find(host);
    return it == dns.end() ? std::vector<std::string>{} : it->second;
  };
  const auto nodes = ExpandEndpoints(
      {"unix:///run/perfd/perfd.sock", "perfd.monitoring.svc:50051", "one.example:50051",
       "10.0.0.5:50051", "127.0.0.1:1", "[::1]:2", "gone.example:3"},
      resolve);
  ASSERT_EQ(nodes.size(), 8u);
  EXPECT_EQ(nodes[0].target, "unix:///run/perfd/perfd.sock");
  EXPECT_EQ(nodes[1].name, "10.0.0.5:50051");
  EXPECT_EQ(nodes[1].target, "ipv4:10.0.0.5:50051");
  EXPECT_EQ(nodes[1].tls_name, "perfd.monitoring.svc");
  EXPECT_EQ(nodes[2].name, "10.0.0.7:50051");
  EXPECT_EQ(nodes[3].name, "[fd00::9]:50051");
  EXPECT_EQ(nodes[3].target, "ipv6:[fd00::9]:50051");
  // One address: dialled by name, as given (gRPC resolves and checks it).
  EXPECT_EQ(nodes[4].name, "one.example:50051");
  EXPECT_EQ(nodes[4].target, "one.example:50051");
  EXPECT_EQ(nodes[4].tls_name, "");
  // 10.0.0.5:50051 given again by address is not asked twice.
  EXPECT_EQ(nodes[5].name, "127.0.0.1:1");
  EXPECT_EQ(nodes[6].name, "[::1]:2");
  EXPECT_EQ(nodes[7].name, "gone.example:3");
  // IP literals are not resolved.
  EXPECT_EQ(asked,
            (std::vector<std::string>{"perfd.monitoring.svc", "one.example", "gone.example"}));
}

TEST(ExpandEndpoints, SameEndpointTwiceIsOneNode) {
  const auto nodes =
      ExpandEndpoints({"/run/perfd/perfd.sock", "unix:/run/perfd/perfd.sock", "h:1", "h:1"},
                      [](const std::string&) { return std::vector<std::string>{}; });
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].name, "/run/perfd/perfd.sock");
  EXPECT_EQ(nodes[1].name, "h:1");
}

TEST(ResolveHost, LocalhostResolves) {
  const auto addresses = ResolveHost("localhost");
  ASSERT_FALSE(addresses.empty());
  EXPECT_TRUE(addresses.front() == "127.0.0.1" || addresses.front() == "::1") << addresses.front();
}

}  // namespace
}  // namespace perfd::cli
