#include "daemon/routes/path_heuristics.h"

#include <gtest/gtest.h>

namespace perfd {
namespace {

TEST(PathHeuristicsTest, Examples) {
  EXPECT_EQ(HeuristicRoute("/users/42"), "/users/{int}");
  EXPECT_EQ(HeuristicRoute("/users/42/orders/0007"), "/users/{int}/orders/{int}");
  EXPECT_EQ(HeuristicRoute("/o/123e4567-e89b-12d3-a456-426614174000"), "/o/{uuid}");
  EXPECT_EQ(HeuristicRoute("/o/123E4567-E89B-12D3-A456-426614174000/x"), "/o/{uuid}/x");
  EXPECT_EQ(HeuristicRoute("/commits/9fceb02d0ae598e95dc970b74767f19372d61af8"), "/commits/{hex}");
  EXPECT_EQ(HeuristicRoute("/blobs/DEADBEEF01"), "/blobs/{hex}");
  EXPECT_EQ(HeuristicRoute("/verify/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.Xk2d_f9A"),
            "/verify/{token}");
  EXPECT_EQ(HeuristicRoute("/reset/aB3dE5fG7hI9jK1lM3nO5pQ"), "/reset/{token}");
  EXPECT_EQ(HeuristicRoute("/k/AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEf"), "/k/{token}");
}

TEST(PathHeuristicsTest, KeepsWordsLiterally) {
  EXPECT_EQ(HeuristicRoute("/"), "/");
  EXPECT_EQ(HeuristicRoute("/health"), "/health");
  EXPECT_EQ(HeuristicRoute("/api/v1/users/me"), "/api/v1/users/me");
  EXPECT_EQ(HeuristicRoute("/cafe/deadbeef"), "/cafe/deadbeef");  // hex but no digit
  EXPECT_EQ(HeuristicRoute("/ab12"), "/ab12");                    // too short for {hex}
  EXPECT_EQ(HeuristicRoute("/docs/getting-started-guide"), "/docs/getting-started-guide");
  EXPECT_EQ(HeuristicRoute("/a//b/"), "/a//b/");  // slashes kept as they are
}

TEST(PathHeuristicsTest, EverythingButStaticWordsIsAPlaceholder) {
  EXPECT_EQ(HeuristicRoute("/static/app.min.js"), "/static/{str}");
  EXPECT_EQ(HeuristicRoute("/search/caf%C3%A9"), "/search/{str}");  // not decoded
  EXPECT_EQ(HeuristicRoute("/api/getUser"), "/api/{str}");          // upper case
  EXPECT_EQ(HeuristicRoute("/h264"), "/{str}");                     // three digits
}

TEST(PathHeuristicsTest, NonAsciiBytesArePlaceholders) {
  EXPECT_EQ(HeuristicRoute("/name/caf\xc3\xa9"), "/name/{bytes}");
  EXPECT_EQ(HeuristicRoute(std::string("/x/a\0b", 6)), "/x/{bytes}");
  EXPECT_EQ(HeuristicRoute("/x/a b"), "/x/{bytes}");
}

TEST(PathHeuristicsTest, SegmentPlaceholder) {
  EXPECT_EQ(SegmentPlaceholder(""), "");
  EXPECT_EQ(SegmentPlaceholder("0"), "{int}");
  EXPECT_EQ(SegmentPlaceholder("12345678"), "{int}");  // digits win over hex
  EXPECT_EQ(SegmentPlaceholder("1234567a"), "{hex}");
  EXPECT_EQ(SegmentPlaceholder("1234567g"), "{str}");
  EXPECT_EQ(SegmentPlaceholder("v1"), "");
  EXPECT_EQ(SegmentPlaceholder("users"), "");
}

}  // namespace
}  // namespace perfd
