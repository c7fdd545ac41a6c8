// Decided request breakdowns per service and route for perfctl's windows
// (GetBreakdown). Means are exact over the window: per-second sums of each
// part. Quantiles and the tail (requests at or above the p99 latency) come
// from the most recent kRecentPerRoute requests of each route that ended in
// the window, so they cost a bounded amount of memory per route (~28 KiB).
// Routes are bounded upstream by the route tables; past kMaxRoutes per
// service they fold into "_OTHER". Written by the event thread, read by
// API threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/aggregator/second_slots.h"
#include "daemon/breakdown/breakdown_tracker.h"

namespace perfd::breakdown {

struct PartFigures {
  double mean_s = 0;  // every request of the window
  double p50_s = 0;   // recent requests
  double p99_s = 0;
  double tail_mean_s = 0;  // tail requests
};

struct RouteBreakdownView {
  std::string route;
  uint64_t requests = 0;
  double mean_s = 0;
  uint64_t recent = 0;
  double tail_threshold_s = 0;
  uint64_t tail_requests = 0;
  double tail_mean_s = 0;
  std::array<PartFigures, kNumParts> parts{};
};

class BreakdownWindow {
 public:
  static constexpr size_t kRecentPerRoute = 512;
  static constexpr size_t kMaxRoutes = 512;

  explicit BreakdownWindow(uint32_t window_max_seconds) : window_max_(window_max_seconds) {}

  void Add(const std::string& service, const DecidedRequest& r);
  // Routes with requests that ended in the last window_seconds before
  // now_ns; route "" = all, "METHOD /t" that route, "/t" any method.
  // Sorted by total time (mean x requests), largest first.
  std::vector<RouteBreakdownView> Snapshot(const std::string& service, uint32_t window_seconds,
                                           uint64_t now_ns, const std::string& route = "") const;
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns);
  size_t services() const;
  uint64_t routes_folded() const;

 private:
  struct Slot {
    explicit Slot(uint64_t s) : second(s) {}
    uint64_t second;
    uint64_t requests = 0;
    uint64_t latency_ns = 0;
    std::array<uint64_t, kNumParts> parts_ns{};
  };
  struct Record {
    uint64_t end_ns = 0;
    uint32_t latency_us = 0;
    std::array<uint32_t, kNumParts> parts_us{};
  };
  struct Route {
    explicit Route(uint32_t window_max) : slots(window_max) {}
    SecondSlots<Slot> slots;
    std::vector<Record> recent;  // ring of kRecentPerRoute
    size_t next = 0;
  };
  struct Service {
    std::map<std::string, Route> routes;
    uint64_t last_ns = 0;
  };

  static RouteBreakdownView View(const std::string& name, const Route& r, uint32_t window_seconds,
                                 uint64_t now_ns);

  const uint32_t window_max_;
  mutable std::mutex mu_;
  std::map<std::string, Service> services_;
  uint64_t routes_folded_ = 0;
};

}  // namespace perfd::breakdown
