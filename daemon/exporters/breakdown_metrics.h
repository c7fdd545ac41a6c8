// perfd_http_server_request_time_seconds_total{service_name, http_route,
// part}: where requests' time went (docs/METRICS.md, "Request time
// breakdown"). Per route, the parts of every decided request add up to the
// sum of its latencies, so rate(part) / rate(requests) is the mean per
// request of that part. A part's series is created when it is first
// non-zero. Routes per service are capped (kMaxRoutes, then "_OTHER");
// services idle for idle_ns are removed. Event thread only.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "daemon/breakdown/breakdown_tracker.h"

namespace perfd {

struct BreakdownMetricsStats {
  uint64_t routes_folded = 0;   // requests counted under "_OTHER" (route cap)
  uint64_t series_evicted = 0;  // services removed as idle
};

class BreakdownMetrics {
 public:
  static constexpr size_t kMaxRoutes = 256;

  BreakdownMetrics(prometheus::Registry& registry, uint64_t idle_ns);

  void OnRequest(const std::string& service, const breakdown::DecidedRequest& r, uint64_t now_ns);
  void EvictIdle(uint64_t now_ns);
  const BreakdownMetricsStats& stats() const { return stats_; }

 private:
  using Parts = std::array<prometheus::Counter*, breakdown::kNumParts>;
  struct Service {
    std::map<std::string, Parts> routes;  // http_route → part series (null until used)
    uint64_t last_ns = 0;
  };

  prometheus::Family<prometheus::Counter>& time_;
  const uint64_t idle_ns_;
  std::map<std::string, Service> services_;
  BreakdownMetricsStats stats_;
};

}  // namespace perfd
