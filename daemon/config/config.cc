// YAML → Config. The walk is strict on purpose: a typo in a key silently
// falling back to a default is worse than refusing to start, so every map
// checks its keys against the schema and every error names the dotted path.
#include "daemon/config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <utility>

#include "daemon/config/config_checks.h"
#include "daemon/config/config_file.h"
#include "daemon/config/yaml_document.h"

namespace perfd {
namespace {

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

// One mapping of the schema: handlers per known key. Unknown and duplicate
// keys are errors; a null node (e.g. "listen:" with nothing under it) is an
// empty mapping, i.e. all defaults.
using Handler = std::function<void(const YAML::Node&, const std::string& path)>;

void WalkMap(const YAML::Node& node, const std::string& path,
             const std::map<std::string, Handler>& handlers) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    throw ConfigError(path.empty() ? "config" : path,
                      std::string("expected a mapping, got ") + KindName(node));
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) throw ConfigError(Join(path, "?"), "keys must be plain strings");
    const std::string key = kv.first.Scalar();
    // An empty key would make the error name nothing (": unknown key").
    const std::string key_path = Join(path, key.empty() ? "\"\"" : key);
    if (!seen.insert(key).second) throw ConfigError(key_path, "duplicate key");
    auto it = handlers.find(key);
    if (it == handlers.end()) {
      std::string message = "unknown key";
      size_t best = 3;
      for (const auto& [known, unused] : handlers) {
        const size_t d = EditDistance(key, known);
        if (d < best) {
          best = d;
          message = "unknown key (did you mean '" + known + "'?)";
        }
      }
      throw ConfigError(key_path, message);
    }
    it->second(kv.second, key_path);
  }
}

template <typename F>
void WalkList(const YAML::Node& node, const std::string& path, F&& item) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    throw ConfigError(path, std::string("expected a list, got ") + KindName(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    item(node[i], path + "[" + std::to_string(i) + "]");
  }
}

// A quoted scalar ("250") is a string in YAML; yaml-cpp marks it with the
// non-specific tag "!". Numbers and booleans must be plain scalars.
bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

std::string GetString(const YAML::Node& node, const std::string& path, bool null_is_empty) {
  if (node.IsNull() && null_is_empty) return "";
  if (!node.IsScalar()) {
    throw ConfigError(path, std::string("expected a string, got ") + KindName(node));
  }
  return node.Scalar();
}

uint32_t GetUint(const YAML::Node& node, const std::string& path, uint64_t min, uint64_t max) {
  const std::string range = " (" + std::to_string(min) + ".." + std::to_string(max) + ")";
  if (!node.IsScalar() || IsQuoted(node)) {
    throw ConfigError(path, std::string("expected an integer") + range + ", got " +
                                (node.IsScalar() ? "a quoted string" : KindName(node)));
  }
  const std::string& s = node.Scalar();
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size() ||
      !std::all_of(s.begin() + i, s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    throw ConfigError(path, "expected an integer" + range + ", got '" + s + "'");
  }
  const bool negative = s[0] == '-';
  const std::string digits = s.substr(i);
  const bool huge = digits.size() > 18;
  const uint64_t v = huge ? 0 : std::stoull(digits);
  if (negative || huge || v < min || v > max) {
    throw ConfigError(path, "must be between " + std::to_string(min) + " and " +
                                std::to_string(max) + ", got " + s);
  }
  return static_cast<uint32_t>(v);
}

bool GetBool(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar() && !IsQuoted(node)) {
    std::string s = node.Scalar();
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  throw ConfigError(path, "expected true or false, got " +
                              (node.IsScalar() ? "'" + node.Scalar() + "'" : KindName(node)));
}

void Check(const std::string& path, const std::string& error) {
  if (!error.empty()) throw ConfigError(path, error);
}

void ParseListen(const YAML::Node& node, const std::string& path, Config& c) {
  WalkMap(
      node, path,
      {{"metrics",
        [&](const YAML::Node& n, const std::string& p) {
          c.metrics_address = GetString(n, p, false);
          Check(p, config_checks::CheckHostPort(c.metrics_address));
        }},
       {"grpc_socket",
        [&](const YAML::Node& n, const std::string& p) {
          c.grpc_socket = GetString(n, p, true);
          Check(p, config_checks::CheckUnixSocketPath(c.grpc_socket));
        }},
       {"grpc_socket_group",
        [&](const YAML::Node& n, const std::string& p) {
          c.grpc_socket_group = GetString(n, p, true);
          Check(p, config_checks::CheckGroupName(c.grpc_socket_group));
        }},
       {"grpc_tcp",
        [&](const YAML::Node& n, const std::string& p) {
          c.grpc_tcp = GetString(n, p, true);
          if (!c.grpc_tcp.empty()) Check(p, config_checks::CheckHostPort(c.grpc_tcp));
        }},
       {"grpc_tls_cert", [&](const YAML::Node& n,
                             const std::string& p) { c.grpc_tls_cert = GetString(n, p, true); }},
       {"grpc_tls_key",
        [&](const YAML::Node& n, const std::string& p) { c.grpc_tls_key = GetString(n, p, true); }},
       {"grpc_tls_client_ca",
        [&](const YAML::Node& n, const std::string& p) {
          c.grpc_tls_client_ca = GetString(n, p, true);
        }},
       {"grpc_tcp_insecure",
        [&](const YAML::Node& n, const std::string& p) { c.grpc_tcp_insecure = GetBool(n, p); }},
       {"health", [&](const YAML::Node& n, const std::string& p) {
          c.health_address = GetString(n, p, true);
          if (!c.health_address.empty()) Check(p, config_checks::CheckHostPort(c.health_address));
        }}});
}

// Across listen.* keys, once the section is read: a group for a socket that
// is not created would silently do nothing.
void CheckListen(const Config& c) {
  if (c.grpc_socket.empty() && !c.grpc_socket_group.empty()) {
    throw ConfigError("listen.grpc_socket_group",
                      "set, but listen.grpc_socket is empty (the unix socket is disabled)");
  }
  // Half a TLS setup is a mistake, not a request for plaintext.
  const std::pair<const char*, const std::string*> tls[] = {
      {"listen.grpc_tls_cert", &c.grpc_tls_cert},
      {"listen.grpc_tls_key", &c.grpc_tls_key},
      {"listen.grpc_tls_client_ca", &c.grpc_tls_client_ca}};
  const bool any = std::any_of(std::begin(tls), std::end(tls),
                               [](const auto& key) { return !key.second->empty(); });
  for (const auto& [key, value] : tls) {
    if (any && value->empty()) {
      throw ConfigError(key,
                        "missing: listen.grpc_tls_cert, listen.grpc_tls_key and "
                        "listen.grpc_tls_client_ca are set together (mTLS) or not at all");
    }
  }
}

void ParseService(const YAML::Node& node, const std::string& path, Config& c) {
  if (node.IsNull()) throw ConfigError(path, "expected a mapping with match and name");
  ServiceRule rule;
  bool has_match = false;
  bool has_name = false;
  WalkMap(node, path,
          {{"match",
            [&](const YAML::Node& n, const std::string& p) {
              rule.match = GetString(n, p, false);
              Check(p, config_checks::CheckRegex(rule.match));
              has_match = true;
            }},
           {"name", [&](const YAML::Node& n, const std::string& p) {
              rule.name = GetString(n, p, false);
              if (rule.name.empty()) throw ConfigError(p, "empty service name");
              has_name = true;
            }}});
  if (!has_match) throw ConfigError(path + ".match", "missing required key");
  if (!has_name) throw ConfigError(path + ".name", "missing required key");
  c.services.push_back(std::move(rule));
}

void ParseRouteRule(const YAML::Node& node, const std::string& path, Config& c) {
  if (node.IsNull()) throw ConfigError(path, "expected a mapping with pattern (and service)");
  RouteRule rule;
  bool has_pattern = false;
  WalkMap(node, path,
          {{"service", [&](const YAML::Node& n,
                           const std::string& p) { rule.service = GetString(n, p, true); }},
           {"pattern", [&](const YAML::Node& n, const std::string& p) {
              rule.pattern = GetString(n, p, false);
              Check(p, config_checks::CheckRoutePattern(rule.pattern));
              has_pattern = true;
            }}});
  if (!has_pattern) throw ConfigError(path + ".pattern", "missing required key");
  c.route_rules.push_back(std::move(rule));
}

void ParseCategoryRule(const YAML::Node& node, const std::string& path, Config& c) {
  if (node.IsNull())
    throw ConfigError(path, "expected a mapping with category and module/function");
  CategoryRuleConfig rule;
  bool has_category = false;
  WalkMap(node, path,
          {{"module", [&](const YAML::Node& n,
                          const std::string& p) { rule.module = GetString(n, p, true); }},
           {"function", [&](const YAML::Node& n,
                            const std::string& p) { rule.function = GetString(n, p, true); }},
           {"category", [&](const YAML::Node& n, const std::string& p) {
              rule.category = GetString(n, p, false);
              static const std::set<std::string> kNames = {"auth", "validation", "serialization",
                                                           "db",   "framework",  "app"};
              if (!kNames.count(rule.category))
                throw ConfigError(p, "unknown category \"" + rule.category +
                                         "\" (expected auth, validation, serialization, db, "
                                         "framework or app)");
              has_category = true;
            }}});
  if (!has_category) throw ConfigError(path + ".category", "missing required key");
  if (rule.module.empty() && rule.function.empty())
    throw ConfigError(path, "a rule needs module or function (or both)");
  c.category_rules.push_back(std::move(rule));
}

void ParsePython(const YAML::Node& node, const std::string& path, Config& c) {
  WalkMap(node, path,
          {{"sampling",
            [&](const YAML::Node& n, const std::string& p) { c.python_sampling = GetBool(n, p); }},
           {"request_identity",
            [&](const YAML::Node& n, const std::string& p) { c.request_identity = GetBool(n, p); }},
           {"sample_hz", [&](const YAML::Node& n,
                             const std::string& p) { c.sample_hz = GetUint(n, p, 1, 1000); }},
           {"max_threads_per_worker",
            [&](const YAML::Node& n, const std::string& p) {
              c.max_threads_per_worker = GetUint(n, p, 1, 65536);
            }},
           {"categories", [&](const YAML::Node& n, const std::string& p) {
              WalkList(n, p, [&](const YAML::Node& item, const std::string& ip) {
                ParseCategoryRule(item, ip, c);
              });
            }}});
}

void ParseRoutes(const YAML::Node& node, const std::string& path, Config& c) {
  WalkMap(
      node, path,
      {{"openapi", [&](const YAML::Node& n, const std::string& p) { c.openapi = GetBool(n, p); }},
       {"openapi_path",
        [&](const YAML::Node& n, const std::string& p) {
          c.openapi_path = GetString(n, p, false);
          if (c.openapi_path.empty() || c.openapi_path.front() != '/') {
            throw ConfigError(p, "must start with '/', got '" + c.openapi_path + "'");
          }
        }},
       {"openapi_timeout_ms",
        [&](const YAML::Node& n, const std::string& p) {
          c.openapi_timeout_ms = GetUint(n, p, 1, 600000);
        }},
       {"max_per_service",
        [&](const YAML::Node& n, const std::string& p) {
          c.max_routes_per_service = GetUint(n, p, 1, 100000);
        }},
       {"heuristic_min_requests",
        [&](const YAML::Node& n, const std::string& p) {
          c.heuristic_min_requests = GetUint(n, p, 1, 1000000);
        }},
       {"rules", [&](const YAML::Node& n, const std::string& p) {
          WalkList(n, p, [&](const YAML::Node& item, const std::string& ip) {
            ParseRouteRule(item, ip, c);
          });
        }}});
}

