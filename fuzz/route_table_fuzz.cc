// RouteTable over rules, OpenAPI templates and request paths the fuzzer
// chooses. Checks the lookup against its specification, computed the slow
// way: for a path the table does not rewrite (starts with '/', no query,
// at most 256 bytes), the route is the most specific matching rule, else
// the most specific matching OpenAPI template, else the heuristic route;
// a lookup over its step budget falls back to the heuristics. Also: lookups
// are stable, at most max_routes distinct routes are handed out (the rest
// are "other"), every template given is kept or counted as refused, and a
// heuristic route is printable ASCII (route names must be valid UTF-8).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/routes/path_heuristics.h"
#include "daemon/routes/route_table.h"
#include "daemon/routes/route_template.h"
#include "fuzz/check.h"

using perfd::RouteTemplate;

namespace {

std::vector<RouteTemplate> ParseAll(const std::vector<std::string>& texts, size_t max_kept) {
  std::vector<RouteTemplate> out;
  for (const std::string& t : texts) {
    if (out.size() == max_kept) break;
    if (auto p = RouteTemplate::Parse(t)) out.push_back(std::move(*p));
  }
  return out;
}

bool PrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool Unrewritten(std::string_view path) {
  return !path.empty() && path.front() == '/' && path.size() <= 256 &&
         path.find_first_of("?#") == std::string_view::npos;
}

enum class Best { kNone, kOk, kUnknown };

// Whether `route` is the text of a most specific template matching `path`.
Best CheckBest(const std::vector<RouteTemplate>& templates, const std::string& path,
               const std::string& route) {
  std::vector<const RouteTemplate*> matching;
  for (const RouteTemplate& t : templates) {
    perfd::MatchBudget budget(perfd::kMaxLookupSteps);
    if (t.Matches(perfd::SplitPath(path), budget)) matching.push_back(&t);
    if (budget.exhausted()) return Best::kUnknown;
  }
  if (matching.empty()) return Best::kNone;
  for (const RouteTemplate* x : matching) {
    if (x->text() != route) continue;
    bool beaten = false;
    for (const RouteTemplate* y : matching) beaten = beaten || y->MoreSpecificThan(*x);
    if (!beaten) return Best::kOk;
  }
  FUZZ_CHECK(!"the route is not a most specific matching template");
  return Best::kUnknown;
}

std::vector<std::string> ConsumeTexts(FuzzedDataProvider& in, size_t max_n) {
  std::vector<std::string> out(in.ConsumeIntegralInRange<size_t>(0, max_n));
  for (std::string& s : out) s = in.ConsumeRandomLengthString(64);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint32_t max_routes = in.ConsumeIntegralInRange<uint32_t>(1, 8);
  // Rules reach the table only after the config checked them with Parse.
  std::vector<std::string> rule_texts;
  for (std::string& t : ConsumeTexts(in, 3)) {
    if (RouteTemplate::Parse(t)) rule_texts.push_back(std::move(t));
  }
  const std::vector<std::string> api_texts = ConsumeTexts(in, 12);

  perfd::RouteTable table(rule_texts, max_routes);
  table.SetOpenApiTemplates(api_texts);
  uint64_t refused = 0;
  for (const auto& [reason, n] : table.refused()) refused += n;
  FUZZ_CHECK(table.openapi_templates() + refused == api_texts.size());
  const std::vector<RouteTemplate> rules = ParseAll(rule_texts, rule_texts.size());
  const std::vector<RouteTemplate> api = ParseAll(api_texts, perfd::kMaxOpenApiTemplates);
  FUZZ_CHECK(api.size() == table.openapi_templates());

  std::set<std::string> handed_out;
  uint64_t lookups = 0;
  while (in.remaining_bytes() > 0) {
    const std::string path = in.ConsumeRandomLengthString(300);
    const uint64_t over_before = table.lookups_over_budget();
    const std::string route = table.Route(path);
    ++lookups;
    FUZZ_CHECK(table.Route(path) == route);
    ++lookups;
    if (route != perfd::kOtherRoute) handed_out.insert(route);
    FUZZ_CHECK(handed_out.size() <= max_routes);
    if (table.lookups_over_budget() != over_before || route == perfd::kOtherRoute ||
        !Unrewritten(path)) {
      continue;
    }
    Best b = CheckBest(rules, path, route);
    if (b == Best::kNone) b = CheckBest(api, path, route);
    if (b == Best::kNone) {
      FUZZ_CHECK(route == perfd::HeuristicRoute(path));
      FUZZ_CHECK(PrintableAscii(route));
    }
  }
  FUZZ_CHECK(table.overflowed() <= lookups);
  FUZZ_CHECK(table.lookups_over_budget() <= lookups);
  return 0;
}
