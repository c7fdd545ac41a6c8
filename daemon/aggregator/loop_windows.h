// Event-loop figures per service over perfctl's windows (GetTop's `loop`):
// busy time and iterations of every worker's loop (from the kernel's
// per-process histograms, read each second) and blocking events (the
// longest one is the window's worst iteration). Written by the event thread,
// read by API threads.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/aggregator/service_slots.h"

namespace perfd {

struct LoopWindowSnapshot {
  bool found = false;  // the service had loop data in the window
  uint64_t busy_ns = 0;
  uint64_t iterations = 0;
  uint64_t blocking_events = 0;
  uint64_t worst_blocking_ns = 0;  // longest blocking iteration, 0 if none
};

class LoopWindows {
 public:
  explicit LoopWindows(uint32_t window_max_seconds) : slots_(window_max_seconds) {}

  void AddIterations(const std::string& service, uint64_t now_ns, uint64_t busy_ns,
                     uint64_t iterations);
  void AddBlocking(const std::string& service, uint64_t now_ns, uint64_t busy_ns);
  LoopWindowSnapshot Snapshot(const std::string& service, uint32_t window_seconds,
                              uint64_t now_ns) const;
  // Drops services with nothing newer than now_ns - idle_ns.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns) { slots_.EvictIdle(now_ns, idle_ns); }
  size_t services() const { return slots_.services(); }

 private:
  struct Slot {
    explicit Slot(uint64_t s) : second(s) {}
    uint64_t second;
    uint64_t busy_ns = 0, iterations = 0, blocking = 0, worst_ns = 0;
  };
  ServiceSlots<Slot> slots_;
};

}  // namespace perfd
