#include "daemon/kubernetes/kube_settings.h"

namespace perfd::k8s {
namespace {

std::string Env(const GetEnv& getenv, const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

}  // namespace

KubeSettings ResolveKubeSettings(const KubernetesConfig& config, const GetEnv& getenv) {
  KubeSettings s;
  const std::string host = Env(getenv, "KUBERNETES_SERVICE_HOST");
  const std::string port = Env(getenv, "KUBERNETES_SERVICE_PORT");
  if (config.enabled == "false") return s;
  if (config.enabled == "auto" && host.empty() && config.api_server.empty()) return s;
  s.enabled = true;
  std::string server = config.api_server;
  if (server.empty() && !host.empty() && !port.empty()) {
    server =
        "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  }
  s.node_name = Env(getenv, "NODE_NAME");
  if (server.empty()) return s;  // cgroup only: pod UID and container ID
  if (s.node_name.empty())
    throw ConfigError("kubernetes.enabled",
                      "the Kubernetes API would be watched but NODE_NAME is not set (set it from "
                      "the downward API, fieldRef spec.nodeName), or set enabled: false");
  if (s.node_name.size() > 253 ||
      s.node_name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos)
    throw ConfigError("kubernetes.enabled",
                      "NODE_NAME is not a node name: '" + s.node_name.substr(0, 64) + "'");
  s.api = true;
  s.endpoint = {server, config.token_path, config.ca_path};
  return s;
}

}  // namespace perfd::k8s
