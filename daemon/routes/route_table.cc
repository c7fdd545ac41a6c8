#include "daemon/routes/route_table.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "daemon/routes/path_heuristics.h"
#include "daemon/routes/route_probation.h"
#include "daemon/routes/route_template.h"

namespace perfd {

namespace {

// Longer paths are cut before templating: they are almost always junk or
// attacks, and the cut bounds the work and the size of route names.
constexpr size_t kMaxPathLength = 256;

// Parses up to `max_kept` templates in order; the rest, and those Parse
// refuses, are counted in *refused by reason (if given).
std::vector<RouteTemplate> ParseAll(const std::vector<std::string>& texts, size_t max_kept,
                                    std::map<std::string, uint64_t>* refused) {
  std::vector<RouteTemplate> out;
  out.reserve(std::min(texts.size(), max_kept));
  for (size_t i = 0; i < texts.size(); ++i) {
    if (out.size() == max_kept) {
      // Not even parsed: the cap bounds the work as well as the table.
      if (refused != nullptr) (*refused)["too_many"] += texts.size() - i;
      break;
    }
    TemplateError reason = TemplateError::kNone;
    if (auto tmpl = RouteTemplate::Parse(texts[i], nullptr, &reason)) {
      out.push_back(std::move(*tmpl));
    } else if (refused != nullptr) {
      ++(*refused)[TemplateErrorName(reason)];
    }
  }
  return out;
}

// The most specific template matching `segments`; the first listed on ties.
// nullptr when none matches or the budget runs out: a partial scan could
// pick a less specific template than a full one, so it is not used.
const RouteTemplate* BestMatch(const std::vector<RouteTemplate>& templates,
                               const std::vector<std::string_view>& segments, MatchBudget& budget) {
  const RouteTemplate* best = nullptr;
  for (const RouteTemplate& tmpl : templates) {
    if (tmpl.Matches(segments, budget) && (best == nullptr || tmpl.MoreSpecificThan(*best))) {
      best = &tmpl;
    }
    if (budget.exhausted()) return nullptr;
  }
  return best;
}

// Drops a query or fragment the caller left in, the scheme and authority of
// an absolute-form target ("http://host/x"), and the tail past the limit.
std::string_view Normalize(std::string_view path) {
  path = path.substr(0, path.find_first_of("?#"));
  for (std::string_view scheme : {"http://", "https://"}) {
    if (path.substr(0, scheme.size()) == scheme) {
      size_t slash = path.find('/', scheme.size());
      path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
      break;
    }
  }
  if (path.empty()) path = "/";
  return path.substr(0, kMaxPathLength);
}

}  // namespace

struct RouteTable::Impl {
  explicit Impl(uint32_t min_requests) : probation(min_requests, kMaxRouteCandidates) {}

  std::vector<RouteTemplate> rules;
  uint32_t max_routes = 0;

  mutable std::mutex mu;
  std::vector<RouteTemplate> openapi;       // guarded by mu
  bool has_document = false;                // guarded by mu
  std::unordered_set<std::string> seen;     // templates with a route; guarded by mu
  RouteProbation probation;                 // guarded by mu
  std::map<std::string, uint64_t> folded;   // guarded by mu
  std::map<std::string, uint64_t> refused;  // guarded by mu
  uint64_t over_budget = 0;                 // guarded by mu

  // Called with mu held.
  const char* Fold(const char* reason, const char* pseudo_route) {
    ++folded[reason];
    return pseudo_route;
  }
};

RouteTable::RouteTable(std::vector<std::string> rule_patterns, uint32_t max_routes,
                       uint32_t heuristic_min_requests)
    : impl_(std::make_unique<Impl>(heuristic_min_requests)) {
  // Rules come from perfd's own config, which checks them with the same
  // parser at load (config_checks.cc), so nothing is refused here.
  impl_->rules = ParseAll(rule_patterns, rule_patterns.size(), nullptr);
  impl_->max_routes = max_routes;
}

RouteTable::~RouteTable() = default;

void RouteTable::SetOpenApiTemplates(const std::vector<std::string>& templates, uint64_t omitted) {
  std::map<std::string, uint64_t> refused;
  if (omitted != 0) refused["too_many"] = omitted;
  std::vector<RouteTemplate> parsed = ParseAll(templates, kMaxOpenApiTemplates, &refused);
  std::lock_guard<std::mutex> lock(impl_->mu);  // parsed outside the lock
  impl_->openapi.swap(parsed);
  impl_->has_document = true;
  for (const auto& [reason, n] : refused) impl_->refused[reason] += n;
}

std::string RouteTable::Route(std::string_view path) {
  path = Normalize(path);
  std::vector<std::string_view> segments = SplitPath(path);

  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& t = *impl_;
  MatchBudget budget(kMaxLookupSteps);
  std::string route;
  bool heuristic = false;
  if (const RouteTemplate* rule = BestMatch(t.rules, segments, budget)) {
    route = rule->text();
  } else if (const RouteTemplate* api = BestMatch(t.openapi, segments, budget)) {
    route = api->text();
  } else if (t.has_document) {
    // The service said which routes it has; anything else (404s, scans,
    // mounts it does not document) is one route, never the path's text.
    if (budget.exhausted()) ++t.over_budget;
    return t.Fold("unmatched", kUnmatchedRoute);
  } else {
    route = HeuristicRoute(path);
    heuristic = true;
  }
  if (budget.exhausted()) ++t.over_budget;

  if (t.seen.count(route) != 0) return route;
  if (t.seen.size() >= t.max_routes) return t.Fold("cap", kOtherRoute);
  if (heuristic && !t.probation.Admit(route)) return t.Fold("unproven", kOtherRoute);
  t.seen.insert(route);
  return route;
}

std::map<std::string, uint64_t> RouteTable::folded() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->folded;
}

std::map<std::string, uint64_t> RouteTable::refused() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->refused;
}

size_t RouteTable::openapi_templates() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->openapi.size();
}

uint64_t RouteTable::lookups_over_budget() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->over_budget;
}

}  // namespace perfd
