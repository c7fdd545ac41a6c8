#include "daemon/config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace perfd {
namespace {

// Parses yaml expecting a ConfigError for exactly `key` whose message
// contains `fragment`.
void ExpectError(const std::string& yaml, const std::string& key, const std::string& fragment) {
  SCOPED_TRACE("yaml:\n" + yaml);
  try {
    ParseConfig(yaml);
    ADD_FAILURE() << "no error, expected one for " << key;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message '" << e.what() << "' lacks '" << fragment << "'";
  }
}

TEST(ConfigTest, EmptyTextMeansDefaults) {
  for (const std::string text : {"", "\n\n", "# only a comment\n", "---\n"}) {
    const Config c = ParseConfig(text);
    EXPECT_EQ(c.metrics_address, "127.0.0.1:9464");  // loopback unless configured
    EXPECT_EQ(c.grpc_socket, "/run/perfd/perfd.sock");
    EXPECT_EQ(c.grpc_socket_group, "");
    EXPECT_EQ(c.grpc_tcp, "");
    EXPECT_EQ(c.scan_interval_ms, 250u);
    EXPECT_TRUE(c.services.empty());
    EXPECT_TRUE(c.openapi);
    EXPECT_EQ(c.openapi_path, "/openapi.json");
    EXPECT_EQ(c.openapi_timeout_ms, 1000u);
    EXPECT_EQ(c.max_routes_per_service, 100u);
    EXPECT_EQ(c.heuristic_min_requests, 3u);
    EXPECT_TRUE(c.route_rules.empty());
    EXPECT_EQ(c.response_idle_timeout_ms, 1000u);
    EXPECT_EQ(c.window_max_seconds, 600u);
    EXPECT_EQ(c.log_level, "info");
  }
}

TEST(ConfigTest, EmptySectionsMeanDefaults) {
  const Config c = ParseConfig("listen:\ndiscovery:\nservices:\nroutes:\nhttp:\nlog:\n");
  EXPECT_EQ(c.metrics_address, "127.0.0.1:9464");  // loopback unless configured
  EXPECT_EQ(c.scan_interval_ms, 250u);
  EXPECT_TRUE(c.services.empty());
}

TEST(ConfigTest, EveryKeySet) {
  const Config c = ParseConfig(R"(
listen:
  metrics: "127.0.0.1:9100"
  grpc_socket: /tmp/perfd.sock
  grpc_socket_group: perfd
  grpc_tcp: "[::1]:50051"
discovery:
  scan_interval_ms: 500
services:
  - match: "shop\\.main:app"
    name: shop-api
  - {match: "--port 9000", name: admin}
routes:
  openapi: false
  openapi_path: /api/openapi.json
  openapi_timeout_ms: 2500
  max_per_service: 250
  rules:
    - {service: shop-api, pattern: "/users/{user_id}"}
    - pattern: "/health"
http:
  response_idle_timeout_ms: 3000
aggregation:
  window_max_seconds: 3600
log:
  level: debug
)");
  EXPECT_EQ(c.metrics_address, "127.0.0.1:9100");
  EXPECT_EQ(c.grpc_socket, "/tmp/perfd.sock");
  EXPECT_EQ(c.grpc_socket_group, "perfd");
  EXPECT_EQ(c.grpc_tcp, "[::1]:50051");
  EXPECT_EQ(c.scan_interval_ms, 500u);
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].match, "shop\\.main:app");
  EXPECT_EQ(c.services[0].name, "shop-api");
  EXPECT_EQ(c.services[1].match, "--port 9000");
  EXPECT_EQ(c.services[1].name, "admin");
  EXPECT_FALSE(c.openapi);
  EXPECT_EQ(c.openapi_path, "/api/openapi.json");
  EXPECT_EQ(c.openapi_timeout_ms, 2500u);
  EXPECT_EQ(c.max_routes_per_service, 250u);
  ASSERT_EQ(c.route_rules.size(), 2u);
  EXPECT_EQ(c.route_rules[0].service, "shop-api");
  EXPECT_EQ(c.route_rules[0].pattern, "/users/{user_id}");
  EXPECT_EQ(c.route_rules[1].service, "");
  EXPECT_EQ(c.route_rules[1].pattern, "/health");
  EXPECT_EQ(c.response_idle_timeout_ms, 3000u);
  EXPECT_EQ(c.window_max_seconds, 3600u);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigTest, EventLoopSection) {
  Config d = ParseConfig("");
  EXPECT_TRUE(d.event_loop);
  EXPECT_EQ(d.loop_blocking_threshold_ms, 20u);
  Config c = ParseConfig("event_loop:\n  enabled: false\n  blocking_threshold_ms: 50\n");
  EXPECT_FALSE(c.event_loop);
  EXPECT_EQ(c.loop_blocking_threshold_ms, 50u);
  ExpectError("event_loop:\n  enabled: 3\n", "event_loop.enabled", "");
  ExpectError("event_loop:\n  treshold: 3\n", "event_loop.treshold", "unknown key");
}

