// perfd_python_cpu_seconds_total series are removed after the idle time
// (time injected through the samples' timestamps).
#include "daemon/profile/cpu_series.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace perfd {
namespace {

constexpr uint64_t kS = 1000000000ull;

size_t Exported(const prometheus::Registry& registry) {
  size_t n = 0;
  for (const auto& family : registry.Collect())
    if (family.name == "perfd_python_cpu_seconds_total") n += family.metric.size();
  return n;
}

TEST(CpuSeries, IdleSeriesAreRemoved) {
  prometheus::Registry registry;
  CpuSeries series(registry);
  series.Add("old", "/a", "app", 0.01, 100 * kS);
  series.Add("old", "/a", "db", 0.01, 100 * kS);
  series.Add("new", "/a", "app", 0.01, 500 * kS);
  series.Add("new", "/a", "app", 0.01, 600 * kS);
  EXPECT_EQ(Exported(registry), 3u);
  series.EvictIdle(999 * kS, 900 * kS);
  EXPECT_EQ(series.series(), 3u);
  series.EvictIdle(1000 * kS, 900 * kS);
  EXPECT_EQ(series.series(), 1u);
  EXPECT_EQ(series.evicted(), 2u);
  EXPECT_EQ(Exported(registry), 1u);
  // The labels come back as a new series when samples do.
  series.Add("old", "/a", "app", 0.01, 1100 * kS);
  EXPECT_EQ(Exported(registry), 2u);
}

}  // namespace
}  // namespace perfd
