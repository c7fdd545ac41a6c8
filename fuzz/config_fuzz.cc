// ParseConfig over any YAML text. The config is root's own file, but every
// mistake in it must be a ConfigError that names the key (perfd then exits
// with code 2): any other exception escaping is a crash here, and libFuzzer
// reports it. A config that loads has every value within its documented
// range (docs/CONFIG.md), and every route rule is a template the route
// table accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config/config.h"
#include "daemon/routes/route_template.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  perfd::Config c;
  try {
    c = perfd::ParseConfig(text);
  } catch (const perfd::ConfigError& e) {
    FUZZ_CHECK(!e.key().empty());
    // what() is "key: message"; a C string, so it ends early if the key
    // (text from the file) holds a NUL byte.
    const std::string full = e.key() + ": ";
    const std::string what = e.what();
    FUZZ_CHECK(full.rfind(what, 0) == 0 || what.rfind(full, 0) == 0);
    return 0;
  }
  FUZZ_CHECK(c.scan_interval_ms >= 10 && c.scan_interval_ms <= 60000);
  FUZZ_CHECK(c.openapi_timeout_ms >= 1 && c.openapi_timeout_ms <= 600000);
  FUZZ_CHECK(c.max_routes_per_service >= 1 && c.max_routes_per_service <= 100000);
  FUZZ_CHECK(c.response_idle_timeout_ms >= 1 && c.response_idle_timeout_ms <= 600000);
  FUZZ_CHECK(c.sample_hz >= 1 && c.sample_hz <= 1000);
  FUZZ_CHECK(c.max_threads_per_worker >= 1 && c.max_threads_per_worker <= 65536);
  FUZZ_CHECK(c.window_max_seconds >= 10 && c.window_max_seconds <= 86400);
  FUZZ_CHECK(!c.openapi_path.empty() && c.openapi_path.front() == '/');
  for (const auto& rule : c.route_rules) FUZZ_CHECK(perfd::RouteTemplate::Parse(rule.pattern));
  for (const auto& svc : c.services) FUZZ_CHECK(!svc.match.empty() && !svc.name.empty());
  for (const auto& cat : c.category_rules) FUZZ_CHECK(!cat.module.empty() || !cat.function.empty());
  return 0;
}
