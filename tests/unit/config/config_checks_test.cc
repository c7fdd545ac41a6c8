#include "daemon/config/config_checks.h"

#include <gtest/gtest.h>

namespace perfd::config_checks {
namespace {

TEST(ConfigChecksTest, HostPort) {
  for (const char* ok : {"0.0.0.0:9464", "127.0.0.1:1", "[::]:9464", "[::1]:65535", "localhost:80",
                         "perfd-metrics.internal:9464", "host:0", "my_app:80"}) {
    EXPECT_EQ(CheckHostPort(ok), "") << ok;
  }
  for (const char* bad : {"", "9464", ":9464", "localhost:", "localhost:65536", "localhost:-1",
                          "localhost:80x", "[::1]9464", "[::1:9464", "[zz]:80", "::1:80",
                          "-bad-:80", "a..b:80", "1.2.3:80", "256.0.0.1:80", "localhost:123456"}) {
    EXPECT_NE(CheckHostPort(bad), "") << bad;
  }
}

TEST(ConfigChecksTest, RoutePattern) {
  for (const char* ok : {"/", "/users/{user_id}", "/a/{x}/b/{y}", "/files/{name}.json"}) {
    EXPECT_EQ(CheckRoutePattern(ok), "") << ok;
  }
  for (const char* bad : {"", "users", "/a/{", "/a/}", "/a/{}", "/a/{{x}}", "/a/{x/y}",
                          "/a/{x:bogus}", "/a/{x\"y}", "/a/{x-y}", "/a/{x}{y}"}) {
    EXPECT_NE(CheckRoutePattern(bad), "") << bad;
  }
  // The route table's size caps apply to rules too.
  EXPECT_NE(CheckRoutePattern("/" + std::string(300, 'a')), "");
}

TEST(ConfigChecksTest, RegexLogLevelSocketGroup) {
  EXPECT_EQ(CheckRegex("uvicorn .*shop"), "");
  EXPECT_NE(CheckRegex("a{2,1}"), "");
  EXPECT_NE(CheckRegex("(?<name>x)"), "");  // not ECMAScript in std::regex
  EXPECT_NE(CheckLogLevel("warning"), "");
  EXPECT_EQ(CheckLogLevel("warn"), "");
  EXPECT_EQ(CheckUnixSocketPath(""), "");
  EXPECT_EQ(CheckUnixSocketPath("/run/perfd/perfd.sock"), "");
  EXPECT_EQ(CheckUnixSocketPath("/" + std::string(106, 'x')), "");
  EXPECT_NE(CheckUnixSocketPath("/" + std::string(107, 'x')), "");
  EXPECT_EQ(CheckGroupName("1001"), "");
  EXPECT_NE(CheckGroupName("-rf"), "");
  EXPECT_NE(CheckGroupName("a:b"), "");
}

// Found by fuzz/config_fuzz.cc (UBSan): libstdc++'s regex compiler reads
// back-reference numbers and repeat counts into a long without an overflow
// check. 2^64 + 1 wrapped to 1, so these were accepted as "\1" and "{1}".
TEST(ConfigChecksTest, RegexWithAHugeNumberIsRefused) {
  EXPECT_NE(CheckRegex("(a)\\18446744073709551617"), "");
  EXPECT_NE(CheckRegex("a{18446744073709551617}"), "");
  EXPECT_NE(CheckRegex("a{1,18446744073709551617}"), "");
  // Numbers that are not counts stay literal text, however long.
  EXPECT_EQ(CheckRegex("--port 18446744073709551617"), "");
  EXPECT_EQ(CheckRegex("\\\\18446744073709551617"), "");  // an escaped '\', then digits
  EXPECT_EQ(CheckRegex("(a)\\1{2,3}"), "");
}

}  // namespace
}  // namespace perfd::config_checks
