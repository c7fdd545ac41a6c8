#include "cli/functions_table.h"

#include <gtest/gtest.h>

#include "cli/text_table.h"

namespace perfd::cli {
namespace {

void Add(v1::GetFunctionsResponse* r, const char* function, const char* file, uint32_t line,
         uint64_t own, uint64_t total) {
  v1::FunctionStats* f = r->add_functions();
  f->set_function(function);
  f->set_file(file);
  f->set_line(line);
  f->set_own_samples(own);
  f->set_total_samples(total);
  f->set_own_seconds(static_cast<double>(own) * r->sample_period_seconds());
  f->set_total_seconds(static_cast<double>(total) * r->sample_period_seconds());
}

v1::GetFunctionsResponse Sample() {
  v1::GetFunctionsResponse r;
  r.set_service("shop");
  r.set_window_seconds(60);
  r.set_total_samples(200);
  r.set_sample_period_seconds(0.01);
  Add(&r, "main", "app.py", 1, 0, 180);
  Add(&r, "serialize", "ser.py", 20, 90, 90);
  Add(&r, "UserService.get", "users.py", 10, 20, 150);
  return r;
}

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(out.substr(start, end - start));
  }
  return lines;
}

TEST(FunctionSortKeys, Names) {
  EXPECT_EQ(FunctionSortKeyNames(), (std::vector<std::string>{"own", "total"}));
  EXPECT_EQ(ParseFunctionSortKey("total"), FunctionSortKey::kTotal);
  EXPECT_FALSE(ParseFunctionSortKey("rps").has_value());
}

TEST(FunctionsTable, GoldenLayoutByOwn) {
  const auto lines = Lines(RenderFunctionsTable(Sample(), {}));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "service shop   window 60s   route all   200 samples (2.00s CPU)");
  EXPECT_EQ(lines[1], "");
  EXPECT_EQ(lines[2], " %OWN  %TOTAL  OWNTIME  TOTALTIME  FUNCTION");
  EXPECT_EQ(lines[3], "45.0%   45.0%    900ms      900ms  serialize (ser.py:20)");
  EXPECT_EQ(lines[4], "10.0%   75.0%    200ms      1.50s  UserService.get (users.py:10)");
  EXPECT_EQ(lines[5], " 0.0%   90.0%        0      1.80s  main (app.py:1)");
}

TEST(FunctionsTable, HostileNamesCannotEmitEscapeSequences) {
  v1::GetFunctionsResponse r;
  r.set_service("shop\x1b[H");
  r.set_window_seconds(60);
  r.set_total_samples(10);
  r.set_sample_period_seconds(0.01);
  Add(&r, "handler\x1b[2J\x1b]0;pwned\x07", "app\r.py\xff", 3, 10, 10);
  FunctionsTableOptions options;
  options.route = "GET /x\x1b[31m";
  const std::string out = RenderFunctionsTable(r, options);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.find('\xff'), std::string::npos) << out;
  const auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0],
            "service shop\\x1b[H   window 60s   route GET /x\\x1b[31m   10 samples (100ms CPU)");
  EXPECT_EQ(lines[3],
            "100.0%  100.0%    100ms      100ms  "
            "handler\\x1b[2J\\x1b]0;pwned\\x07 (app\\x0d.py\\xff:3)");
}

TEST(FunctionsTable, SortByTotalLimitAndRoute) {
  FunctionsTableOptions options;
  options.sort = FunctionSortKey::kTotal;
  options.limit = 2;
  options.route = "GET /users/{user_id}";
  const auto lines = Lines(RenderFunctionsTable(Sample(), options));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].find("service shop   window 60s   route GET /users/{user_id}   200"), 0u)
      << lines[0];
  EXPECT_NE(lines[3].find("main (app.py:1)"), std::string::npos);
  EXPECT_NE(lines[4].find("UserService.get"), std::string::npos);
  EXPECT_EQ(lines[5], "(1 more functions; --limit 0 shows all)");
}

TEST(FunctionsTable, TiesTinySharesAndEmpty) {
  v1::GetFunctionsResponse r;
  r.set_total_samples(10000);
  r.set_sample_period_seconds(0.01);
  Add(&r, "b", "x.py", 1, 1, 1);
  Add(&r, "a", "x.py", 2, 1, 1);
  Add(&r, "a", "", 0, 1, 3);
  const auto sorted = SortFunctions(r, FunctionSortKey::kOwn);
  EXPECT_EQ(sorted[0].file(), "");  // same own: more total first
  EXPECT_EQ(sorted[1].function(), "a");
  EXPECT_EQ(sorted[2].function(), "b");
  const std::string out = RenderFunctionsTable(r, {});
  EXPECT_NE(out.find("<0.1%   <0.1%   10.0ms     30.0ms  a\n"), std::string::npos) << out;

  v1::GetFunctionsResponse empty;
  empty.set_service("shop");
  empty.set_window_seconds(30);
  EXPECT_NE(RenderFunctionsTable(empty, {}).find("(no Python samples in the last 30s)\n"),
            std::string::npos);
}

}  // namespace
}  // namespace perfd::cli
