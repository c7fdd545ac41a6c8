// Names the service a worker belongs to. Precedence: the first config
// services[] rule whose regex is found in the command line, then the pod's
// labels named by kubernetes.service_label_keys (in order; default
// app.kubernetes.io/name), then the PERFD_SERVICE and OTEL_SERVICE_NAME
// environment variables, then the top package of the ASGI app
// ("shop.main:app" → "shop"). Every source is sanitized alike.
#pragma once

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace perfd {

inline constexpr size_t kMaxServiceNameLength = 64;
// services[].match sees at most this much of the joined command line. A
// command line can be up to 1 MiB (it is the target's, so untrusted), and
// libstdc++'s std::regex backtracks recursively: an unbounded input makes a
// rule's cost (and stack depth) the traced process's choice. 4 KiB holds
// any sane uvicorn/gunicorn invocation.
inline constexpr size_t kMaxRuleInputBytes = 4096;
inline constexpr const char* kUnknownService = "unknown";

class ServiceNamer {
 public:
  // Compiles the rules once; a bad regex is a ConfigError naming
  // "services[i].match" (ParseConfig already rejects those).
  explicit ServiceNamer(const std::vector<ServiceRule>& rules);
  // The pod labels that may name a service (kubernetes.service_label_keys),
  // in order; none by default (no Kubernetes).
  void SetPodLabelKeys(std::vector<std::string> keys) { pod_label_keys_ = std::move(keys); }

  // cmdline: argv joined by single spaces (for a spawn child, the
  // supervisor's); rules see its first kMaxRuleInputBytes only. env: the kept
  // environment variables of the worker. pod_labels: its pod's labels
  // (those of pod_label_keys it has; empty outside a pod or without the API).
  std::string Name(const std::string& cmdline, const std::map<std::string, std::string>& env,
                   const std::string& app_spec,
                   const std::map<std::string, std::string>& pod_labels = {}) const;

 private:
  struct Compiled {
    std::regex re;
    std::string name;
  };
  std::vector<Compiled> rules_;
  std::vector<std::string> pod_label_keys_;
};

// argv joined by single spaces: what services[].match is searched in.
std::string JoinArgv(const std::vector<std::string>& argv);

// "shop.main:app" → "shop", "main:app" → "main", "shop.main:create_app()" →
// "shop"; "" when app_spec has no module.
std::string ServiceFromAppSpec(const std::string& app_spec);

// Leading and trailing white space dropped, characters outside
// [A-Za-z0-9_.-] become '_', at most 64 characters; "" when no letter or
// digit is left (the name is then treated as unset). Service names come
// from the traced processes' environment and argv: this bounds each name;
// the aggregator and exporter caps bound how many there are.
std::string SanitizeServiceName(const std::string& name);

}  // namespace perfd
