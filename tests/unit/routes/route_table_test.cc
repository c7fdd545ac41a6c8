#include "daemon/routes/route_table.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

namespace perfd {
namespace {

TEST(RouteTableTest, RulesBeatOpenApiBeatHeuristics) {
  RouteTable table({"/users/{id}/avatar", "/legacy/{anything:path}"}, 100, 1);
  EXPECT_EQ(table.Route("/orders/17"), "/orders/{int}");  // heuristic: no document yet
  table.SetOpenApiTemplates({"/users/{user_id}", "/users/{user_id}/avatar", "/items/{item_id}"});
  EXPECT_EQ(table.Route("/users/42/avatar"), "/users/{id}/avatar");  // rule
  EXPECT_EQ(table.Route("/users/42"), "/users/{user_id}");           // OpenAPI
  EXPECT_EQ(table.Route("/items/abc"), "/items/{item_id}");
  EXPECT_EQ(table.Route("/legacy/a/b/c"), "/legacy/{anything:path}");
  EXPECT_EQ(table.Route("/orders/17"), kUnmatchedRoute);  // the document has no such route
  EXPECT_EQ(table.folded(), (std::map<std::string, uint64_t>{{"unmatched", 1}}));
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
  RouteTable table({}, 100, 1);
  EXPECT_EQ(table.Route("/users/7"), "/users/{int}");
  table.SetOpenApiTemplates({"/users/{user_id}"});
  EXPECT_EQ(table.Route("/users/7"), "/users/{user_id}");
  table.SetOpenApiTemplates({"/items/{item_id}"});
  EXPECT_EQ(table.Route("/users/7"), kUnmatchedRoute);
  // A document without paths still says which routes exist: none.
  table.SetOpenApiTemplates({});
  EXPECT_EQ(table.Route("/items/7"), kUnmatchedRoute);
}

TEST(RouteTableTest, InvalidTemplatesAreIgnored) {
  RouteTable table({"/broken/{id", "/ok/{id}"}, 100, 1);
  EXPECT_EQ(table.Route("/ok/x"), "/ok/{id}");
  EXPECT_EQ(table.Route("/broken/5"), "/broken/{int}");
}

TEST(RouteTableTest, NormalizesTheTarget) {
  RouteTable table({}, 100, 1);
  EXPECT_EQ(table.Route("/users/5?expand=1"), "/users/{int}");
  EXPECT_EQ(table.Route("http://example.com/users/5"), "/users/{int}");
  EXPECT_EQ(table.Route("http://example.com"), "/");
  EXPECT_EQ(table.Route(""), "/");
  std::string longpath = "/" + std::string(30, 'a') + "/" + std::string(1000, 'a');
  EXPECT_EQ(table.Route(longpath), "/" + std::string(30, 'a') + "/{str}");  // cut, then templated
}

TEST(RouteTableTest, CapFoldsNewRoutesIntoOther) {
  RouteTable table({"/rule/{x}"}, 3, 1);
  // Known templates do not use the cap until they are actually returned.
  EXPECT_EQ(table.Route("/a"), "/a");
  EXPECT_EQ(table.Route("/b"), "/b");
  table.SetOpenApiTemplates({"/api/{y}", "/c"});
  EXPECT_EQ(table.Route("/api/1"), "/api/{y}");
  EXPECT_EQ(table.Route("/c"), kOtherRoute);
  EXPECT_EQ(table.Route("/rule/1"), kOtherRoute);
  EXPECT_EQ(table.folded().at("cap"), 2u);
  // Routes seen before the cap keep resolving (heuristic ones only while
  // no document says otherwise).
  EXPECT_EQ(table.Route("/api/2"), "/api/{y}");
  EXPECT_EQ(table.Route("/a"), kUnmatchedRoute);
  EXPECT_EQ(table.folded().at("cap"), 2u);
  // Each overflowing path counts, repeated or not.
  EXPECT_EQ(table.Route("/c"), kOtherRoute);
  EXPECT_EQ(table.folded().at("cap"), 3u);
}

TEST(RouteTableTest, HeuristicsKeepCardinalityLow) {
  RouteTable table({}, 100);
  std::set<std::string> routes;
  for (int i = 0; i < 1000; ++i) {
    routes.insert(table.Route("/users/" + std::to_string(i) + "/orders/" + std::to_string(i * 7)));
  }
  // The template's first requests wait in probation ("other").
  EXPECT_EQ(routes, (std::set<std::string>{"/users/{int}/orders/{int}", kOtherRoute}));
  EXPECT_EQ(table.folded(),
            (std::map<std::string, uint64_t>{{"unproven", kDefaultHeuristicMinRequests - 1}}));
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
      EXPECT_TRUE(r == "/users/{user_id}" || r == "/users/{int}" || r == kOtherRoute ||
                  r == kUnmatchedRoute)
          << r;
      table.Route("/distinct" + std::to_string(i % 100));
    }
  };
  std::thread a(worker, 0), b(worker, 100000);
  updater.join();
  a.join();
  b.join();
  // 100 distinct literal routes against a cap of 50, until the document
  // makes them unmatched.
  const auto folded = table.folded();
  EXPECT_GT(folded.count("cap") + folded.count("unmatched"), 0u);
}

}  // namespace
}  // namespace perfd
