// RouteTable over rules, an optional OpenAPI document and request paths the
// fuzzer chooses (paths start with '/' or are '*', as the line parser's
// are). Checks each lookup against the specification (route_table.h),
// computed the slow way: the most specific matching rule, else the most
// specific matching OpenAPI template, else "unmatched" once a document is
// installed, else the heuristic route; a lookup over its step budget skips
// the templates. A route handed out once is always handed out again; a new
// one is "other" when max_routes are out, and a heuristic one until its
// min_requests-th request. Also: every pseudo-route answer is counted in
// folded(), every template given is kept or counted as refused, and
// heuristic routes are printable ASCII (route names must be valid UTF-8).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
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

// What RouteTable does to a path from the line parser ('/...' or '*')
// before matching: query and fragment off, at most 256 bytes.
std::string Normalize(std::string_view path) {
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty()) path = "/";
  return std::string(path.substr(0, 256));
}

// The text of a most specific template matching `path`: "" when none
// matches, nullopt when a match ran out of budget (no answer then).
std::optional<std::string> Best(const std::vector<RouteTemplate>& templates,
                                const std::string& path) {
  const RouteTemplate* best = nullptr;
  for (const RouteTemplate& t : templates) {
    perfd::MatchBudget budget(perfd::kMaxLookupSteps);
    if (t.Matches(perfd::SplitPath(path), budget) && (!best || t.MoreSpecificThan(*best))) {
      best = &t;
    }
    if (budget.exhausted()) return std::nullopt;
  }
  return best ? best->text() : "";
}

// Templates as their sources give them: starting with '/'.
std::vector<std::string> ConsumeTexts(FuzzedDataProvider& in, size_t max_n) {
  std::vector<std::string> out(in.ConsumeIntegralInRange<size_t>(0, max_n));
  for (std::string& s : out) s = "/" + in.ConsumeRandomLengthString(64);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint32_t max_routes = in.ConsumeIntegralInRange<uint32_t>(1, 8);
  const uint32_t min_requests = in.ConsumeIntegralInRange<uint32_t>(1, 4);
  const bool document = in.ConsumeBool();
  // Rules reach the table only after the config checked them with Parse.
  std::vector<std::string> rule_texts;
  for (std::string& t : ConsumeTexts(in, 3)) {
    if (RouteTemplate::Parse(t)) rule_texts.push_back(std::move(t));
  }
  const std::vector<std::string> api_texts =
      document ? ConsumeTexts(in, 12) : std::vector<std::string>{};

  perfd::RouteTable table(rule_texts, max_routes, min_requests);
  if (document) table.SetOpenApiTemplates(api_texts);
  uint64_t refused = 0;
  for (const auto& [reason, n] : table.refused()) refused += n;
  FUZZ_CHECK(table.openapi_templates() + refused == api_texts.size());
  const std::vector<RouteTemplate> rules = ParseAll(rule_texts, rule_texts.size());
  const std::vector<RouteTemplate> api = ParseAll(api_texts, perfd::kMaxOpenApiTemplates);
  FUZZ_CHECK(api.size() == table.openapi_templates());

  std::set<std::string> handed_out;
  std::map<std::string, uint32_t> pending;  // heuristic routes: requests so far
  uint64_t pseudo = 0;
  uint64_t lookups = 0;
  while (in.remaining_bytes() > 0) {
    const std::string path = in.ConsumeBool() ? "*" : "/" + in.ConsumeRandomLengthString(300);
    const uint64_t over_before = table.lookups_over_budget();
    const bool full = handed_out.size() >= max_routes;
    const std::string route = table.Route(path);
    ++lookups;
    const bool over = table.lookups_over_budget() != over_before;
    if (route == perfd::kOtherRoute || route == perfd::kUnmatchedRoute) ++pseudo;

    // What the specification says, the slow way.
    const std::string p = Normalize(path);
    std::string want;
    bool heuristic = false;
    const auto rule = over ? std::optional<std::string>("") : Best(rules, p);
    const auto doc =
        over || (rule && !rule->empty()) ? std::optional<std::string>("") : Best(api, p);
    if (!rule || !doc) return 0;  // the slow way ran out of budget: no answer from here on
    if (!rule->empty()) {
      want = *rule;
    } else if (!doc->empty()) {
      want = *doc;
    } else if (document) {
      FUZZ_CHECK(route == perfd::kUnmatchedRoute);
      continue;
    } else {
      want = perfd::HeuristicRoute(p);
      FUZZ_CHECK(PrintableAscii(want));
      heuristic = true;
    }
    if (handed_out.count(want) != 0) {
      FUZZ_CHECK(route == want);
    } else if (full) {
      FUZZ_CHECK(route == perfd::kOtherRoute);
    } else if (heuristic && ++pending[want] < min_requests) {
      FUZZ_CHECK(route == perfd::kOtherRoute);
    } else {
      FUZZ_CHECK(route == want);
      pending.erase(want);
      handed_out.insert(want);
    }
    FUZZ_CHECK(handed_out.size() <= max_routes);
    // Past this many candidates the table forgets some (route_probation.h).
    if (pending.size() >= perfd::kMaxRouteCandidates) return 0;
  }
  uint64_t folded = 0;
  for (const auto& [reason, n] : table.folded()) folded += n;
  FUZZ_CHECK(folded == pseudo);
  FUZZ_CHECK(table.lookups_over_budget() <= lookups);
  return 0;
}
