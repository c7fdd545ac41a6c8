// ParseOpenApiPaths over any bytes (the document is served by the traced
// application), then the result handed to a RouteTable as the daemon does.
// The parser reads the document as a stream of SAX events; the reference is
// what it replaced, the same question asked of a JSON tree (nlohmann::json),
// and both must give the same answer: the same refusal or the same paths.
// Also: a refusal says why, paths start with '/', are sorted and unique; with
// max_paths the result is a subset of at most max_paths paths and the rest is
// counted in *omitted; the route table keeps at most kMaxOpenApiTemplates
// and counts every template it did not keep.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/routes/openapi.h"
#include "daemon/routes/route_table.h"
#include "fuzz/check.h"

namespace {

// The tree-based reader ParseOpenApiPaths had before it streamed.
std::optional<std::vector<std::string>> TreePaths(const std::string& json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  auto paths = doc.find("paths");
  if (paths == doc.end() || !paths->is_object()) return std::nullopt;
  std::string prefix;
  auto base = doc.find("basePath");
  if (doc.contains("swagger") && base != doc.end() && base->is_string()) {
    prefix = base->get<std::string>();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty() && prefix.front() != '/') prefix.insert(prefix.begin(), '/');
  }
  std::vector<std::string> out;
  for (const auto& item : paths->items()) {  // sorted, unique keys
    if (!item.key().empty() && item.key().front() == '/') out.push_back(prefix + item.key());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const size_t max_paths = in.ConsumeIntegralInRange<size_t>(0, 8);
  const std::string json = in.ConsumeRemainingBytesAsString();

  std::string error;
  const auto paths = perfd::ParseOpenApiPaths(json, &error);
  const auto tree = TreePaths(json);
  FUZZ_CHECK(paths.has_value() == tree.has_value());
  if (!paths) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(*paths == *tree);
  FUZZ_CHECK(std::is_sorted(paths->begin(), paths->end()));
  FUZZ_CHECK(std::adjacent_find(paths->begin(), paths->end()) == paths->end());
  for (const std::string& p : *paths) FUZZ_CHECK(!p.empty() && p.front() == '/');

  uint64_t omitted = 0;
  const auto some = perfd::ParseOpenApiPaths(json, nullptr, max_paths, &omitted);
  FUZZ_CHECK(some && some->size() <= max_paths);
  FUZZ_CHECK(std::includes(paths->begin(), paths->end(), some->begin(), some->end()));
  FUZZ_CHECK(some->size() + omitted >= paths->size());

  perfd::RouteTable table({}, 100);
  table.SetOpenApiTemplates(*some, omitted);
  uint64_t refused = 0;
  for (const auto& [reason, n] : table.refused()) refused += n;
  FUZZ_CHECK(table.openapi_templates() <= perfd::kMaxOpenApiTemplates);
  FUZZ_CHECK(table.openapi_templates() + refused == some->size() + omitted);
  for (size_t i = 0; i < some->size() && i < 16; ++i) {
    FUZZ_CHECK(!table.Route((*some)[i]).empty());
  }
  return 0;
}
