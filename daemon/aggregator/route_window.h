// Request statistics of one route over a sliding window of 1-second slots.
// Slots exist only for seconds that had requests: they are kept in order of
// second and dropped once older than window_max_seconds behind the newest.
// A route that served one request holds one slot, not window_max_seconds of
// them (tens of thousands of routes x 600 eagerly allocated slots was most of
// perfd's memory); a busy route holds at most window_max_seconds slots.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "daemon/aggregator/latency_sketch.h"
#include "daemon/aggregator/second_slots.h"

namespace perfd {

// Merged numbers of the slots in a window.
struct WindowStats {
  uint64_t requests = 0;  // completed + aborted
  uint64_t errors = 0;    // status >= 500 or aborted (each request once)
  uint64_t aborted = 0;
  LatencySketch latency;  // seconds
  LatencySketch queue;    // seconds waiting in the socket; same requests as latency
  double max_seconds = 0;
  std::map<std::string, uint64_t> status_codes;  // "200" / "aborted" -> count
};

class RouteWindow {
 public:
  explicit RouteWindow(uint32_t window_max_seconds);

  // Counted in the slot of end_ns (the request's end). Latency end - start is
  // recorded when start_ns is known (non-zero) and not after end_ns; aborted
  // requests keep their latency because slow requests that clients give up
  // on are exactly the tail one wants to see. Ignored when end_ns's second is
  // window_max_seconds or more behind the newest second recorded (event
  // older than the longest window).
  // queue_ns (the part of the latency before the worker's first read) is
  // recorded with the latency, so both sketches count the same requests.
  void Record(int status, bool aborted, uint64_t start_ns, uint64_t end_ns, uint64_t queue_ns = 0);

  // The last window_seconds slots up to and including now_ns's second.
  // window_seconds is clamped to [1, window_max_seconds].
  WindowStats Snapshot(uint32_t window_seconds, uint64_t now_ns) const;

  uint32_t window_max_seconds() const { return slots_.window_max_seconds(); }
  // Slots held now: what this route costs in memory, for tests and stats.
  size_t allocated_slots() const { return slots_.size(); }

 private:
  static constexpr int kAbortedStatus = -1;  // status_codes key for aborted

  struct Slot {
    explicit Slot(uint64_t s) : second(s) {}
    uint64_t second;  // which second this slot holds
    uint64_t requests = 0;
    uint64_t errors = 0;
    uint64_t aborted = 0;
    double max_seconds = 0;
    // Few distinct codes per route: a flat vector beats a map, and clearing
    // it keeps its capacity for the next second.
    std::vector<std::pair<int, uint64_t>> status_codes;
    LatencySketch latency;
    LatencySketch queue;
  };

  SecondSlots<Slot> slots_;
};

}  // namespace perfd
