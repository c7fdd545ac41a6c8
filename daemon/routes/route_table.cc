#include "daemon/routes/route_table.h"

#include <mutex>
#include <optional>
#include <unordered_set>

#include "daemon/routes/path_heuristics.h"
#include "daemon/routes/route_template.h"

namespace perfd {

namespace {

// Longer paths are cut before templating: they are almost always junk or
// attacks, and the cut bounds the work and the size of route names.
constexpr size_t kMaxPathLength = 256;

std::vector<RouteTemplate> ParseAll(const std::vector<std::string>& texts) {
  std::vector<RouteTemplate> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    // Invalid templates are dropped here; the config loader can report them
    // with RouteTemplate::Parse's error message.
    if (auto tmpl = RouteTemplate::Parse(text)) out.push_back(std::move(*tmpl));
  }
  return out;
}

// The most specific template matching `segments`; the first listed on ties.
const RouteTemplate* BestMatch(const std::vector<RouteTemplate>& templates,
                               const std::vector<std::string_view>& segments) {
  const RouteTemplate* best = nullptr;
  for (const RouteTemplate& tmpl : templates) {
    if (tmpl.Matches(segments) && (best == nullptr || tmpl.MoreSpecificThan(*best))) best = &tmpl;
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
  std::vector<RouteTemplate> rules;
  uint32_t max_routes = 0;

  mutable std::mutex mu;
  std::vector<RouteTemplate> openapi;    // guarded by mu
  std::unordered_set<std::string> seen;  // distinct routes returned; guarded by mu
  uint64_t overflowed = 0;               // guarded by mu
};

RouteTable::RouteTable(std::vector<std::string> rule_patterns, uint32_t max_routes)
    : impl_(std::make_unique<Impl>()) {
  impl_->rules = ParseAll(rule_patterns);
  impl_->max_routes = max_routes;
}

RouteTable::~RouteTable() = default;

void RouteTable::SetOpenApiTemplates(const std::vector<std::string>& templates) {
  std::vector<RouteTemplate> parsed = ParseAll(templates);  // outside the lock
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->openapi.swap(parsed);
}

std::string RouteTable::Route(std::string_view path) {
  path = Normalize(path);
  std::vector<std::string_view> segments = SplitPath(path);

  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string route;
  if (const RouteTemplate* rule = BestMatch(impl_->rules, segments)) {
    route = rule->text();
  } else if (const RouteTemplate* api = BestMatch(impl_->openapi, segments)) {
    route = api->text();
  } else {
    route = HeuristicRoute(path);
  }

  if (impl_->seen.count(route) != 0) return route;
  if (impl_->seen.size() >= impl_->max_routes) {
    ++impl_->overflowed;
    return kOtherRoute;
  }
  impl_->seen.insert(route);
  return route;
}

uint64_t RouteTable::overflowed() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->overflowed;
}

}  // namespace perfd
