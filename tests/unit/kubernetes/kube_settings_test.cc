// kubernetes.enabled auto/true/false against the environment perfd finds.
#include "daemon/kubernetes/kube_settings.h"

#include <gtest/gtest.h>

#include <map>

namespace perfd::k8s {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  GetEnv fn() const {
    return [this](const char* n) -> const char* {
      const auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

const Env kInCluster{{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                      {"KUBERNETES_SERVICE_PORT", "443"},
                      {"NODE_NAME", "node-1"}}};

TEST(KubeSettingsTest, AutoFollowsTheInClusterEnvironment) {
  KubernetesConfig c;
  EXPECT_FALSE(ResolveKubeSettings(c, Env{}.fn()).enabled);
  const auto s = ResolveKubeSettings(c, kInCluster.fn());
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.api);
  EXPECT_EQ(s.endpoint.server, "https://10.96.0.1:443");
  EXPECT_EQ(s.node_name, "node-1");
  EXPECT_EQ(s.endpoint.token_path, "/var/run/secrets/kubernetes.io/serviceaccount/token");
}

TEST(KubeSettingsTest, FalseIsOffEvenInACluster) {
  KubernetesConfig c;
  c.enabled = "false";
  EXPECT_FALSE(ResolveKubeSettings(c, kInCluster.fn()).enabled);
}

TEST(KubeSettingsTest, TrueWithoutAServerIsCgroupOnly) {
  KubernetesConfig c;
  c.enabled = "true";
  const auto s = ResolveKubeSettings(c, Env{}.fn());
  EXPECT_TRUE(s.enabled);
  EXPECT_FALSE(s.api);
}

TEST(KubeSettingsTest, ConfiguredServerAndIpv6) {
  KubernetesConfig c;
  c.api_server = "https://127.0.0.1:6443";
  Env env{{{"NODE_NAME", "n"}}};
  EXPECT_EQ(ResolveKubeSettings(c, env.fn()).endpoint.server, "https://127.0.0.1:6443");
  Env v6{{{"KUBERNETES_SERVICE_HOST", "fd00::1"},
          {"KUBERNETES_SERVICE_PORT", "443"},
          {"NODE_NAME", "n"}}};
  EXPECT_EQ(ResolveKubeSettings(KubernetesConfig{}, v6.fn()).endpoint.server,
            "https://[fd00::1]:443");
}

TEST(KubeSettingsTest, ApiWithoutOrWithBadNodeNameIsAConfigError) {
  Env env = kInCluster;
  env.vars.erase("NODE_NAME");
  try {
    ResolveKubeSettings(KubernetesConfig{}, env.fn());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "kubernetes.enabled");
    EXPECT_NE(std::string(e.what()).find("NODE_NAME"), std::string::npos);
  }
  env.vars["NODE_NAME"] = "node&x=1";
  EXPECT_THROW(ResolveKubeSettings(KubernetesConfig{}, env.fn()), ConfigError);
}

}  // namespace
}  // namespace perfd::k8s
