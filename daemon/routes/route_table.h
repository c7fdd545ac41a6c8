// Maps raw request paths of one service to low-cardinality route templates.
// Order: config rules, then the service's OpenAPI templates, then heuristics
// (numeric, UUID, hex and long opaque segments become placeholders). At most
// max_routes distinct routes; later ones are reported as "other".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace perfd {

inline constexpr const char* kOtherRoute = "other";

class RouteTable {
 public:
  RouteTable(std::vector<std::string> rule_patterns, uint32_t max_routes);
  ~RouteTable();

  // Replaces the templates learnt from the OpenAPI document. Thread-safe.
  void SetOpenApiTemplates(const std::vector<std::string>& templates);
  // Template for a path (no query string). Thread-safe.
  std::string Route(std::string_view path);
  // Paths folded into "other" because the cap was reached.
  uint64_t overflowed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfd
