// Database numbers of one route over a sliding window of 1-second slots
// (each request counted in the slot of its end): requests, calls, the time
// they took (summed, and as wall time covered), queries per request, and
// per repeated fingerprint the N+1 findings and fan-out observations.
// Unjoined calls (route "(no request)") add calls and time, no request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/aggregator/latency_sketch.h"
#include "daemon/aggregator/second_slots.h"
#include "daemon/db/db_call.h"
#include "daemon/db/n_plus_one.h"
#include "daemon/db/request_db_time.h"

namespace perfd::db {

// One fingerprint's repeats on a route over the window.
struct RoutePattern {
  System system = System::kPostgresql;
  uint64_t fingerprint_id = 0;
  std::string call_site;             // of the latest finding (or fan-out) with one
  uint64_t n_plus_one_requests = 0;  // requests with an N+1 finding
  double n_plus_one_mean_count = 0;  // calls per finding
  uint32_t n_plus_one_max_count = 0;
  double n_plus_one_mean_seconds = 0;  // time of the run, per finding
  uint64_t fan_out_requests = 0;       // requests with a fan-out of it
  double fan_out_mean_count = 0;
};

struct RouteDbStats {
  uint64_t requests = 0;    // completed requests (0 for "(no request)")
  uint64_t calls = 0;       // all calls, housekeeping included
  uint64_t queries = 0;     // calls that are not housekeeping
  double call_seconds = 0;  // sum of call durations
  double wall_seconds = 0;  // per request, union of its call intervals; summed
  // Queries per request (count as the "seconds" value; 0 counts in zero_count).
  LatencySketch queries_per_request;
  std::vector<RoutePattern> patterns;  // fingerprints with a finding or fan-out in the window
};

class RouteDbWindow {
 public:
  // max_patterns: fingerprints per route whose repeats are kept; findings of
  // others are dropped (RecordRequest returns how many).
  RouteDbWindow(uint32_t window_max_seconds, size_t max_patterns);

  // Returns the number of findings/fan-outs dropped by the pattern cap.
  uint32_t RecordRequest(uint64_t end_ns, const RequestDbTime& time,
                         const RequestPatterns& patterns);
  void RecordUnjoined(const DbCall& call);

  RouteDbStats Snapshot(uint32_t window_seconds, uint64_t now_ns) const;
  size_t allocated_slots() const { return slots_.size(); }

 private:
  struct PatternSlot {
    explicit PatternSlot(uint8_t i) : index(i) {}
    uint8_t index;  // into patterns_
    uint64_t n1_requests = 0;
    uint64_t n1_count_sum = 0;
    uint64_t n1_ns_sum = 0;
    uint32_t n1_count_max = 0;
    uint64_t fan_requests = 0;
    uint64_t fan_count_sum = 0;
  };
  struct Slot {
    explicit Slot(uint64_t s) : second(s) {}
    uint64_t second;
    uint64_t requests = 0;
    uint64_t calls = 0;
    uint64_t queries = 0;
    uint64_t call_ns = 0;
    uint64_t wall_ns = 0;
    LatencySketch queries_per_request;
    std::vector<PatternSlot> patterns;
  };
  struct PatternInfo {
    System system;
    uint64_t fingerprint_id;
    std::string call_site;
  };
  // Index of the run's fingerprint in patterns_, or -1 past the cap.
  int PatternIndex(const RepeatedRun& run);
  static PatternSlot& PatternIn(Slot& slot, uint8_t index);

  size_t max_patterns_;
  SecondSlots<Slot> slots_;
  std::vector<PatternInfo> patterns_;
};

}  // namespace perfd::db