TEST(ConfigTest, UnknownKeysNameTheirFullPath) {
  ExpectError("lisen: {}\n", "lisen", "unknown key (did you mean 'listen'?)");
  ExpectError("bogus: 1\n", "bogus", "unknown key");
  ExpectError("listen: {metric: '1.2.3.4:5'}\n", "listen.metric", "unknown key");
  ExpectError("discovery: {scan_interval: 100}\n", "discovery.scan_interval", "unknown key");
  ExpectError("routes:\n  max_per_servce: 5\n", "routes.max_per_servce",
              "unknown key (did you mean 'max_per_service'?)");
  ExpectError("routes:\n  rules:\n    - {pattern: /a, patern: /b}\n", "routes.rules[0].patern",
              "unknown key");
  ExpectError("services:\n  - {match: a, name: a}\n  - {match: b, nam: b}\n", "services[1].nam",
              "unknown key");
  ExpectError("http: {idle_timeout_ms: 5}\n", "http.idle_timeout_ms", "unknown key");
  ExpectError("aggregation: {window: 5}\n", "aggregation.window", "unknown key");
  ExpectError("log: {lvl: info}\n", "log.lvl", "unknown key");
}

// Found by fuzz/config_fuzz.cc: an empty key made the error name no key at
// all (": unknown key").
TEST(ConfigTest, EmptyKeyIsNamedQuoted) {
  ExpectError("\"\": 1\n", "\"\"", "unknown key");
  ExpectError("log: {'': info}\n", "log.\"\"", "unknown key");
}

TEST(ConfigTest, DuplicateKeyIsAnError) {
  ExpectError("log: {level: info}\nlog: {level: debug}\n", "log", "duplicate key");
  ExpectError("http:\n  response_idle_timeout_ms: 5\n  response_idle_timeout_ms: 6\n",
              "http.response_idle_timeout_ms", "duplicate key");
}

TEST(ConfigTest, WrongShapes) {
  ExpectError("- a\n- b\n", "config", "expected a mapping");
  ExpectError("just a string\n", "config", "expected a mapping");
  ExpectError("listen: 5\n", "listen", "expected a mapping");
  ExpectError("listen: [a]\n", "listen", "expected a mapping");
  ExpectError("services: {match: a, name: b}\n", "services", "expected a list");
  ExpectError("services: [a]\n", "services[0]", "expected a mapping");
  ExpectError("services:\n  -\n", "services[0]", "expected a mapping");
  ExpectError("routes: {rules: {pattern: /a}}\n", "routes.rules", "expected a list");
  ExpectError("routes: {rules: [/a]}\n", "routes.rules[0]", "expected a mapping");
  ExpectError("listen: {metrics: [a]}\n", "listen.metrics", "expected a string");
  ExpectError("log: {level: {a: b}}\n", "log.level", "expected a string");
  ExpectError("log: {level: }\n", "log.level", "expected a string");
}

struct NumberKey {
  std::string section;
  std::string key;
  std::string path;
  uint32_t min;
  uint32_t max;
  uint32_t Config::*field;
};

