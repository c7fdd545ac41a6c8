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
  // mTLS for grpc_tcp (PEM paths; all three or none): the server's
  // certificate chain and key, and the CA that client certificates must
  // chain to. Re-read when they change on disk (daemon/api/grpc_tls.h).
  std::string grpc_tls_cert;
  std::string grpc_tls_key;
  std::string grpc_tls_client_ca;
  // Plaintext grpc_tcp on a non-loopback address is refused unless this is
  // set (CheckListenSecurity).
  bool grpc_tcp_insecure = false;
  // HTTP /healthz and /readyz for Kubernetes probes (daemon/health); empty = off.
  std::string health_address;

  // discovery.*
  uint32_t scan_interval_ms = 250;
  // ECMAScript regex searched in a worker's command line; workers it does
  // not match are not traced. "" = every worker.
  std::string discovery_include;
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

  // event_loop.* (loop iterations and blocking events, docs/CONFIG.md)
  bool event_loop = true;                    // trace the workers' event-loop iterations
  uint32_t loop_blocking_threshold_ms = 20;  // an iteration busy this long is a blocking event

  KubernetesConfig kubernetes;

  // log.*
  std::string log_level = "info";  // trace, debug, info, warn, error
};

// Parses YAML text. Throws ConfigError naming the offending key
// (e.g. "routes.max_per_service").
Config ParseConfig(const std::string& yaml_text);
// Reads and parses a file; a missing/unreadable file is a ConfigError too.
Config LoadConfigFile(const std::string& path);

// Checks the listeners once command-line overrides are applied (perfd's main
// calls it after ParseConfig/LoadConfigFile): a non-loopback
// listen.grpc_tcp needs the listen.grpc_tls_* files or
// listen.grpc_tcp_insecure: true; TLS files without grpc_tcp are an error
// (they would secure nothing). Throws ConfigError naming the key.
void CheckListenSecurity(const Config& config);

// Whether a listen host:port's host is a loopback address ("127.x.y.z",
// "[::1]", "localhost"); "0.0.0.0", "[::]", "" and names are not.
bool IsLoopbackHostPort(const std::string& host_port);

}  // namespace perfd
