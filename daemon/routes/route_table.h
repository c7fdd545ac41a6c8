// Maps raw request paths of one service to low-cardinality route templates.
// Order: config rules, then the service's OpenAPI templates, then heuristics
// (numeric, UUID, hex and long opaque segments become placeholders). At most
// max_routes distinct routes; later ones are reported as "other".
//
// OpenAPI templates come from the service itself: at most
// kMaxOpenApiTemplates are kept, templates RouteTemplate::Parse refuses are
// dropped, and both are counted by reason. Each lookup's matching work is
// bounded by kMaxLookupSteps across all templates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace perfd {

inline constexpr const char* kOtherRoute = "other";

// OpenAPI templates kept per service, in document order. Large FastAPI apps
// declare a few hundred routes; more is a generated or hostile document, and
// every lookup tries every template.
inline constexpr size_t kMaxOpenApiTemplates = 2000;
// Matcher steps (route_template.h MatchBudget) per lookup, over rules and
// OpenAPI templates together: about 16 per template at the cap, where an
// ordinary template costs 1-5 (most fail on their segment count or first
// literal). Once spent, the lookup falls back to the heuristics.
inline constexpr uint64_t kMaxLookupSteps = 32768;

class RouteTable {
 public:
  RouteTable(std::vector<std::string> rule_patterns, uint32_t max_routes);
  ~RouteTable();

  // Replaces the templates learnt from the OpenAPI document, keeping the
  // first kMaxOpenApiTemplates valid ones. `omitted`: paths of the document
  // its reader already left out (past the cap), counted too_many. Thread-safe.
  void SetOpenApiTemplates(const std::vector<std::string>& templates, uint64_t omitted = 0);
  // Template for a path (no query string). Thread-safe.
  std::string Route(std::string_view path);
  // Paths folded into "other" because the cap was reached.
  uint64_t overflowed() const;
  // OpenAPI templates refused since start, by reason: "too_many" (over
  // kMaxOpenApiTemplates) or a TemplateErrorName. Counted on every
  // SetOpenApiTemplates, so a refetched document counts again.
  std::map<std::string, uint64_t> refused() const;
  // OpenAPI templates in use now.
  size_t openapi_templates() const;
  // Lookups that ran out of kMaxLookupSteps (and used the heuristics).
  uint64_t lookups_over_budget() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfd
