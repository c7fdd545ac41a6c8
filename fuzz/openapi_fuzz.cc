// ParseOpenApiPaths over any bytes (the document is served by the traced
// application), then the result handed to a RouteTable as the daemon does.
// Checks: no exception escapes (the parser is used without exceptions), a
// refusal always says why, every path kept starts with '/' (basePath
// included), the list is sorted, and the route table keeps
// at most kMaxOpenApiTemplates and counts every template it did not keep.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "daemon/routes/openapi.h"
#include "daemon/routes/route_table.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto paths = perfd::ParseOpenApiPaths(json, &error);
  if (!paths) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(std::is_sorted(paths->begin(), paths->end()));
  for (const std::string& p : *paths) FUZZ_CHECK(!p.empty() && p.front() == '/');
  FUZZ_CHECK(paths->size() <= size);

  perfd::RouteTable table({}, 100);
  table.SetOpenApiTemplates(*paths);
  uint64_t refused = 0;
  for (const auto& [reason, n] : table.refused()) refused += n;
  FUZZ_CHECK(table.openapi_templates() <= perfd::kMaxOpenApiTemplates);
  FUZZ_CHECK(table.openapi_templates() + refused == paths->size());
  // Each template looked up as a path maps to something.
  for (size_t i = 0; i < paths->size() && i < 16; ++i) {
    FUZZ_CHECK(!table.Route((*paths)[i]).empty());
  }
  return 0;
}
