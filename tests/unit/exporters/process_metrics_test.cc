// ProcessMetrics: the /proc parsers on fixed texts (a comm with spaces and
// parentheses, unlimited limits, malformed input) and one real read of
// /proc/self checked against what this test process can know of itself.
#include "daemon/exporters/process_metrics.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <vector>

namespace perfd {
namespace {

// 52 fields as in Linux 6.x; comm "(my (x) proc)" holds spaces and ")".
const char kStat[] =
    "4242 (my (x) proc) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 150 0 0 20 0 9 0 "
    "123400 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 17003 0 0 0 17 1 0 0 0 0 0 "
    "0 0 0 0 0 0 0 0";

TEST(ProcessMetricsTest, ParsesStatFieldsAfterTheLastParenthesis) {
  const auto st = ParseProcStat(kStat);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->utime_ticks, 250);
  EXPECT_EQ(st->stime_ticks, 150);
  EXPECT_EQ(st->starttime_ticks, 123400);
  EXPECT_EQ(st->vsize_bytes, 104857600);
  EXPECT_EQ(st->rss_pages, 2560);
}

TEST(ProcessMetricsTest, RefusesMalformedStat) {
  EXPECT_FALSE(ParseProcStat(""));
  EXPECT_FALSE(ParseProcStat("4242 (perfd) S 1 2 3"));                   // truncated
  EXPECT_FALSE(ParseProcStat("4242 perfd S 1 4242 4242 0 -1 4194560"));  // no comm
  std::string bad = kStat;
  bad.replace(bad.find(" 250 "), 5, " x50 ");  // utime not a number
  EXPECT_FALSE(ParseProcStat(bad));
}

TEST(ProcessMetricsTest, ParsesBootTimeAndOpenFileLimit) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000);
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n"));
  const char limits[] =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n";
  EXPECT_EQ(ParseMaxOpenFiles(limits), 1024);
  EXPECT_EQ(ParseMaxOpenFiles("Max open files            unlimited            unlimited   files\n"),
            -1);
  EXPECT_FALSE(ParseMaxOpenFiles("Max cpu time unlimited unlimited seconds\n"));
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  // Burn a little CPU so the counter cannot be 0 by accident of tick rounding.
  const auto t0 = std::chrono::steady_clock::now();
  volatile double x = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) x = x + 1;
  const auto s = ReadSelfProcessStats();
  ASSERT_TRUE(s);
  EXPECT_GT(s->cpu_seconds, 0);
  EXPECT_GT(s->resident_bytes, 0);
  EXPECT_GE(s->virtual_bytes, s->resident_bytes);
  const double now = double(std::time(nullptr));
  EXPECT_GT(s->start_time_seconds, now - 24 * 3600.0);  // a test binary started today
  EXPECT_LE(s->start_time_seconds, now + 1);
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur != RLIM_INFINITY) {
    EXPECT_EQ(s->max_fds, double(rl.rlim_cur));
  }
  // stdin/out/err at least, and opening one more is seen.
  EXPECT_GE(s->open_fds, 3);
  const int fd = dup(1);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadSelfProcessStats()->open_fds, s->open_fds + 1);
  close(fd);
}

TEST(ProcessMetricsTest, ExportsTheStandardProcessCollectorNames) {
  ProcessMetrics metrics;
  std::map<std::string, prometheus::MetricType> got;
  for (const auto& fam : metrics.Collect()) {
    ASSERT_EQ(fam.metric.size(), 1u) << fam.name;
    got[fam.name] = fam.type;
  }
  const std::map<std::string, prometheus::MetricType> want = {
      {"process_cpu_seconds_total", prometheus::MetricType::Counter},
      {"process_resident_memory_bytes", prometheus::MetricType::Gauge},
      {"process_virtual_memory_bytes", prometheus::MetricType::Gauge},
      {"process_start_time_seconds", prometheus::MetricType::Gauge},
      {"process_open_fds", prometheus::MetricType::Gauge},
      {"process_max_fds", prometheus::MetricType::Gauge},
  };
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace perfd
