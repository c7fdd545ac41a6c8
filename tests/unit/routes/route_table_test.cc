#include "daemon/routes/route_table.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace perfd {
namespace {

TEST(RouteTableTest, RulesBeatOpenApiBeatHeuristics) {
  RouteTable table({"/users/{id}/avatar", "/legacy/{anything:path}"}, 100);
  table.SetOpenApiTemplates({"/users/{user_id}", "/users/{user_id}/avatar", "/items/{item_id}"});
  EXPECT_EQ(table.Route("/users/42/avatar"), "/users/{id}/avatar");  // rule
  EXPECT_EQ(table.Route("/users/42"), "/users/{user_id}");           // OpenAPI
  EXPECT_EQ(table.Route("/items/abc"), "/items/{item_id}");
  EXPECT_EQ(table.Route("/legacy/a/b/c"), "/legacy/{anything:path}");
  EXPECT_EQ(table.Route("/orders/17"), "/orders/{int}");  // heuristic
  EXPECT_EQ(table.overflowed(), 0u);
}

TEST(RouteTableTest, MostSpecificOpenApiTemplateWins) {
  RouteTable table({}, 100);
  // FastAPI lists routes in declaration order; precedence must not depend on it.
  table.SetOpenApiTemplates(
      {"/users/{user_id}", "/users/me", "/files/{file_path:path}", "/files/{file_path}"});
  EXPECT_EQ(table.Route("/users/me"), "/users/me");
  EXPECT_EQ(table.Route("/users/123"), "/users/{user_id}");
  EXPECT_EQ(table.Route("/files/readme.md"), "/files/{file_path}");
  EXPECT_EQ(table.Route("/files/docs/readme.md"), "/files/{file_path:path}");
}

TEST(RouteTableTest, OpenApiTemplatesCanBeReplaced) {
  RouteTable table({}, 100);
  EXPECT_EQ(table.Route("/users/7"), "/users/{int}");
  table.SetOpenApiTemplates({"/users/{user_id}"});
  EXPECT_EQ(table.Route("/users/7"), "/users/{user_id}");
  table.SetOpenApiTemplates({});
  EXPECT_EQ(table.Route("/users/7"), "/users/{int}");
}

TEST(RouteTableTest, InvalidTemplatesAreIgnored) {
  RouteTable table({"/broken/{id", "/ok/{id}"}, 100);
  EXPECT_EQ(table.Route("/ok/x"), "/ok/{id}");
  EXPECT_EQ(table.Route("/broken/5"), "/broken/{int}");
}

TEST(RouteTableTest, NormalizesTheTarget) {
  RouteTable table({}, 100);
  EXPECT_EQ(table.Route("/users/5?expand=1"), "/users/{int}");
  EXPECT_EQ(table.Route("http://example.com/users/5"), "/users/{int}");
  EXPECT_EQ(table.Route("http://example.com"), "/");
  EXPECT_EQ(table.Route(""), "/");
  std::string longpath = "/" + std::string(1000, 'a');
  EXPECT_EQ(table.Route(longpath).size(), 256u);
}

TEST(RouteTableTest, CapFoldsNewRoutesIntoOther) {
  RouteTable table({"/rule/{x}"}, 3);
  table.SetOpenApiTemplates({"/api/{y}"});
  // Known templates do not use the cap until they are actually returned.
  EXPECT_EQ(table.Route("/a"), "/a");
  EXPECT_EQ(table.Route("/b"), "/b");
  EXPECT_EQ(table.Route("/api/1"), "/api/{y}");
  EXPECT_EQ(table.Route("/c"), kOtherRoute);
  EXPECT_EQ(table.Route("/rule/1"), kOtherRoute);
  EXPECT_EQ(table.overflowed(), 2u);
  // Routes seen before the cap keep resolving.
  EXPECT_EQ(table.Route("/a"), "/a");
  EXPECT_EQ(table.Route("/api/2"), "/api/{y}");
  EXPECT_EQ(table.overflowed(), 2u);
  // Each overflowing path counts, repeated or not.
  EXPECT_EQ(table.Route("/c"), kOtherRoute);
  EXPECT_EQ(table.overflowed(), 3u);
}

TEST(RouteTableTest, HeuristicsKeepCardinalityLow) {
  RouteTable table({}, 100);
  std::set<std::string> routes;
  for (int i = 0; i < 1000; ++i) {
    routes.insert(table.Route("/users/" + std::to_string(i) + "/orders/" + std::to_string(i * 7)));
  }
  EXPECT_EQ(routes, (std::set<std::string>{"/users/{int}/orders/{int}"}));
  EXPECT_EQ(table.overflowed(), 0u);
}

TEST(RouteTableTest, ConcurrentUseSmoke) {
  RouteTable table({"/rule/{x}"}, 50);
  std::thread updater([&] {
    for (int i = 0; i < 200; ++i) {
      table.SetOpenApiTemplates({"/users/{user_id}", "/t" + std::to_string(i % 5) + "/{x}"});
    }
  });
  auto worker = [&](int seed) {
    for (int i = 0; i < 5000; ++i) {
      std::string r = table.Route("/users/" + std::to_string(i + seed));
      EXPECT_TRUE(r == "/users/{user_id}" || r == "/users/{int}" || r == kOtherRoute) << r;
      table.Route("/distinct" + std::to_string(i % 100));
    }
  };
  std::thread a(worker, 0), b(worker, 100000);
  updater.join();
  a.join();
  b.join();
  EXPECT_GT(table.overflowed(), 0u);  // 100 distinct literal routes against a cap of 50
}

}  // namespace
}  // namespace perfd
