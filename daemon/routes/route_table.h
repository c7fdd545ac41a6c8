// Maps raw request paths of one service to low-cardinality route templates.
// Order: config rules, then the service's OpenAPI templates, then heuristics
// (path_heuristics.h: only static words survive as text). Route names become
// Prometheus label values, so no raw path text gets through:
// - once the service's OpenAPI document is installed, a path that matches
//   no rule or template is "unmatched" (one route, whatever the path);
// - without a document, a heuristic template gets its own route at its
//   heuristic_min_requests-th request (route_probation.h); before that its
//   requests are "other";
// - at most max_routes distinct templates (rules, OpenAPI, promoted
//   heuristics) per service; later ones are "other". The pseudo-routes do
//   not count against the cap.
// Every request folded into a pseudo-route is counted by reason (folded()).
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

// Pseudo-routes. Templates start with '/', so these never clash with one.
inline constexpr const char* kOtherRoute = "other";
inline constexpr const char* kUnmatchedRoute = "unmatched";

// Requests a heuristic template needs before it gets its own route
// (routes.heuristic_min_requests).
inline constexpr uint32_t kDefaultHeuristicMinRequests = 3;
// Heuristic templates waiting for their row, per service. Past it the least
// repeated are forgotten (route_probation.h).
inline constexpr size_t kMaxRouteCandidates = 1024;

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
  RouteTable(std::vector<std::string> rule_patterns, uint32_t max_routes,
             uint32_t heuristic_min_requests = kDefaultHeuristicMinRequests);
  ~RouteTable();

  // Installs the service's OpenAPI document (its paths): replaces the
  // templates, keeping the first kMaxOpenApiTemplates valid ones, and from
  // now on paths that match none are "unmatched". `omitted`: paths of the
  // document its reader already left out (past the cap), counted too_many.
  // Thread-safe.
  void SetOpenApiTemplates(const std::vector<std::string>& templates, uint64_t omitted = 0);
  // Template for a path (no query string). Thread-safe.
  std::string Route(std::string_view path);
  // Requests reported under a pseudo-route, by reason: "cap" (-> other, the
  // template came after max_routes), "unproven" (-> other, a heuristic
  // template below heuristic_min_requests), "unmatched" (-> unmatched, the
  // document has no template for the path, or the lookup ran out of budget).
  // Reasons with no request are absent.
  std::map<std::string, uint64_t> folded() const;
  // OpenAPI templates refused since start, by reason: "too_many" (over
  // kMaxOpenApiTemplates) or a TemplateErrorName. Counted on every
  // SetOpenApiTemplates, so a refetched document counts again.
  std::map<std::string, uint64_t> refused() const;
  // OpenAPI templates in use now.
  size_t openapi_templates() const;
  // Lookups that ran out of kMaxLookupSteps (then "unmatched" with a
  // document, the heuristics without).
  uint64_t lookups_over_budget() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfd
