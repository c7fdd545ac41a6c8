// What the kubernetes.* config means on this host: whether workers' cgroups
// are read for pods, whether the API is watched, with which server and for
// which node. "auto" turns on inside a pod (KUBERNETES_SERVICE_HOST set).
#pragma once

#include <functional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/kubernetes/api_client.h"

namespace perfd::k8s {

struct KubeSettings {
  bool enabled = false;  // cgroup → pod UID / container ID
  bool api = false;      // names and labels from the API too
  ApiEndpoint endpoint;
  std::string node_name;  // env NODE_NAME
};

using GetEnv = std::function<const char*(const char*)>;

// Throws ConfigError naming kubernetes.enabled when the API would be used
// without a node name (perfd would otherwise watch every pod of the
// cluster) or the node name is not a DNS subdomain.
KubeSettings ResolveKubeSettings(const KubernetesConfig& config, const GetEnv& getenv);

}  // namespace perfd::k8s
