#include "daemon/profile/cpu_series.h"

#include <algorithm>

namespace perfd {

CpuSeries::CpuSeries(prometheus::Registry& registry)
    : family_(prometheus::BuildCounter()
                  .Name("perfd_python_cpu_seconds_total")
                  .Help("Python CPU time of traced workers (sampled), by route and category")
                  .Register(registry)) {}

void CpuSeries::Add(const std::string& service, const std::string& http_route,
                    const std::string& category, double seconds, uint64_t ts_ns) {
  std::string key = service + '\0' + http_route + '\0' + category;
  auto it = counters_.find(key);
  if (it == counters_.end()) {
    prometheus::Counter* counter = &family_.Add(
        {{"service_name", service}, {"http_route", http_route}, {"category", category}});
    it = counters_.emplace(std::move(key), Entry{counter, 0}).first;
  }
  it->second.counter->Increment(seconds);
  it->second.last_ns = std::max(it->second.last_ns, ts_ns);
}

void CpuSeries::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  for (auto it = counters_.begin(); it != counters_.end();) {
    if (it->second.last_ns + idle_ns > now_ns) {
      ++it;
      continue;
    }
    family_.Remove(it->second.counter);
    it = counters_.erase(it);
    ++evicted_;
  }
}

}  // namespace perfd