TEST(ConfigTest, NumbersAcceptTheirRangeAndRejectEverythingElse) {
  const NumberKey keys[] = {
      {"discovery", "scan_interval_ms", "discovery.scan_interval_ms", 10, 60000,
       &Config::scan_interval_ms},
      {"routes", "openapi_timeout_ms", "routes.openapi_timeout_ms", 1, 600000,
       &Config::openapi_timeout_ms},
      {"routes", "max_per_service", "routes.max_per_service", 1, 100000,
       &Config::max_routes_per_service},
      {"routes", "heuristic_min_requests", "routes.heuristic_min_requests", 1, 1000000,
       &Config::heuristic_min_requests},
      {"http", "response_idle_timeout_ms", "http.response_idle_timeout_ms", 1, 600000,
       &Config::response_idle_timeout_ms},
      {"aggregation", "window_max_seconds", "aggregation.window_max_seconds", 10, 86400,
       &Config::window_max_seconds},
      {"aggregation", "max_services", "aggregation.max_services", 1, 100000, &Config::max_services},
      {"aggregation", "max_routes", "aggregation.max_routes", 1, 10000000, &Config::max_routes},
      {"aggregation", "max_series", "aggregation.max_series", 1, 10000000, &Config::max_series},
      {"db", "n_plus_one_min_calls", "db.n_plus_one_min_calls", 2, 100000,
       &Config::n_plus_one_min_calls},
      {"db", "max_fingerprints_per_service", "db.max_fingerprints_per_service", 1, 100000,
       &Config::max_fingerprints_per_service},
      {"db", "top_k_query_ids", "db.top_k_query_ids", 1, 1000, &Config::top_k_query_ids},
      {"event_loop", "blocking_threshold_ms", "event_loop.blocking_threshold_ms", 1, 60000,
       &Config::loop_blocking_threshold_ms},
  };
  for (const auto& k : keys) {
    auto yaml = [&](const std::string& v) { return k.section + ":\n  " + k.key + ": " + v + "\n"; };
    EXPECT_EQ(ParseConfig(yaml(std::to_string(k.min))).*k.field, k.min) << k.path;
    EXPECT_EQ(ParseConfig(yaml(std::to_string(k.max))).*k.field, k.max) << k.path;
    ExpectError(yaml(std::to_string(k.min - 1)), k.path, "must be between");
    ExpectError(yaml(std::to_string(k.max + 1)), k.path, "must be between");
    ExpectError(yaml("-5"), k.path, "must be between");
    ExpectError(yaml("99999999999999999999999"), k.path, "must be between");
    ExpectError(yaml("1.5"), k.path, "expected an integer");
    ExpectError(yaml("fast"), k.path, "expected an integer");
    ExpectError(yaml("\"100\""), k.path, "quoted string");
    ExpectError(yaml("[1]"), k.path, "expected an integer");
    ExpectError(yaml("~"), k.path, "expected an integer");
  }
}

TEST(ConfigTest, AggregationCapsHaveDefaults) {
  const Config c = ParseConfig("");
  EXPECT_EQ(c.max_services, 200u);
  EXPECT_EQ(c.max_routes, 10000u);
  EXPECT_EQ(c.max_series, 10000u);
  EXPECT_EQ(c.idle_seconds, 900u);
}

TEST(ConfigTest, DbKeysHaveDefaults) {
  const Config c = ParseConfig("");
  EXPECT_EQ(c.n_plus_one_min_calls, 5u);
  EXPECT_EQ(c.max_fingerprints_per_service, 500u);
  EXPECT_EQ(c.top_k_query_ids, 20u);
  ExpectError("db:\n  n_plus_one: 5\n", "db.n_plus_one", "unknown");
}