void ParseAggregation(const YAML::Node& node, const std::string& path, Config& c) {
  bool idle_set = false;
  WalkMap(
      node, path,
      {{"window_max_seconds",
        [&](const YAML::Node& n, const std::string& p) {
          c.window_max_seconds = GetUint(n, p, 10, 86400);
        }},
       {"max_services", [&](const YAML::Node& n,
                            const std::string& p) { c.max_services = GetUint(n, p, 1, 100000); }},
       {"max_routes", [&](const YAML::Node& n,
                          const std::string& p) { c.max_routes = GetUint(n, p, 1, 10000000); }},
       {"max_series", [&](const YAML::Node& n,
                          const std::string& p) { c.max_series = GetUint(n, p, 1, 10000000); }},
       {"idle_seconds", [&](const YAML::Node& n, const std::string& p) {
          c.idle_seconds = GetUint(n, p, 60, 604800);
          idle_set = true;
        }}});
  // An entry evicted while still inside the longest window would make that
  // window lie. Unset, the idle time follows a longer window.
  if (!idle_set) {
    c.idle_seconds = std::max(c.idle_seconds, c.window_max_seconds);
  } else if (c.idle_seconds < c.window_max_seconds) {
    throw ConfigError(path + ".idle_seconds", "must be at least aggregation.window_max_seconds (" +
                                                  std::to_string(c.window_max_seconds) + "), got " +
                                                  std::to_string(c.idle_seconds));
  }
}

void ParseEventLoop(const YAML::Node& node, const std::string& path, Config& c) {
  WalkMap(node, path,
          {{"enabled",
            [&](const YAML::Node& n, const std::string& p) { c.event_loop = GetBool(n, p); }},
           {"blocking_threshold_ms", [&](const YAML::Node& n, const std::string& p) {
              c.loop_blocking_threshold_ms = GetUint(n, p, 1, 60000);
            }}});
}

void ParseDb(const YAML::Node& node, const std::string& path, Config& c) {
  WalkMap(node, path,
          {{"n_plus_one_min_calls",
            [&](const YAML::Node& n, const std::string& p) {
              c.n_plus_one_min_calls = GetUint(n, p, 2, 100000);
            }},
           {"max_fingerprints_per_service",
            [&](const YAML::Node& n, const std::string& p) {
              c.max_fingerprints_per_service = GetUint(n, p, 1, 100000);
            }},
           {"top_k_query_ids", [&](const YAML::Node& n, const std::string& p) {
              c.top_k_query_ids = GetUint(n, p, 1, 1000);
            }}});
}

