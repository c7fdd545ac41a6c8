// perfd_python_cpu_seconds_total{service_name, http_route, category}: one
// counter per label set, removed from the family (Family::Remove) after
// idle_ns without a sample, so services and routes that came and went over
// days leave no series behind. Routes per service are capped by the router
// and categories are six; idle eviction bounds the services. Event thread
// only (the family locks itself against scrapes).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace perfd {

class CpuSeries {
 public:
  explicit CpuSeries(prometheus::Registry& registry);

  // ts_ns: the sample's time (CLOCK_MONOTONIC), what idleness is measured from.
  void Add(const std::string& service, const std::string& http_route, const std::string& category,
           double seconds, uint64_t ts_ns);
  // Removes the series whose last sample is idle_ns or more before now_ns.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns);

  size_t series() const { return counters_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    prometheus::Counter* counter;
    uint64_t last_ns;
  };
  prometheus::Family<prometheus::Counter>& family_;
  std::unordered_map<std::string, Entry> counters_;  // key: labels joined by '\0'
  uint64_t evicted_ = 0;
};

}  // namespace perfd
