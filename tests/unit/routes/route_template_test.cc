#include "daemon/routes/route_template.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

RouteTemplate T(const char* text) {
  std::string error;
  auto tmpl = RouteTemplate::Parse(text, &error);
  EXPECT_TRUE(tmpl.has_value()) << text << ": " << error;
  return tmpl.value_or(*RouteTemplate::Parse("/__invalid__"));
}

TEST(SplitPathTest, KeepsEmptySegments) {
  EXPECT_EQ(SplitPath("/a/b"), (std::vector<std::string_view>{"", "a", "b"}));
  EXPECT_EQ(SplitPath("/"), (std::vector<std::string_view>{"", ""}));
  EXPECT_EQ(SplitPath("/a//b/"), (std::vector<std::string_view>{"", "a", "", "b", ""}));
}

TEST(RouteTemplateTest, FastApiPathParameters) {
  RouteTemplate t = T("/users/{user_id}/orders/{order_id}");
  EXPECT_TRUE(t.Matches("/users/42/orders/7"));
  EXPECT_TRUE(t.Matches("/users/alice/orders/abc-def"));
  EXPECT_FALSE(t.Matches("/users/42/orders"));
  EXPECT_FALSE(t.Matches("/users/42/orders/7/items"));
  EXPECT_FALSE(t.Matches("/users//orders/7"));  // a parameter is never empty
  EXPECT_FALSE(t.Matches("/users/42/orders/7/"));
  EXPECT_FALSE(t.Matches("/Users/42/orders/7"));  // literals are case-sensitive
  EXPECT_EQ(t.text(), "/users/{user_id}/orders/{order_id}");
}

TEST(RouteTemplateTest, RootAndLiteralRoutes) {
  EXPECT_TRUE(T("/").Matches("/"));
  EXPECT_FALSE(T("/").Matches("/x"));
  EXPECT_TRUE(T("/health").Matches("/health"));
  EXPECT_FALSE(T("/health").Matches("/health/"));
}

TEST(RouteTemplateTest, PathConvertorTakesTheRest) {
  RouteTemplate t = T("/files/{file_path:path}");
  EXPECT_TRUE(t.Matches("/files/a.txt"));
  EXPECT_TRUE(t.Matches("/files/dir/sub/a.txt"));
  EXPECT_TRUE(t.Matches("/files/"));  // Starlette's ".*" accepts an empty rest
  EXPECT_FALSE(t.Matches("/files"));
  EXPECT_FALSE(t.Matches("/file/a.txt"));

  RouteTemplate middle = T("/repos/{name:path}/blob/{ref}");
  EXPECT_TRUE(middle.Matches("/repos/org/project/blob/main"));
  EXPECT_TRUE(middle.Matches("/repos/x/blob/v1"));
  EXPECT_FALSE(middle.Matches("/repos/blob/v1"));
  EXPECT_FALSE(middle.Matches("/repos/org/project/tree/main"));
}

TEST(RouteTemplateTest, TypedConvertors) {
  RouteTemplate i = T("/items/{id:int}");
  EXPECT_TRUE(i.Matches("/items/123"));
  EXPECT_FALSE(i.Matches("/items/12a"));
  EXPECT_FALSE(i.Matches("/items/-1"));
  RouteTemplate f = T("/price/{p:float}");
  EXPECT_TRUE(f.Matches("/price/1.5"));
  EXPECT_TRUE(f.Matches("/price/3"));
  EXPECT_FALSE(f.Matches("/price/1."));
  EXPECT_FALSE(f.Matches("/price/.5"));
  RouteTemplate u = T("/orders/{o:uuid}");
  EXPECT_TRUE(u.Matches("/orders/123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(u.Matches("/orders/123E4567-E89B-12D3-A456-426614174000"));  // Starlette: lower only
  EXPECT_FALSE(u.Matches("/orders/123e4567e89b12d3a456426614174000"));
  EXPECT_TRUE(T("/s/{x:str}").Matches("/s/anything"));
}

TEST(RouteTemplateTest, ParametersInsideASegment) {
  RouteTemplate t = T("/reports/{id}.csv");
  EXPECT_TRUE(t.Matches("/reports/2024-01.csv"));
  EXPECT_TRUE(t.Matches("/reports/a.b.csv"));  // tries each ".csv" position
  EXPECT_FALSE(t.Matches("/reports/.csv"));
  EXPECT_FALSE(t.Matches("/reports/x.json"));
  RouteTemplate v = T("/v{major:int}.{minor:int}/status");
  EXPECT_TRUE(v.Matches("/v1.2/status"));
  EXPECT_FALSE(v.Matches("/vx.2/status"));
}

TEST(RouteTemplateTest, ParseErrors) {
  std::string error;
  EXPECT_FALSE(RouteTemplate::Parse("/users/{id", &error));
  EXPECT_NE(error.find("unbalanced"), std::string::npos);
  EXPECT_FALSE(RouteTemplate::Parse("/users/id}", &error));
  EXPECT_FALSE(RouteTemplate::Parse("/users/{a{b}}", &error));
  EXPECT_FALSE(RouteTemplate::Parse("/users/{}", &error));
  EXPECT_NE(error.find("empty"), std::string::npos);
  EXPECT_FALSE(RouteTemplate::Parse("/users/{id:bogus}", &error));
  EXPECT_NE(error.find("bogus"), std::string::npos);
  EXPECT_FALSE(RouteTemplate::Parse("/x/{a}{b}", &error));
  EXPECT_FALSE(RouteTemplate::Parse("/x/pre{p:path}", &error));
  EXPECT_FALSE(RouteTemplate::Parse("/x/{a}", nullptr) == std::nullopt);
}

TEST(RouteTemplateTest, Specificity) {
  auto more = [](const char* a, const char* b) { return T(a).MoreSpecificThan(T(b)); };
  EXPECT_TRUE(more("/users/me", "/users/{id}"));
  EXPECT_FALSE(more("/users/{id}", "/users/me"));
  EXPECT_TRUE(more("/a/{x}/c", "/{y}/b/c"));  // earlier literal wins
  EXPECT_TRUE(more("/files/{name}", "/files/{p:path}"));
  EXPECT_TRUE(more("/items/{id:int}", "/items/{id}"));
  EXPECT_TRUE(more("/reports/{id}.csv", "/reports/{id}"));
  EXPECT_TRUE(more("/files/static/{p:path}", "/files/{p:path}"));
  EXPECT_FALSE(more("/users/{id}", "/users/{user_id}"));  // ties: neither
  EXPECT_FALSE(more("/users/{user_id}", "/users/{id}"));
}

}  // namespace
}  // namespace perfd
