// perfd configuration: YAML file + command-line overrides. Every field has a
// documented default (docs/CONFIG.md); an unknown key or a bad value is a
// ConfigError that names the key, and perfd exits with code 2.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace perfd {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, const std::string& message)
      : std::runtime_error(key + ": " + message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// services[]: the first rule whose regex matches the worker's command line
// (argv joined by single spaces) names the service.
struct ServiceRule {
  std::string match;  // ECMAScript regex, searched (not anchored)
  std::string name;
};

// routes.rules[]: route templates for a service ("" = every service).
struct RouteRule {
  std::string service;
  std::string pattern;  // e.g. "/users/{user_id}"; "{...}" matches one segment
};

// python.categories[]: user rules that classify a stack frame, checked
// before the defaults (docs/CATEGORIES.md). Globs are fnmatch-style.
struct CategoryRuleConfig {
  std::string module;    // glob on the dotted module ("" = any)
  std::string function;  // glob on the qualified name ("" = any)
  std::string category;  // auth, validation, serialization, db, framework, app
};

// kubernetes.* (docs/CONFIG.md "kubernetes"): pod metadata for workers.
struct KubernetesConfig {
  // "auto": on when running in a pod (KUBERNETES_SERVICE_HOST is set);
  // "true": on (the API is used when a server is known); "false": off.
  std::string enabled = "auto";
  std::string api_server;  // "" = https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
  std::string token_path = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_path = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  bool metric_labels = false;  // k8s_namespace_name, k8s_pod_name, k8s_node_name on http/db series
  // Pod labels that name a worker's service, tried in order after services[].
  std::vector<std::string> service_label_keys = {"app.kubernetes.io/name"};
  uint32_t max_pods = 1000;  // pods of this node kept in memory
};

struct Config {
  // listen.*
  // Prometheus /metrics. Loopback: the metrics name the traced services and
  // their routes, so serving them beyond the host is the deployment's choice
  // (one scraped from another host sets 0.0.0.0:9464).
  std::string metrics_address = "127.0.0.1:9464";
  // "" disables the unix socket: the API is then on grpc_tcp only, or off.
  std::string grpc_socket = "/run/perfd/perfd.sock";
  std::string grpc_socket_group;  // non-empty: socket is root:<group> 0660
  std::string grpc_tcp;           // e.g. "127.0.0.1:50051"; empty = off

  // discovery.*
  uint32_t scan_interval_ms = 250;
  std::vector<ServiceRule> services;

  // routes.*
  bool openapi = true;  // read the service's OpenAPI document
  std::string openapi_path = "/openapi.json";
  uint32_t openapi_timeout_ms = 1000;
  uint32_t max_routes_per_service = 100;  // excess counted under "other"
  // Requests a heuristic template (no OpenAPI document) needs before it gets
  // its own route; earlier ones are counted under "other".
  uint32_t heuristic_min_requests = 3;
  std::vector<RouteRule> route_rules;

  // http.*
  // A response is complete when the next response starts, the connection
  // closes, or no byte was written for this long (keep-alive idle).
  uint32_t response_idle_timeout_ms = 1000;

  // python.*
  bool python_sampling = true;  // walk Python stacks at perf_event samples
  uint32_t sample_hz = 99;      // samples per second of CPU time, per thread
  // Threads of one worker that get a sampling perf event (2 fds each in
  // perfd); the main thread always does. A traced app picks its thread count,
  // so this bounds what it can make perfd spend.
  uint32_t max_threads_per_worker = 256;
  // Join samples to requests exactly via the context-copy uprobe (else by
  // time); needs python_sampling.
  bool request_identity = true;
  std::vector<CategoryRuleConfig> category_rules;

  // aggregation.*
  uint32_t window_max_seconds = 600;  // longest --window perfctl may ask for
  // Global memory caps (docs/CONFIG.md): what is over them is counted under
  // "_OTHER"; routes and series idle for idle_seconds are dropped.
  uint32_t max_services = 200;
  uint32_t max_routes = 10000;  // (method, route) entries over all services
  uint32_t max_series = 10000;  // Prometheus label sets of the http_* families
  uint32_t idle_seconds = 900;  // >= window_max_seconds

  // db.* (database call aggregation and outputs, docs/CONFIG.md)
  uint32_t n_plus_one_min_calls = 5;  // consecutive sequential calls that make an N+1 finding
  uint32_t max_fingerprints_per_service = 500;  // more are folded into "_OTHER"
  uint32_t top_k_query_ids = 20;  // fingerprints per service with their own db_query_id label

  KubernetesConfig kubernetes;

  // log.*
  std::string log_level = "info";  // trace, debug, info, warn, error
};

// Parses YAML text. Throws ConfigError naming the offending key
// (e.g. "routes.max_per_service").
Config ParseConfig(const std::string& yaml_text);
// Reads and parses a file; a missing/unreadable file is a ConfigError too.
Config LoadConfigFile(const std::string& path);

}  // namespace perfd
