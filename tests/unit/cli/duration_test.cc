#include "cli/duration.h"

#include <gtest/gtest.h>

namespace perfd::cli {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, UnitsAndCombinations) {
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("30s"), milliseconds(30000));
  EXPECT_EQ(ParseDuration("2m"), milliseconds(120000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(ParseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(ParseDuration("1s500ms"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("45"), milliseconds(45000));  // bare number: seconds
  EXPECT_EQ(ParseDuration("1m30"), milliseconds(90000));
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
}

TEST(ParseDuration, RejectsGarbage) {
  for (const char* bad : {"", "s", "-5s", "1.5s", "5 s", "5sec", "10d", "1 30s", "ms5",
                          "99999999999999999999s", "200h"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(CheckWindow, WholeSecondsAtLeastOne) {
  EXPECT_EQ(CheckWindow("60s"), "");
  EXPECT_EQ(CheckWindow("10m"), "");
  EXPECT_NE(CheckWindow("1500ms").find("whole seconds"), std::string::npos);
  EXPECT_NE(CheckWindow("0s").find("at least 1s"), std::string::npos);
  EXPECT_NE(CheckWindow("soon").find("soon"), std::string::npos);
}

TEST(CheckInterval, AtLeast100ms) {
  EXPECT_EQ(CheckInterval("100ms"), "");
  EXPECT_EQ(CheckInterval("2s"), "");
  EXPECT_NE(CheckInterval("99ms").find("at least 100ms"), std::string::npos);
  EXPECT_NE(CheckInterval("0").find("at least 100ms"), std::string::npos);
  EXPECT_NE(CheckInterval("fast"), "");
}

}  // namespace
}  // namespace perfd::cli