// Idle entries are evicted; never while still inside the longest window.
TEST(ConfigTest, IdleSecondsCoversTheLongestWindow) {
  EXPECT_EQ(ParseConfig("aggregation: {idle_seconds: 3600}").idle_seconds, 3600u);
  EXPECT_EQ(ParseConfig("aggregation: {idle_seconds: 604800}").idle_seconds, 604800u);
  ExpectError("aggregation: {idle_seconds: 59, window_max_seconds: 10}", "aggregation.idle_seconds",
              "must be between 60 and 604800");
  ExpectError("aggregation: {idle_seconds: 300}", "aggregation.idle_seconds",
              "must be at least aggregation.window_max_seconds (600), got 300");
  EXPECT_EQ(ParseConfig("aggregation: {idle_seconds: 60, window_max_seconds: 60}").idle_seconds,
            60u);
  // Unset, it follows a longer window.
  EXPECT_EQ(ParseConfig("aggregation: {window_max_seconds: 3600}").idle_seconds, 3600u);
}

TEST(ConfigTest, OpenApiFlagIsABoolean) {
  EXPECT_FALSE(ParseConfig("routes: {openapi: false}").openapi);
  EXPECT_FALSE(ParseConfig("routes: {openapi: no}").openapi);
  EXPECT_TRUE(ParseConfig("routes: {openapi: True}").openapi);
  ExpectError("routes: {openapi: maybe}", "routes.openapi", "expected true or false");
  ExpectError("routes: {openapi: 1}", "routes.openapi", "expected true or false");
  ExpectError("routes: {openapi: 'true'}", "routes.openapi", "expected true or false");
}

TEST(ConfigTest, OpenApiPathMustBeAbsolute) {
  EXPECT_EQ(ParseConfig("routes: {openapi_path: /docs/spec.json}").openapi_path, "/docs/spec.json");
  ExpectError("routes: {openapi_path: openapi.json}", "routes.openapi_path", "start with '/'");
  ExpectError("routes: {openapi_path: ''}", "routes.openapi_path", "start with '/'");
}

TEST(ConfigTest, ListenAddresses) {
  EXPECT_EQ(ParseConfig("listen: {metrics: 'localhost:9464'}").metrics_address, "localhost:9464");
  EXPECT_EQ(ParseConfig("listen: {metrics: '[::]:9464'}").metrics_address, "[::]:9464");
  EXPECT_EQ(ParseConfig("listen: {metrics: '127.0.0.1:0'}").metrics_address, "127.0.0.1:0");
  ExpectError("listen: {metrics: '9464'}", "listen.metrics", "expected host:port");
  ExpectError("listen: {metrics: ':9464'}", "listen.metrics", "missing host");
  ExpectError("listen: {metrics: 'localhost:99999'}", "listen.metrics", "invalid port");
  ExpectError("listen: {metrics: 'localhost:http'}", "listen.metrics", "invalid port");
  ExpectError("listen: {metrics: '::1:9464'}", "listen.metrics", "brackets");
  ExpectError("listen: {metrics: '300.1.1.1:80'}", "listen.metrics", "invalid host");
  ExpectError("listen: {metrics: ''}", "listen.metrics", "expected host:port");
  EXPECT_EQ(ParseConfig("listen: {grpc_tcp: '127.0.0.1:50051'}").grpc_tcp, "127.0.0.1:50051");
  EXPECT_EQ(ParseConfig("listen: {grpc_tcp: ''}").grpc_tcp, "");
  EXPECT_EQ(ParseConfig("listen: {grpc_tcp: }").grpc_tcp, "");
  ExpectError("listen: {grpc_tcp: 'bad host:1'}", "listen.grpc_tcp", "invalid host");
  EXPECT_EQ(ParseConfig("").health_address, "");  // off by default
  EXPECT_EQ(ParseConfig("listen: {health: '0.0.0.0:9465'}").health_address, "0.0.0.0:9465");
  EXPECT_EQ(ParseConfig("listen: {health: ''}").health_address, "");
  ExpectError("listen: {health: '0.0.0.0'}", "listen.health", "");
  ExpectError("listen: {health: 'localhost:99999'}", "listen.health", "invalid port");
}

TEST(ConfigTest, GrpcSocketAndGroup) {
  EXPECT_EQ(ParseConfig("listen: {grpc_socket: ''}").grpc_socket, "");
  ExpectError("listen: {grpc_socket: run/perfd.sock}", "listen.grpc_socket", "absolute");
  ExpectError("listen: {grpc_socket: /" + std::string(120, 'a') + "}", "listen.grpc_socket",
              "longer than");
  EXPECT_EQ(ParseConfig("listen: {grpc_socket_group: perf-users}").grpc_socket_group, "perf-users");
  ExpectError("listen: {grpc_socket_group: 'perf users'}", "listen.grpc_socket_group",
              "invalid group");
}

TEST(ConfigTest, EmptyGrpcSocketDisablesTheUnixSocket) {
  // "" and "~" both switch the unix socket off; the API is then TCP only...
  Config c = ParseConfig("listen: {grpc_socket: '', grpc_tcp: '127.0.0.1:50051'}");
  EXPECT_EQ(c.grpc_socket, "");
  EXPECT_EQ(c.grpc_tcp, "127.0.0.1:50051");
  EXPECT_EQ(ParseConfig("listen: {grpc_socket: ~}").grpc_socket, "");
  // ...or off altogether (perfd warns and serves /metrics only).
  c = ParseConfig("listen:\n  grpc_socket: \"\"\n");
  EXPECT_EQ(c.grpc_socket, "");
  EXPECT_EQ(c.grpc_tcp, "");
  // A group for a socket that is not created would silently do nothing.
  ExpectError("listen: {grpc_socket: '', grpc_socket_group: perf}", "listen.grpc_socket_group",
              "listen.grpc_socket is empty");
  ExpectError("listen: {grpc_socket_group: perf, grpc_socket: ''}", "listen.grpc_socket_group",
              "listen.grpc_socket is empty");
}

TEST(ConfigTest, GrpcTlsFilesComeTogether) {
  const Config c = ParseConfig(
      "listen: {grpc_tcp: '0.0.0.0:50051', grpc_tls_cert: /t/tls.crt, grpc_tls_key: /t/tls.key,"
      " grpc_tls_client_ca: /t/ca.crt}");
  EXPECT_EQ(c.grpc_tls_cert, "/t/tls.crt");
  EXPECT_EQ(c.grpc_tls_key, "/t/tls.key");
  EXPECT_EQ(c.grpc_tls_client_ca, "/t/ca.crt");
  EXPECT_FALSE(c.grpc_tcp_insecure);
  CheckListenSecurity(c);  // mTLS on every interface is fine
  ExpectError("listen: {grpc_tls_cert: /a, grpc_tls_key: /b}", "listen.grpc_tls_client_ca",
              "set together (mTLS) or not at all");
  ExpectError("listen: {grpc_tls_client_ca: /c}", "listen.grpc_tls_cert", "missing");
  ExpectError("listen: {grpc_tcp_insecure: 'yes'}", "listen.grpc_tcp_insecure",
              "expected true or false");
}

