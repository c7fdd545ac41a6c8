// A scanner's random 404s must not take the rows real routes need, and must
// not put its paths into labels: with an OpenAPI document they all become
// one "unmatched" route; without one, a heuristic template needs repeated
// requests before it gets a row, so one-off paths stay in "other".
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "daemon/routes/route_table.h"

namespace perfd {
namespace {

// Paths a scanner tries: word-list guesses (static-looking, so the
// heuristics alone would keep them), files, e-mail addresses, random ids.
std::vector<std::string> ScannerPaths(size_t n) {
  std::mt19937 rng(42);
  auto word = [&](size_t len) {
    std::string w;
    for (size_t i = 0; i < len; ++i) w.push_back(static_cast<char>('a' + rng() % 26));
    return w;
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    switch (i % 5) {
      case 0:
        out.push_back("/" + word(4 + rng() % 8));
        break;
      case 1:
        out.push_back("/" + word(5) + "/" + word(6));
        break;
      case 2:
        out.push_back("/wp-content/" + word(7) + ".php");
        break;
      case 3:
        out.push_back("/admin/" + word(5) + "." + word(6) + "@example.com");
        break;
      default:
        out.push_back("/api/" + word(3) + "/" + std::to_string(rng()));
        break;
    }
  }
  return out;
}

struct Hits {
  std::string path;
  std::string want;
  int times;
};

// Routes every path of `hits` and checks each comes back as its own template
// every time; returns how often each route was returned.
std::map<std::string, int> Replay(RouteTable& table, const std::vector<Hits>& hits) {
  std::map<std::string, int> rows;
  for (const Hits& h : hits)
    for (int i = 0; i < h.times; ++i) ++rows[table.Route(h.path)];
  return rows;
}

TEST(RouteCardinalityTest, ScannerNoiseGoesToUnmatchedWithOpenApi) {
  RouteTable table({}, 100);
  table.SetOpenApiTemplates(
      {"/health", "/items/{item_id}", "/users/me", "/users/{user_id}", "/orders", "/warmup/{n}"});
  std::map<std::string, int> rows;
  for (const std::string& p : ScannerPaths(500)) ++rows[table.Route(p)];
  EXPECT_EQ(rows, (std::map<std::string, int>{{kUnmatchedRoute, 500}}));

  const std::vector<Hits> real = {{"/items/7", "/items/{item_id}", 10},
                                  {"/items/8", "/items/{item_id}", 5},
                                  {"/users/me", "/users/me", 5},
                                  {"/users/42", "/users/{user_id}", 3},
                                  {"/orders", "/orders", 4},
                                  {"/health", "/health", 1}};
  EXPECT_EQ(Replay(table, real), (std::map<std::string, int>{{"/items/{item_id}", 15},
                                                             {"/users/me", 5},
                                                             {"/users/{user_id}", 3},
                                                             {"/orders", 4},
                                                             {"/health", 1}}));
  const auto folded = table.folded();
  EXPECT_EQ(folded, (std::map<std::string, uint64_t>{{"unmatched", 500}}));
}

TEST(RouteCardinalityTest, UnmatchedPathsNeverShowTheirText) {
  RouteTable table({}, 100);
  table.SetOpenApiTemplates({"/users/{user_id}"});
  EXPECT_EQ(table.Route("/profiles/jane.doe@example.com"), kUnmatchedRoute);
  EXPECT_EQ(table.Route("/users/42/extra"), kUnmatchedRoute);
  EXPECT_EQ(table.Route("/"), kUnmatchedRoute);
  EXPECT_EQ(table.Route("/users/jane.doe@example.com"), "/users/{user_id}");
}

TEST(RouteCardinalityTest, ScannerNoiseDoesNotTakeRowsWithoutOpenApi) {
  RouteTable table({}, 100);
  std::map<std::string, int> rows;
  for (const std::string& p : ScannerPaths(500)) ++rows[table.Route(p)];
  // One-off paths stay in "other"; templates the noise shares (a number, a
  // placeholder for every e-mail) are repeated, so they may get a row.
  for (const auto& [route, n] : rows) {
    EXPECT_TRUE(route == kOtherRoute || route == "/admin/{str}" || route == "/wp-content/{str}")
        << route << " x" << n;
  }

  const int n = 10;
  const std::vector<Hits> real = {
      {"/api/v1/orders", "", n}, {"/api/v1/orders/123", "", n}, {"/health", "", n}};
  const auto after = Replay(table, real);
  const int promoted = n - int(kDefaultHeuristicMinRequests) + 1;
  EXPECT_EQ(after.at("/api/v1/orders"), promoted);
  EXPECT_EQ(after.at("/api/v1/orders/{int}"), promoted);
  EXPECT_EQ(after.at("/health"), promoted);
  EXPECT_EQ(after.at(kOtherRoute), 3 * (n - promoted));
  EXPECT_EQ(after.size(), 4u);
}

TEST(RouteCardinalityTest, CapCountsTemplatesNotPaths) {
  RouteTable table({}, 3);
  table.SetOpenApiTemplates({"/a/{x}", "/b/{x}", "/c/{x}", "/d/{x}"});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(table.Route("/a/" + std::to_string(i)), "/a/{x}");
  EXPECT_EQ(table.Route("/nope"), kUnmatchedRoute);  // not a template: never uses the cap
  EXPECT_EQ(table.Route("/b/1"), "/b/{x}");
  EXPECT_EQ(table.Route("/c/1"), "/c/{x}");
  EXPECT_EQ(table.Route("/d/1"), kOtherRoute);
  EXPECT_EQ(table.folded(), (std::map<std::string, uint64_t>{{"cap", 1}, {"unmatched", 1}}));
}

}  // namespace
}  // namespace perfd
