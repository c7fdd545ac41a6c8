// Per service / route / method request statistics over a sliding window.
// Thread-safe: the event thread records, the API thread reads snapshots.
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

class Aggregator {
 public:
  // window_max_seconds bounds the history kept (and so memory).
  explicit Aggregator(uint32_t window_max_seconds);
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfd
