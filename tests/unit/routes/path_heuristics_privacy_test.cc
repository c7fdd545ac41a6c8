// Heuristic templates end up as Prometheus label values and in perfctl's
// output, so a segment that could be someone's data (an e-mail address, a
// phone number, a name, a token, a date) must never survive as text: only
// segments that are clearly static words are kept.
#include <gtest/gtest.h>

#include <string>

#include "daemon/routes/path_heuristics.h"

namespace perfd {
namespace {

// The segment after "/x/" becomes a placeholder, whatever its text.
void ExpectHidden(const std::string& segment) {
  const std::string route = HeuristicRoute("/x/" + segment);
  EXPECT_EQ(route.find(segment), std::string::npos) << segment << " -> " << route;
  EXPECT_EQ(route.rfind("/x/{", 0), 0u) << segment << " -> " << route;
}

TEST(PathHeuristicsPrivacyTest, EmailAddresses) {
  ExpectHidden("john.smith@example.com");
  ExpectHidden("jane@corp.io");
  ExpectHidden("jane%40corp.io");  // percent-encoded '@'
  ExpectHidden("jane+tag@corp.io");
  EXPECT_EQ(HeuristicRoute("/users/john.smith@example.com/orders"), "/users/{str}/orders");
}

TEST(PathHeuristicsPrivacyTest, PhoneNumbers) {
  ExpectHidden("+15551234567");
  ExpectHidden("%2B15551234567");
  ExpectHidden("555-123-4567");
  ExpectHidden("(555)123-4567");
  ExpectHidden("+44-20-7946-0958");
  EXPECT_EQ(HeuristicRoute("/call/5551234567"), "/call/{int}");
}

TEST(PathHeuristicsPrivacyTest, Names) {
  ExpectHidden("john.smith");
  ExpectHidden("Jane_Doe");
  ExpectHidden("JaneDoe");
  ExpectHidden("Smith");
  ExpectHidden("o'brien");
  ExpectHidden("john1985");  // a name and a birth year
  ExpectHidden("J%C3%BCrgen");
  EXPECT_EQ(HeuristicRoute("/users/john.smith"), "/users/{str}");
  EXPECT_EQ(HeuristicRoute("/u/Jane_Doe"), "/u/{str}");
  EXPECT_EQ(HeuristicRoute("/u/Jane_Doe/posts"), "/u/{str}/posts");
}

TEST(PathHeuristicsPrivacyTest, TokensAndBase64) {
  ExpectHidden("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.Xk2d_f9A");  // JWT
  ExpectHidden("dXNlcjpwYXNzd29yZA==");                           // base64 "user:password"
  ExpectHidden("dXNlcjpwYXNz");                                   // short base64
  ExpectHidden("ghp_16C7e42F292c6912E7710c838347Ae178B4a");       // API key shape
  ExpectHidden("AKIAIOSFODNN7EXAMPLE");
  ExpectHidden("sk-live-4eC39HqLyjWDarjtT1zdp7dc");
  ExpectHidden("a1b2c3d4e5f6");
}

TEST(PathHeuristicsPrivacyTest, Dates) {
  ExpectHidden("2024-01-15");
  ExpectHidden("15.01.2024");
  ExpectHidden("2024-01-15T10:30:00Z");
  ExpectHidden("20240115");
  ExpectHidden("jan-15-2024");
}

TEST(PathHeuristicsPrivacyTest, LongOrPunctuatedSegments) {
  ExpectHidden(std::string(33, 'a'));  // over the 32-byte word limit
  ExpectHidden("report.pdf");
  ExpectHidden("a~b");
  ExpectHidden("a:b");
  ExpectHidden("a,b");
  ExpectHidden("-leading-dash");
  ExpectHidden("_private");
}

TEST(PathHeuristicsPrivacyTest, StaticWordsAreKept) {
  for (const char* route :
       {"/", "/health", "/api/v1/users/me", "/api/v2beta1/orders", "/oauth2/token-refresh",
        "/order_history", "/cafe/deadbeef", "/docs/getting-started-guide", "/a//b/", "/s3/ipv4"}) {
    EXPECT_EQ(HeuristicRoute(route), route);
  }
  EXPECT_EQ(HeuristicRoute("/" + std::string(32, 'a')), "/" + std::string(32, 'a'));
}

}  // namespace
}  // namespace perfd