void ExpectSecurityError(const std::string& yaml, const std::string& key,
                         const std::string& fragment) {
  try {
    CheckListenSecurity(ParseConfig(yaml));
    ADD_FAILURE() << "no error for: " << yaml;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ConfigTest, PlaintextTcpOnlyOnLoopbackUnlessInsecure) {
  for (const char* ok : {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "[::1]:50051"}) {
    CheckListenSecurity(ParseConfig(std::string("listen: {grpc_tcp: '") + ok + "'}"));
  }
  ExpectSecurityError("listen: {grpc_tcp: '0.0.0.0:50051'}", "listen.grpc_tcp",
                      "not a loopback address and the API would be plaintext");
  ExpectSecurityError("listen: {grpc_tcp: '[::]:50051'}", "listen.grpc_tcp", "plaintext");
  ExpectSecurityError("listen: {grpc_tcp: '10.1.2.3:50051'}", "listen.grpc_tcp", "plaintext");
  ExpectSecurityError("listen: {grpc_tcp: 'node1.example:50051'}", "listen.grpc_tcp", "plaintext");
  CheckListenSecurity(ParseConfig("listen: {grpc_tcp: '0.0.0.0:50051', grpc_tcp_insecure: true}"));
  ExpectSecurityError(
      "listen: {grpc_tcp: '0.0.0.0:1', grpc_tcp_insecure: true, grpc_tls_cert: /a,"
      " grpc_tls_key: /b, grpc_tls_client_ca: /c}",
      "listen.grpc_tcp_insecure", "choose one");
  ExpectSecurityError("listen: {grpc_tls_cert: /a, grpc_tls_key: /b, grpc_tls_client_ca: /c}",
                      "listen.grpc_tls_cert", "listen.grpc_tcp is empty");
  EXPECT_FALSE(IsLoopbackHostPort("128.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackHostPort(":50051"));
}

TEST(ConfigTest, ServiceRules) {
  ExpectError("services: [{match: '(', name: x}]", "services[0].match", "invalid regex");
  ExpectError("services: [{match: '', name: x}]", "services[0].match", "empty regex");
  ExpectError("discovery: {include: '[a'}", "discovery.include", "invalid regex");
  EXPECT_EQ(ParseConfig("discovery: {include: 'port 80[0-9]+'}").discovery_include,
            "port 80[0-9]+");
  EXPECT_EQ(ParseConfig("discovery: {include: ''}").discovery_include, "");
  ExpectError("services: [{match: a, name: ''}]", "services[0].name", "empty service name");
  ExpectError("services: [{name: x}]", "services[0].match", "missing required key");
  ExpectError("services: [{match: a}]", "services[0].name", "missing required key");
  ExpectError("services: [{match: a, name: x}, {match: '[z-a]', name: y}]", "services[1].match",
              "invalid regex");
}

TEST(ConfigTest, RouteRules) {
  ExpectError("routes: {rules: [{pattern: 'users/{id}'}]}", "routes.rules[0].pattern",
              "must start with '/'");
  ExpectError("routes: {rules: [{service: a}]}", "routes.rules[0].pattern", "missing required key");
  ExpectError("routes: {rules: [{pattern: '/users/{id'}]}", "routes.rules[0].pattern",
              "unclosed '{'");
  ExpectError("routes: {rules: [{pattern: '/a'}, {pattern: '/users/{}'}]}",
              "routes.rules[1].pattern", "empty placeholder");
  EXPECT_EQ(ParseConfig("routes: {rules: [{service: , pattern: /a}]}").route_rules[0].service, "");
}

TEST(ConfigTest, LogLevels) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_EQ(ParseConfig(std::string("log: {level: ") + level + "}").log_level, level);
  }
  ExpectError("log: {level: verbose}", "log.level", "invalid log level");
  ExpectError("log: {level: INFO}", "log.level", "invalid log level");
}

TEST(ConfigTest, YamlSyntaxErrorGivesLineAndColumn) {
  ExpectError("listen:\n  metrics: [unclosed\n", "config", "line 3");
  ExpectError("log: {level: info\n", "config", "YAML syntax error at line");
  ExpectError("a: 1\n---\nb: 2\n", "config", "one YAML document");
}

// Found by fuzz/config_fuzz.cc. yaml-cpp 0.7's LoadAll never returns on a
// stray ',' where a document starts (jbeder/yaml-cpp#1040, fixed upstream in
// #1319): it appended a null document per turn until memory ran out, so a
// typo made perfd eat the machine's memory instead of exiting with code 2.
TEST(ConfigTest, StrayCommaIsASyntaxErrorNotAHang) {
  ExpectError(",", "config", "YAML syntax error at line 1, column 1");
  ExpectError(",a", "config", "YAML syntax error at line 1, column 1");
  ExpectError("# perfd\n, \nlog: {level: info}\n", "config", "YAML syntax error at line 2");
  ExpectError("log: {level: info}\n---\n,\n", "config", "YAML syntax error at line 3");
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/perfd_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_EQ(system(("rm -rf " + dir_).c_str()), 0); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigFileTest, LoadsAFile) {
  const Config c = LoadConfigFile(Write("perfd.yaml", "log: {level: warn}\n"));
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(LoadConfigFile(Write("empty.yaml", "")).scan_interval_ms, 250u);
}

TEST_F(ConfigFileTest, MissingOrUnreadableFileIsAConfigError) {
  try {
    LoadConfigFile(dir_ + "/nope.yaml");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "config");
    EXPECT_NE(std::string(e.what()).find("nope.yaml"), std::string::npos);
  }
  // A directory opens fine but reads fail: it must not pass as "empty = defaults".
  try {
    LoadConfigFile(dir_);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "config");
  }
}

