// Templates come from the traced service's OpenAPI document: parsing must
// refuse what could blow up matching or labels, and matching must stay
// linear (counted in matcher steps, not wall time, so the test is stable).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/routes/route_template.h"

namespace perfd {
namespace {

std::string Repeat(const std::string& unit, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += unit;
  return out;
}

TemplateError RefusalOf(const std::string& text) {
  TemplateError reason = TemplateError::kNone;
  std::string error;
  EXPECT_FALSE(RouteTemplate::Parse(text, &error, &reason).has_value()) << text;
  EXPECT_FALSE(error.empty()) << text;
  return reason;
}

TEST(RouteTemplateLimitsTest, EightPathParametersMatchInLinearSteps) {
  auto tmpl = RouteTemplate::Parse(
      "/{a:path}/{b:path}/{c:path}/{d:path}/{e:path}/{f:path}/{g:path}/{h:path}/x");
  ASSERT_TRUE(tmpl.has_value());
  const std::string body = Repeat("/s", 199);  // 200 segments with the leaf
  for (const char* leaf : {"/x", "/y"}) {
    const std::string path = body + leaf;
    MatchBudget budget(kMaxMatchSteps);
    // A backtracking matcher tries C(199, 7) splits (~10^12) before
    // refusing "/y"; the greedy one places each run once.
    EXPECT_EQ(tmpl->Matches(SplitPath(path), budget), std::string(leaf) == "/x") << leaf;
    EXPECT_FALSE(budget.exhausted());
    EXPECT_LE(budget.used(), 20u) << leaf;
  }
  // Too few segments for eight non-empty ':path' parameters.
  EXPECT_FALSE(tmpl->Matches("/s/s/s/x"));
  EXPECT_TRUE(tmpl->Matches("/1/2/3/4/5/6/7/8/x"));
}

TEST(RouteTemplateLimitsTest, RunsBetweenPathParametersCostAtMostPathTimesTemplate) {
  // Each candidate position of "x/y" nearly matches: the worst case of the
  // greedy search, still bounded by segments(path) * segments(template).
  auto tmpl = RouteTemplate::Parse("/{a:path}/x/x/x/y/{b:path}/z");
  ASSERT_TRUE(tmpl.has_value());
  const std::string path = Repeat("/x", 200) + "/z";
  MatchBudget budget(kMaxMatchSteps);
  EXPECT_FALSE(tmpl->Matches(SplitPath(path), budget));
  EXPECT_FALSE(budget.exhausted());
  EXPECT_LE(budget.used(), 202u * 8u);
  EXPECT_TRUE(tmpl->Matches(Repeat("/x", 50) + "/x/x/x/y/q/z"));
}

TEST(RouteTemplateLimitsTest, MixedSegmentBacktrackingIsBoundedByTheBudget) {
  // Ten parameters separated by '-' against 250 dashes: the last must be an
  // int, so no split matches, and backtracking tries all C(248, 9) of them
  // (as Starlette's regex would); the budget stops it and reports no match.
  auto tmpl = RouteTemplate::Parse("/" + Repeat("{p}-", 9) + "{q:int}");
  ASSERT_TRUE(tmpl.has_value());
  MatchBudget budget(kMaxMatchSteps);
  EXPECT_FALSE(tmpl->Matches(SplitPath("/" + std::string(250, '-')), budget));
  EXPECT_TRUE(budget.exhausted());
  EXPECT_LE(budget.used(), kMaxMatchSteps);
  EXPECT_TRUE(tmpl->Matches("/1-2-3-4-5-6-7-8-9-10"));  // normal use is unaffected
}

TEST(RouteTemplateLimitsTest, ExhaustedBudgetMeansNoMatch) {
  auto tmpl = RouteTemplate::Parse("/users/{id}/orders/{order}");
  ASSERT_TRUE(tmpl.has_value());
  MatchBudget tiny(2);
  EXPECT_FALSE(tmpl->Matches(SplitPath("/users/1/orders/2"), tiny));
  EXPECT_TRUE(tiny.exhausted());
  MatchBudget enough(kMaxMatchSteps);
  EXPECT_TRUE(tmpl->Matches(SplitPath("/users/1/orders/2"), enough));
  EXPECT_LE(enough.used(), 6u);  // one per template plus one per segment
}

TEST(RouteTemplateLimitsTest, LongTemplatesAreRefused) {
  EXPECT_EQ(RefusalOf("/" + std::string(10 * 1024, 'a')), TemplateError::kTooLong);
  EXPECT_EQ(RefusalOf("/" + std::string(kMaxTemplateBytes, 'a')), TemplateError::kTooLong);
  EXPECT_TRUE(RouteTemplate::Parse("/" + std::string(kMaxTemplateBytes - 1, 'a')).has_value());
}

TEST(RouteTemplateLimitsTest, TemplatesWithTooManySegmentsAreRefused) {
  // kMaxTemplateSegments counts the empty one before the leading '/'.
  EXPECT_TRUE(RouteTemplate::Parse(Repeat("/a", kMaxTemplateSegments - 1)).has_value());
  EXPECT_EQ(RefusalOf(Repeat("/a", kMaxTemplateSegments)), TemplateError::kTooManySegments);
}

TEST(RouteTemplateLimitsTest, ParameterNamesAreIdentifierCharactersOnly) {
  for (const char* bad :
       {"/x/{a\"b}", "/x/{a\nb}", "/x/{a b}", "/x/{a-b}", "/x/{a.b}", "/x/{caf\xc3\xa9}",
        "/x/{a\"b:int}", "/x/{\"}", "/x/{a\\}", "/x/{id}-{a=b}"}) {
    EXPECT_EQ(RefusalOf(bad), TemplateError::kBadParameterName) << bad;
  }
  for (const char* ok : {"/x/{user_id}", "/x/{A9_}", "/x/{_}", "/x/{id2:int}"}) {
    EXPECT_TRUE(RouteTemplate::Parse(ok).has_value()) << ok;
  }
}

TEST(RouteTemplateLimitsTest, ControlCharactersAreRefused) {
  // No request line can contain them (the kernel cuts at CR/LF), so such a
  // template never matches; refusing keeps them out of label values.
  for (const std::string& bad : {std::string("/a\nb"), std::string("/a\rb"), std::string("/a\tb"),
                                 std::string("/a\x7f"), std::string("/a\0b", 4)}) {
    EXPECT_EQ(RefusalOf(bad), TemplateError::kBadCharacter);
  }
}

TEST(RouteTemplateLimitsTest, SyntaxErrorsHaveTheirOwnReason) {
  EXPECT_EQ(RefusalOf("/users/{id"), TemplateError::kSyntax);
  EXPECT_EQ(RefusalOf("/users/{id:bogus}"), TemplateError::kSyntax);
  EXPECT_STREQ(TemplateErrorName(TemplateError::kSyntax), "invalid");
  EXPECT_STREQ(TemplateErrorName(TemplateError::kBadParameterName), "bad_parameter_name");
}

}  // namespace
}  // namespace perfd