void ParseK8s(const YAML::Node& node, const std::string& path, Config& c) {
  auto& k = c.kubernetes;
  WalkMap(node, path,
          {{"enabled",
            [&](const YAML::Node& n, const std::string& p) {
              // A plain true/false is a YAML bool; "auto" is a string.
              if (n.IsScalar() && !IsQuoted(n) && n.Scalar() == "auto") {
                k.enabled = "auto";
              } else {
                k.enabled = GetBool(n, p) ? "true" : "false";
              }
            }},
           {"api_server",
            [&](const YAML::Node& n, const std::string& p) {
              k.api_server = GetString(n, p, true);
              if (!k.api_server.empty() && k.api_server.rfind("https://", 0) != 0 &&
                  k.api_server.rfind("http://", 0) != 0)
                throw ConfigError(
                    p, "must start with https:// (or http://), got '" + k.api_server + "'");
              while (!k.api_server.empty() && k.api_server.back() == '/') k.api_server.pop_back();
            }},
           {"token_path", [&](const YAML::Node& n,
                              const std::string& p) { k.token_path = GetString(n, p, true); }},
           {"ca_path",
            [&](const YAML::Node& n, const std::string& p) { k.ca_path = GetString(n, p, true); }},
           {"metric_labels",
            [&](const YAML::Node& n, const std::string& p) { k.metric_labels = GetBool(n, p); }},
           {"max_pods", [&](const YAML::Node& n,
                            const std::string& p) { k.max_pods = GetUint(n, p, 1, 100000); }},
           {"service_label_keys", [&](const YAML::Node& n, const std::string& p) {
              k.service_label_keys.clear();
              WalkList(n, p, [&](const YAML::Node& item, const std::string& ip) {
                std::string key = GetString(item, ip, false);
                // A label key: [prefix/]name, at most 253 + 1 + 63 characters.
                if (key.empty() || key.size() > 317 ||
                    key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789-_./") != std::string::npos)
                  throw ConfigError(ip, "not a Kubernetes label key: '" + key + "'");
                k.service_label_keys.push_back(std::move(key));
              });
            }}});
}

Config ParseNamed(const std::string& yaml_text, const std::string& source) {
  const YAML::Node doc = LoadOneYamlDocument(yaml_text, source);
  Config c;
  if (!doc.IsDefined() || doc.IsNull()) return c;
  WalkMap(
      doc, "",
      {{"listen",
        [&](const YAML::Node& n, const std::string& p) {
          ParseListen(n, p, c);
          CheckListen(c);
        }},
       {"discovery",
        [&](const YAML::Node& n, const std::string& p) {
          WalkMap(n, p,
                  {{"scan_interval_ms",
                    [&](const YAML::Node& v, const std::string& vp) {
                      c.scan_interval_ms = GetUint(v, vp, 10, 60000);
                    }},
                   {"include", [&](const YAML::Node& v, const std::string& vp) {
                      c.discovery_include = GetString(v, vp, true);
                      if (!c.discovery_include.empty()) {
                        Check(vp, config_checks::CheckRegex(c.discovery_include));
                      }
                    }}});
        }},
       {"services",
        [&](const YAML::Node& n, const std::string& p) {
          WalkList(n, p, [&](const YAML::Node& item, const std::string& ip) {
            ParseService(item, ip, c);
          });
        }},
       {"routes", [&](const YAML::Node& n, const std::string& p) { ParseRoutes(n, p, c); }},
       {"http",
        [&](const YAML::Node& n, const std::string& p) {
          WalkMap(n, p,
                  {{"response_idle_timeout_ms", [&](const YAML::Node& v, const std::string& vp) {
                      c.response_idle_timeout_ms = GetUint(v, vp, 1, 600000);
                    }}});
        }},
       {"python", [&](const YAML::Node& n, const std::string& p) { ParsePython(n, p, c); }},
       {"aggregation",
        [&](const YAML::Node& n, const std::string& p) { ParseAggregation(n, p, c); }},
       {"db", [&](const YAML::Node& n, const std::string& p) { ParseDb(n, p, c); }},
       {"event_loop", [&](const YAML::Node& n, const std::string& p) { ParseEventLoop(n, p, c); }},
       {"kubernetes", [&](const YAML::Node& n, const std::string& p) { ParseK8s(n, p, c); }},
       {"log", [&](const YAML::Node& n, const std::string& p) {
          WalkMap(n, p, {{"level", [&](const YAML::Node& v, const std::string& vp) {
                            c.log_level = GetString(v, vp, false);
                            Check(vp, config_checks::CheckLogLevel(c.log_level));
                          }}});
        }}});
  return c;
}

}  // namespace

bool IsLoopbackHostPort(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  std::string host = colon == std::string::npos ? host_port : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  // 127.0.0.0/8; inet_pton takes only dotted quads, so "127.1" is not one.
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

void CheckListenSecurity(const Config& c) {
  const bool tls = !c.grpc_tls_cert.empty();
  if (c.grpc_tcp.empty()) {
    if (tls) {
      throw ConfigError("listen.grpc_tls_cert",
                        "set, but listen.grpc_tcp is empty (TLS secures the TCP listener only; "
                        "the unix socket is guarded by its file mode)");
    }
    return;
  }
  if (tls && c.grpc_tcp_insecure) {
    throw ConfigError("listen.grpc_tcp_insecure",
                      "true, but the listen.grpc_tls_* files are set: choose one");
  }
  if (!tls && !c.grpc_tcp_insecure && !IsLoopbackHostPort(c.grpc_tcp)) {
    throw ConfigError("listen.grpc_tcp",
                      "'" + c.grpc_tcp +
                          "' is not a loopback address and the API would be plaintext: set "
                          "listen.grpc_tls_cert, listen.grpc_tls_key and "
                          "listen.grpc_tls_client_ca (mTLS), or listen.grpc_tcp_insecure: true "
                          "on a trusted network (docs/SECURITY.md)");
  }
}

// A perfd config is a few KiB; far more is a mistake (the wrong file).
constexpr size_t kMaxConfigBytes = 16 << 20;

Config ParseConfig(const std::string& yaml_text) { return ParseNamed(yaml_text, "config"); }

Config LoadConfigFile(const std::string& path) {
  return ParseNamed(ReadConfiguredFile("config", path, kMaxConfigBytes), path);
}

}  // namespace perfd
