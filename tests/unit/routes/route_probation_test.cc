#include "daemon/routes/route_probation.h"

#include <gtest/gtest.h>

#include <string>

namespace perfd {
namespace {

TEST(RouteProbationTest, AdmitsAtTheNthRequest) {
  RouteProbation p(3, 100);
  EXPECT_FALSE(p.Admit("/a"));
  EXPECT_FALSE(p.Admit("/b"));
  EXPECT_FALSE(p.Admit("/a"));
  EXPECT_TRUE(p.Admit("/a"));
  EXPECT_EQ(p.candidates(), 1u);  // "/a" left probation
}

TEST(RouteProbationTest, OneMeansFirstCome) {
  RouteProbation p(1, 100);
  EXPECT_TRUE(p.Admit("/a"));
  EXPECT_EQ(p.candidates(), 0u);
}

TEST(RouteProbationTest, OneOffsAreForgottenBeforeRepeatedOnes) {
  RouteProbation p(3, 8);
  EXPECT_FALSE(p.Admit("/real"));
  EXPECT_FALSE(p.Admit("/real"));  // count 2
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(p.Admit("/scan" + std::to_string(i)));
  EXPECT_LE(p.candidates(), 8u);
  EXPECT_GT(p.forgotten(), 900u);
  // "/real" survived the first halving (2 -> 1) but not every later one;
  // what matters is that memory stayed bounded and a real route that keeps
  // coming back still gets through.
  EXPECT_FALSE(p.Admit("/real2"));
  EXPECT_FALSE(p.Admit("/real2"));
  EXPECT_TRUE(p.Admit("/real2"));
}

TEST(RouteProbationTest, HalvingKeepsRepeatedCandidates) {
  RouteProbation p(4, 4);
  for (int i = 0; i < 3; ++i) p.Admit("/hot");  // count 3
  p.Admit("/x");
  p.Admit("/y");
  p.Admit("/z");                // table full (4)
  EXPECT_FALSE(p.Admit("/w"));  // halves: /hot 3 -> 1, the one-offs go
  EXPECT_EQ(p.candidates(), 2u);
  EXPECT_EQ(p.forgotten(), 3u);
  EXPECT_FALSE(p.Admit("/hot"));  // 2
  EXPECT_FALSE(p.Admit("/hot"));  // 3
  EXPECT_TRUE(p.Admit("/hot"));
}

}  // namespace
}  // namespace perfd
