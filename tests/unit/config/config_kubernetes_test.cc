// The kubernetes.* section: defaults, every key, and errors naming the key.
#include <gtest/gtest.h>

#include "daemon/config/config.h"

namespace perfd {
namespace {

void ExpectKeyError(const std::string& yaml, const std::string& key) {
  try {
    ParseConfig(yaml);
    FAIL() << "accepted: " << yaml;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
  }
}

TEST(ConfigKubernetesTest, Defaults) {
  const KubernetesConfig k = ParseConfig("").kubernetes;
  EXPECT_EQ(k.enabled, "auto");
  EXPECT_EQ(k.api_server, "");
  EXPECT_EQ(k.token_path, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(k.ca_path, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_FALSE(k.metric_labels);
  EXPECT_EQ(k.service_label_keys, std::vector<std::string>{"app.kubernetes.io/name"});
  EXPECT_EQ(k.max_pods, 1000u);
}

TEST(ConfigKubernetesTest, EveryKey) {
  const KubernetesConfig k = ParseConfig(R"(
kubernetes:
  enabled: true
  api_server: https://127.0.0.1:6443/
  token_path: /tmp/token
  ca_path: /tmp/ca.crt
  metric_labels: true
  service_label_keys: [app, example.com/service]
  max_pods: 50
)")
                                 .kubernetes;
  EXPECT_EQ(k.enabled, "true");
  EXPECT_EQ(k.api_server, "https://127.0.0.1:6443");  // trailing '/' dropped
  EXPECT_EQ(k.token_path, "/tmp/token");
  EXPECT_EQ(k.ca_path, "/tmp/ca.crt");
  EXPECT_TRUE(k.metric_labels);
  EXPECT_EQ(k.service_label_keys, (std::vector<std::string>{"app", "example.com/service"}));
  EXPECT_EQ(k.max_pods, 50u);
  EXPECT_EQ(ParseConfig("kubernetes: {enabled: auto}").kubernetes.enabled, "auto");
  EXPECT_EQ(ParseConfig("kubernetes: {enabled: false}").kubernetes.enabled, "false");
  EXPECT_TRUE(
      ParseConfig("kubernetes: {service_label_keys: []}").kubernetes.service_label_keys.empty());
}

TEST(ConfigKubernetesTest, ErrorsNameTheKey) {
  ExpectKeyError("kubernetes: {enabled: maybe}", "kubernetes.enabled");
  ExpectKeyError("kubernetes: {enabled: \"true\"}", "kubernetes.enabled");
  ExpectKeyError("kubernetes: {api_server: 10.0.0.1:443}", "kubernetes.api_server");
  ExpectKeyError("kubernetes: {metric_labels: 1}", "kubernetes.metric_labels");
  ExpectKeyError("kubernetes: {max_pods: 0}", "kubernetes.max_pods");
  ExpectKeyError("kubernetes: {service_label_keys: [\"a b\"]}", "kubernetes.service_label_keys[0]");
  ExpectKeyError("kubernetes: {service_label_keys: [ok, \"\"]}",
                 "kubernetes.service_label_keys[1]");
  ExpectKeyError("kubernetes: {node_name: x}", "kubernetes.node_name");
}

}  // namespace
}  // namespace perfd
