// Per service / route / method request statistics over a sliding window.
// Thread-safe: the event thread records, the API thread reads snapshots.
//
// Memory is bounded over days of churn: at most max_services services and
// max_routes (method, route) entries in all; requests beyond the caps are
// counted under service or route "_OTHER" (and in the overflow counters), an
// unknown method under method "_OTHER". Routes with nothing in flight and no
// request for idle_ns are dropped by EvictIdle, and services left with no
// route after that, so workers that come and go do not leave entries behind.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/aggregator/latency_sketch.h"

namespace perfd {

// One route's numbers over a window, as returned to the API.
struct RouteSnapshot {
  std::string method;
  std::string route;
  uint64_t requests = 0;  // completed + aborted
  uint64_t errors = 0;    // status >= 500 + aborted
  uint64_t aborted = 0;
  double requests_per_second = 0;
  LatencySketch latency;  // merged over the window (seconds)
  LatencySketch queue;    // time waiting in the socket before the first read (seconds)
  double max_seconds = 0;
  uint32_t in_flight = 0;
  std::map<std::string, uint64_t> status_codes;  // "200"/"aborted" -> count
};

struct ServiceSnapshot {
  std::string service;
  uint32_t window_seconds = 0;
  std::vector<RouteSnapshot> routes;  // routes with traffic in the window or in flight
};

// The caps (config aggregation.*, docs/CONFIG.md).
struct AggregatorLimits {
  size_t max_services = 200;
  size_t max_routes = 10000;               // (method, route) entries over all services
  uint64_t idle_ns = 900 * 1000000000ULL;  // >= the longest window, so no window loses data
};

// What the aggregator holds and what its caps turned away (self-metrics).
struct AggregatorStats {
  size_t services = 0;
  size_t routes = 0;
  size_t slots = 0;                // 1-second slots allocated over all routes
  uint64_t services_over_cap = 0;  // requests counted under service "_OTHER"
  uint64_t routes_over_cap = 0;    // requests counted under route "_OTHER"
  uint64_t methods_folded = 0;     // requests with an unknown method
  uint64_t routes_evicted = 0;
  uint64_t services_evicted = 0;
};

class Aggregator {
 public:
  // window_max_seconds bounds the history kept per route.
  explicit Aggregator(uint32_t window_max_seconds, AggregatorLimits limits = {});
  ~Aggregator();

  // All times are CLOCK_MONOTONIC nanoseconds (the BPF clock).
  void RecordStart(const std::string& service, const std::string& method, const std::string& route);
  // status 0 / aborted=true for requests that never completed. Latency is
  // end_ns - start_ns, where start_ns is the request's arrival; queue_ns is
  // the part of it spent waiting in the socket.
  void RecordComplete(const std::string& service, const std::string& method,
                      const std::string& route, int status, bool aborted, uint64_t start_ns,
                      uint64_t end_ns, uint64_t queue_ns = 0);

  // Window of `window_seconds` ending at now_ns (clamped to window_max).
  ServiceSnapshot Snapshot(const std::string& service, uint32_t window_seconds,
                           uint64_t now_ns) const;
  std::vector<std::string> Services() const;
  uint64_t RequestsTotal(const std::string& service) const;

  // Drops routes idle for limits.idle_ns at now_ns (none in flight, last
  // request ended before now_ns - idle_ns), then services with no route
  // left. Their requests_total goes with them.
  void EvictIdle(uint64_t now_ns);
  AggregatorStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfd
