// The real consumer: `go tool pprof` must read what perfctl writes. Skipped
// where Go is not installed (scripts install golang-go for CI).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cli/pprof_export.h"
#include "tests/unit/cli/sample_profile.h"

namespace perfd::cli {
namespace {

constexpr const char* kGo = "/usr/bin/go";

class GoPprofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kGo, X_OK) != 0) {
      GTEST_SKIP() << kGo << " not installed (apt-get install golang-go); skipping the "
                   << "go tool pprof check";
    }
    char tmpl[] = "/tmp/perfctl-pprof-XXXXXX";
    dir_ = mkdtemp(tmpl);
    file_ = dir_ + "/profile.pb.gz";
    std::string serialized;
    ASSERT_TRUE(ToPprof(SampleProfile(), "perfd test").SerializeToString(&serialized));
    std::ofstream(file_, std::ios::binary) << Gzip(serialized);
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
  }

  // go must not touch the real home or build cache.
  std::string Pprof(const std::string& flags) {
    const std::string cmd = "HOME=" + dir_ + " GOCACHE=" + dir_ + "/gocache GOFLAGS= " + kGo +
                            " tool pprof " + flags + " " + file_ + " 2>&1";
    std::string out;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    status_ = pclose(pipe);
    return out;
  }

  std::string dir_, file_;
  int status_ = -1;
};

TEST_F(GoPprofTest, RawListsTypesSamplesAndFunctions) {
  const std::string out = Pprof("-raw");
  ASSERT_EQ(status_, 0) << out;
  EXPECT_NE(out.find("PeriodType: cpu nanoseconds"), std::string::npos) << out;
  EXPECT_NE(out.find("Period: 10000000"), std::string::npos) << out;
  EXPECT_NE(out.find("samples/count cpu/nanoseconds"), std::string::npos) << out;
  EXPECT_NE(out.find("30  300000000"), std::string::npos) << out;
  for (const char* name : {"main app.py:5", "UserService.get users.py:12",
                           "UserService.get users.py:13", "serialize ser.py:22", "[truncated]"}) {
    EXPECT_NE(out.find(name), std::string::npos) << name << "\n" << out;
  }
}

TEST_F(GoPprofTest, TopRanksByCpu) {
  // Flat: serialize 30+4 samples = 0.34 s; UserService.get 10; main 0.
  const std::string out = Pprof("-top -nodecount=10");
  ASSERT_EQ(status_, 0) << out;
  EXPECT_NE(out.find("Type: cpu"), std::string::npos) << out;
  const size_t serialize = out.find("serialize");
  const size_t get = out.find("UserService.get");
  ASSERT_NE(serialize, std::string::npos) << out;
  ASSERT_NE(get, std::string::npos) << out;
  EXPECT_LT(serialize, get) << out;
  EXPECT_NE(out.find("340ms"), std::string::npos) << out;
}

}  // namespace
}  // namespace perfd::cli
