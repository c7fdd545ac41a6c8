// CPython garbage-collection pauses per service and generation, from the
// interpreter's gc__start/gc__done USDT probes (bpf/py_sampler.bpf.c):
// perfd_python_gc_pause_seconds{service_name, generation}, a histogram. A
// collection stops the worker's event loop for its whole duration (it runs
// with the GIL held, on the thread that allocated), so its pause is latency
// added to every request in flight on that worker.
//
// Series are bounded: at most three generations per service; a service
// with no pause for idle_ns loses its series (Family::Remove), as the HTTP
// series do. Generations outside 0..2 (a future CPython) are labelled
// "_OTHER". Used by the event thread only.
#pragma once

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace perfd {

struct GcMetricsStats {
  uint64_t pauses = 0;           // observed
  uint64_t unknown_process = 0;  // pause of a pid with no service (exited meanwhile)
  uint64_t series_evicted = 0;   // (service, generation) sets removed as idle
  size_t series = 0;             // exported now
};

class GcMetrics {
 public:
  GcMetrics(prometheus::Registry& registry, uint64_t idle_ns);

  // One collection of a worker of `service`; end_ns is CLOCK_MONOTONIC.
  void OnPause(const std::string& service, int generation, uint64_t duration_ns, uint64_t end_ns);
  void OnUnknownProcess() { ++stats_.unknown_process; }
  // Removes series with no pause since now_ns - idle_ns.
  void EvictIdle(uint64_t now_ns);
  const GcMetricsStats& stats() const { return stats_; }

 private:
  struct Series {
    prometheus::Histogram* histogram = nullptr;  // nullptr: not exported
    uint64_t last_ns = 0;
  };
  static constexpr size_t kOtherGeneration = 3;  // index of "_OTHER"
  using Generations = std::array<Series, 4>;     // 0, 1, 2, _OTHER
  prometheus::Family<prometheus::Histogram>& pauses_;
  uint64_t idle_ns_;
  std::map<std::string, Generations> series_;  // by service
  GcMetricsStats stats_;
};

}  // namespace perfd