TEST_F(ConfigFileTest, SyntaxErrorNamesTheFile) {
  const std::string path = Write("bad.yaml", "log:\n  level: [x\n");
  try {
    LoadConfigFile(path);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), path);
    EXPECT_NE(std::string(e.what()).find("line"), std::string::npos);
  }
}

TEST(ConfigExampleTest, ShippedExampleIsValidAndStatesTheDefaults) {
  // The example documents the defaults; its service/route rules are examples.
  const Config c = LoadConfigFile(PERFD_EXAMPLE_CONFIG);
  const Config d;
  EXPECT_EQ(c.metrics_address, d.metrics_address);
  EXPECT_EQ(c.grpc_socket, d.grpc_socket);
  EXPECT_EQ(c.scan_interval_ms, d.scan_interval_ms);
  EXPECT_EQ(c.openapi_timeout_ms, d.openapi_timeout_ms);
  EXPECT_EQ(c.max_routes_per_service, d.max_routes_per_service);
  EXPECT_EQ(c.heuristic_min_requests, d.heuristic_min_requests);
  EXPECT_EQ(c.response_idle_timeout_ms, d.response_idle_timeout_ms);
  EXPECT_EQ(c.window_max_seconds, d.window_max_seconds);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_FALSE(c.services.empty());
  EXPECT_FALSE(c.route_rules.empty());
}

}  // namespace
}  // namespace perfd

namespace perfd {
namespace {

TEST(PythonConfigTest, DefaultsAndValues) {
  Config d = ParseConfig("");
  EXPECT_TRUE(d.python_sampling);
  EXPECT_EQ(d.sample_hz, 99u);
  EXPECT_TRUE(d.request_identity);
  EXPECT_EQ(d.max_threads_per_worker, 256u);
  EXPECT_TRUE(d.category_rules.empty());
  Config c = ParseConfig(
      "python:\n  sampling: false\n  sample_hz: 49\n  request_identity: false\n"
      "  max_threads_per_worker: 16\n  categories:\n"
      "    - {module: 'myauth.*', category: auth}\n"
      "    - {function: '*render_page*', category: serialization}\n");
  EXPECT_FALSE(c.python_sampling);
  EXPECT_EQ(c.sample_hz, 49u);
  EXPECT_EQ(c.max_threads_per_worker, 16u);
  EXPECT_FALSE(c.request_identity);
  ASSERT_EQ(c.category_rules.size(), 2u);
  EXPECT_EQ(c.category_rules[0].module, "myauth.*");
  EXPECT_EQ(c.category_rules[0].category, "auth");
  EXPECT_EQ(c.category_rules[1].function, "*render_page*");
}

TEST(PythonConfigTest, ErrorsNameTheKey) {
  ExpectError("python: {sample_hz: 0}\n", "python.sample_hz", "");
  ExpectError("python: {sample_hz: 5000}\n", "python.sample_hz", "");
  ExpectError("python: {max_threads_per_worker: 0}\n", "python.max_threads_per_worker", "");
  ExpectError("python: {request_identity: maybe}\n", "python.request_identity", "");
  ExpectError("python: {categories: [{module: 'a.*', category: cpu}]}\n",
              "python.categories[0].category", "unknown category");
  ExpectError("python: {categories: [{module: 'a.*'}]}\n", "python.categories[0].category",
              "missing required key");
  ExpectError("python: {categories: [{category: db}]}\n", "python.categories[0]",
              "needs module or function");
  ExpectError("python: {sampling: maybe}\n", "python.sampling", "");
  ExpectError("python: {hz: 10}\n", "python.hz", "unknown key");
}

}  // namespace
}  // namespace perfd
