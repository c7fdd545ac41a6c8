// OpenAPI templates are untrusted input: caps on how many are kept, what is
// refused (and counted by reason), and the per-lookup matching budget.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "daemon/routes/route_table.h"
#include "daemon/routes/route_template.h"

namespace perfd {
namespace {

TEST(RouteTableLimitsTest, MillionTemplatesAreCapped) {
  std::vector<std::string> templates;
  templates.reserve(1000000);
  for (int i = 0; i < 1000000; ++i) templates.push_back("/r" + std::to_string(i) + "/{id}");
  RouteTable table({}, 100);
  table.SetOpenApiTemplates(templates);
  EXPECT_EQ(table.openapi_templates(), kMaxOpenApiTemplates);
  const auto refused = table.refused();
  ASSERT_EQ(refused.count("too_many"), 1u);
  EXPECT_EQ(refused.at("too_many"), 1000000 - kMaxOpenApiTemplates);
  // The first kMaxOpenApiTemplates in document order are the ones kept.
  EXPECT_EQ(table.Route("/r0/abc"), "/r0/{id}");
  EXPECT_EQ(table.Route("/r1999/abc"), "/r1999/{id}");
  EXPECT_EQ(table.Route("/r2000/abc"), kUnmatchedRoute);  // not a template kept
  EXPECT_EQ(table.lookups_over_budget(), 0u);
}

TEST(RouteTableLimitsTest, RefusedTemplatesAreCountedByReason) {
  RouteTable table({}, 100);
  table.SetOpenApiTemplates({"/ok/{id}", "/" + std::string(10 * 1024, 'a'), "/q/{a\"b}",
                             "/n/{a\nb}", "/broken/{id", "/c/\x01"});
  EXPECT_EQ(table.openapi_templates(), 1u);
  const std::map<std::string, uint64_t> want = {
      {"too_long", 1}, {"bad_parameter_name", 2}, {"invalid", 1}, {"bad_character", 1}};
  EXPECT_EQ(table.refused(), want);
  // Counters, not gauges: a refetch of the same document counts again.
  table.SetOpenApiTemplates({"/q/{a\"b}"});
  EXPECT_EQ(table.refused().at("bad_parameter_name"), 3u);
  EXPECT_EQ(table.openapi_templates(), 0u);
  // A refused template never becomes a route.
  EXPECT_EQ(table.Route("/q/7"), kUnmatchedRoute);
}

TEST(RouteTableLimitsTest, LookupWorkIsBoundedAcrossAllTemplates) {
  // Every template is valid and each costs its whole per-template budget on
  // this path; the lookup stops at its own budget and reports the path as
  // unmatched, the same way every time.
  std::vector<std::string> hostile;
  for (int i = 0; i < 200; ++i) {
    std::string t = "/";
    for (int p = 0; p < 9; ++p) t += "{p" + std::to_string(p) + "}-";
    hostile.push_back(t + "{end" + std::to_string(i) + ":int}");
  }
  RouteTable table({}, 100);
  table.SetOpenApiTemplates(hostile);
  ASSERT_EQ(table.openapi_templates(), hostile.size());
  const std::string path = "/" + std::string(250, '-');
  EXPECT_EQ(table.Route(path), kUnmatchedRoute);
  EXPECT_EQ(table.lookups_over_budget(), 1u);
  EXPECT_EQ(table.Route(path), kUnmatchedRoute);
  EXPECT_EQ(table.lookups_over_budget(), 2u);
  // Ordinary lookups on the same table are not affected.
  EXPECT_EQ(table.Route("/1-2-3-4-5-6-7-8-9-10"), hostile[0]);
  EXPECT_EQ(table.lookups_over_budget(), 2u);
}

}  // namespace
}  // namespace perfd
