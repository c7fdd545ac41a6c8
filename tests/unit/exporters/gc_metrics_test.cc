// GcMetrics: one histogram per (service, generation), unknown generations
// under "_OTHER", idle series removed one by one.
#include "daemon/exporters/gc_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <set>
#include <string>

namespace perfd {
namespace {

constexpr uint64_t kSec = 1000000000ULL;

std::set<std::string> Exported(const prometheus::Registry& registry) {
  std::set<std::string> out;
  for (const auto& f : registry.Collect()) {
    if (f.name != "perfd_python_gc_pause_seconds") continue;
    for (const auto& m : f.metric) {
      std::string s;
      for (const auto& l : m.label) s += l.name + "=" + l.value + ",";
      out.insert(s + std::to_string(m.histogram.sample_count));
    }
  }
  return out;
}

TEST(GcMetrics, OneSeriesPerServiceAndGenerationIdleOnesRemoved) {
  prometheus::Registry registry;
  GcMetrics m(registry, 60 * kSec);
  m.OnPause("api", 0, 50000, 10 * kSec);
  m.OnPause("api", 0, 60000, 11 * kSec);
  m.OnPause("api", 2, 5000000, 50 * kSec);
  m.OnPause("api", 7, 1000, 50 * kSec);
  m.OnPause("web", 1, 1000, 12 * kSec);
  EXPECT_EQ(Exported(registry),
            (std::set<std::string>{
                "generation=0,service_name=api,2", "generation=2,service_name=api,1",
                "generation=_OTHER,service_name=api,1", "generation=1,service_name=web,1"}));
  EXPECT_EQ(m.stats().series, 4u);
  EXPECT_EQ(m.stats().pauses, 5u);
  m.EvictIdle(100 * kSec);  // older than 40 s: api gen 0 and all of web
  EXPECT_EQ(Exported(registry), (std::set<std::string>{"generation=2,service_name=api,1",
                                                       "generation=_OTHER,service_name=api,1"}));
  EXPECT_EQ(m.stats().series, 2u);
  EXPECT_EQ(m.stats().series_evicted, 2u);
  m.OnPause("web", 1, 1000, 101 * kSec);  // comes back as a new series
  EXPECT_EQ(m.stats().series, 3u);
}

}  // namespace
}  // namespace perfd
