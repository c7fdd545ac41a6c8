// CPython GC pauses per service over perfctl's windows (GetTop's `gc`):
// per 1-second slot and generation (0, 1, 2, other), the pauses, their total
// and the longest. The same records as perfd_python_gc_pause_seconds
// (daemon/exporters/gc_metrics.h), kept as window sums because a histogram
// cannot answer "the last 60 s". Written by the event thread, read by API
// threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "daemon/aggregator/service_slots.h"

namespace perfd {

struct GcPauseFigures {
  uint64_t pauses = 0;
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;  // the longest pause, 0 if none
};

struct GcWindowSnapshot {
  static constexpr size_t kGenerations = 4;  // 0, 1, 2, other (a future CPython)
  static constexpr size_t kOther = 3;
  std::array<GcPauseFigures, kGenerations> generations;  // indexed by GcGenerationIndex
  GcPauseFigures overall;                                // every generation
};

// 0..2 → itself, anything else → GcWindowSnapshot::kOther.
size_t GcGenerationIndex(int generation);

class GcWindows {
 public:
  explicit GcWindows(uint32_t window_max_seconds) : slots_(window_max_seconds) {}

  // One collection of a worker of `service`; end_ns is CLOCK_MONOTONIC.
  void AddPause(const std::string& service, int generation, uint64_t duration_ns, uint64_t end_ns);
  GcWindowSnapshot Snapshot(const std::string& service, uint32_t window_seconds,
                            uint64_t now_ns) const;
  // Drops services with nothing newer than now_ns - idle_ns.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns) { slots_.EvictIdle(now_ns, idle_ns); }
  size_t services() const { return slots_.services(); }

 private:
  struct Slot {
    explicit Slot(uint64_t s) : second(s) {}
    uint64_t second;
    std::array<GcPauseFigures, GcWindowSnapshot::kGenerations> generations{};
  };
  ServiceSlots<Slot> slots_;
};

}  // namespace perfd
