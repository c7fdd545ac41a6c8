#include "cli/pprof_export.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/unit/cli/pprof_test_util.h"
#include "tests/unit/cli/sample_profile.h"

namespace perfd::cli {
namespace {

namespace pp = perftools::profiles;

// Stacks of the profile as "leaf|...|root" names with line numbers.
std::map<std::string, std::vector<int64_t>> StacksOf(const pp::Profile& p) {
  std::map<uint64_t, const pp::Function*> functions;
  for (const auto& f : p.function()) functions[f.id()] = &f;
  std::map<uint64_t, std::string> locations;
  for (const auto& l : p.location()) {
    EXPECT_EQ(l.line_size(), 1);
    const pp::Function* f = functions.at(l.line(0).function_id());
    locations[l.id()] = Str(p, f->name()) + ":" + std::to_string(l.line(0).line());
  }
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& s : p.sample()) {
    std::string key;
    for (uint64_t id : s.location_id()) key += (key.empty() ? "" : "|") + locations.at(id);
    out[key] = {s.value().begin(), s.value().end()};
  }
  return out;
}

TEST(Pprof, HeaderTypesAndPeriod) {
  const pp::Profile p = ToPprof(SampleProfile(), "perfd profile of shop");
  ASSERT_GT(p.string_table_size(), 0);
  EXPECT_EQ(p.string_table(0), "");
  ASSERT_EQ(p.sample_type_size(), 2);
  EXPECT_EQ(Str(p, p.sample_type(0).type()), "samples");
  EXPECT_EQ(Str(p, p.sample_type(0).unit()), "count");
  EXPECT_EQ(Str(p, p.sample_type(1).type()), "cpu");
  EXPECT_EQ(Str(p, p.sample_type(1).unit()), "nanoseconds");
  EXPECT_EQ(Str(p, p.period_type().type()), "cpu");
  EXPECT_EQ(Str(p, p.period_type().unit()), "nanoseconds");
  EXPECT_EQ(p.period(), 10000000);  // 0.01 s
  EXPECT_EQ(Str(p, p.default_sample_type()), "cpu");
  EXPECT_EQ(p.time_nanos(), 1700000000LL * 1000000000LL);
  EXPECT_EQ(p.duration_nanos(), 30LL * 1000000000LL);
  ASSERT_EQ(p.comment_size(), 1);
  EXPECT_EQ(Str(p, p.comment(0)), "perfd profile of shop");
  // Every string once.
  std::set<std::string> unique(p.string_table().begin(), p.string_table().end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(p.string_table_size()));
}

TEST(Pprof, FunctionsLocationsAndSamples) {
  const pp::Profile p = ToPprof(SampleProfile(), "");
  EXPECT_EQ(p.comment_size(), 0);
  // main, UserService.get (lines 12 and 13 share it), serialize, weird;name,
  // [truncated].
  ASSERT_EQ(p.function_size(), 5);
  std::map<std::string, const pp::Function*> by_name;
  for (int i = 0; i < p.function_size(); ++i) {
    const pp::Function& f = p.function(i);
    EXPECT_EQ(f.id(), static_cast<uint64_t>(i + 1));  // ids are non-zero
    by_name[Str(p, f.name())] = &f;
    EXPECT_EQ(f.system_name(), f.name());
  }
  ASSERT_TRUE(by_name.count("UserService.get"));
  EXPECT_EQ(Str(p, by_name["UserService.get"]->filename()), "users.py");
  EXPECT_EQ(by_name["UserService.get"]->start_line(), 10);
  EXPECT_EQ(by_name["serialize"]->start_line(), 20);
  EXPECT_TRUE(by_name.count("weird;name"));  // pprof needs no escaping
  EXPECT_TRUE(by_name.count("[truncated]"));
  // One location per (frame, line): the five frames plus [truncated].
  EXPECT_EQ(p.location_size(), 6);
  for (const auto& l : p.location()) EXPECT_EQ(l.mapping_id(), 0u);

  using V = std::vector<int64_t>;
  const auto stacks = StacksOf(p);
  ASSERT_EQ(stacks.size(), 4u);
  EXPECT_EQ(stacks.at("serialize:22|UserService.get:12|main:5"), (V{30, 300000000}));
  EXPECT_EQ(stacks.at("UserService.get:13|main:5"), (V{10, 100000000}));
  EXPECT_EQ(stacks.at("weird;name:3|main:5"), (V{2, 20000000}));
  EXPECT_EQ(stacks.at("serialize:22|UserService.get:12|[truncated]:0"), (V{4, 40000000}));
}

TEST(Pprof, GzipRoundTripParsesBack) {
  const pp::Profile built = ToPprof(SampleProfile(), "c");
  std::string serialized;
  ASSERT_TRUE(built.SerializeToString(&serialized));
  const std::string gz = Gzip(serialized);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic, as pprof expects
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  pp::Profile parsed;
  ASSERT_TRUE(parsed.ParseFromString(Gunzip(gz)));
  EXPECT_EQ(parsed.SerializeAsString(), serialized);
  EXPECT_EQ(StacksOf(parsed), StacksOf(built));
  EXPECT_EQ(Gunzip(Gzip("")), "");
}

TEST(Pprof, EmptyProfileIsValid) {
  v1::GetProfileResponse empty;
  empty.set_sample_period_seconds(1.0 / 99);
  const pp::Profile p = ToPprof(empty, "");
  EXPECT_EQ(p.sample_size(), 0);
  EXPECT_EQ(p.period(), 10101010);
  EXPECT_EQ(p.string_table(0), "");
}

}  // namespace
}  // namespace perfd::cli
