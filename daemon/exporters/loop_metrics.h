// Event-loop metrics per service, from the kernel's cumulative per-process
// histograms (bpf/loop_trace.bpf.c) and its blocking events:
//   perfd_event_loop_busy_seconds{service_name}: histogram of iteration busy
//     time (wait returned → next wait), power-of-two buckets 1 µs .. 1.07 s;
//   perfd_event_loop_time_seconds_total{service_name, part}: that busy time
//     split into oncpu, runnable (ready, no CPU), blocked_sleep, blocked_lock
//     (futex: locks, the GIL), blocked_io, blocked_other;
//   perfd_event_loop_blocking_events_total{service_name, kind}: iterations
//     busy past event_loop.blocking_threshold_ms, by their largest part:
//     oncpu (a CPU hog), offcpu (blocked: a sync call inside async code) or
//     runnable (ready, but the host's CPUs were taken by others);
//   perfd_event_loop_blocked_seconds_total{service_name, http_route}: the
//     busy time of those events once decided (BlockingTracker), split over
//     the routes whose stacks held the loop (the bare template, or
//     "(no request)" / "(unattributed)"); at most kMaxBlockedRoutes routes
//     per service, the rest under "_OTHER".
// Each process's histogram is read every second and its increase since the
// last read is added to its service's series (a process's kernel entry is
// its own, so a new pid starts from zero). Used by the event thread only.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "bpf/loop_trace.h"
#include "daemon/aggregator/loop_windows.h"
#include "daemon/loop/blocking_event.h"

namespace perfd {

struct LoopMetricsStats {
  uint64_t blocking_events = 0;
  uint64_t unknown_process = 0;        // event or histogram of a pid with no service
  uint64_t series_evicted = 0;         // services removed as idle
  uint64_t blocked_routes_folded = 0;  // route shares counted under "_OTHER" (route cap)
  size_t services = 0;
};

class LoopMetrics {
 public:
  LoopMetrics(prometheus::Registry& registry, uint64_t idle_ns);

  // The cumulative histogram of one worker of `service`, read at now_ns.
  void Update(uint32_t pid, const std::string& service, const loop_hist& h, uint64_t now_ns);
  // A blocking event of a worker of `service`.
  void OnBlockingEvent(const std::string& service, const loop_block_event& e, uint64_t now_ns);
  // A blocking event decided by BlockingTracker: each route's share of its
  // busy time into perfd_event_loop_blocked_seconds_total.
  void OnBlockingDecided(const std::string& service, const BlockingEvent& e, uint64_t now_ns);
  void OnUnknownProcess() { ++stats_.unknown_process; }
  // Also record into perfctl's windows (GetTop's loop figures); must outlive this.
  void SetWindows(LoopWindows* windows) { windows_ = windows; }
  // The worker is gone (after its last Update).
  void ProcessGone(uint32_t pid) { last_.erase(pid); }
  // Removes services with no iteration since now_ns - idle_ns.
  void EvictIdle(uint64_t now_ns);
  const LoopMetricsStats& stats() const { return stats_; }

  // Prometheus bucket index (0..kBoundaries, the last is +Inf) of kernel
  // bucket k ([2^k, 2^(k+1)) ns). Exposed for tests.
  static size_t BucketOf(size_t k);
  static constexpr size_t kBoundaries = 21;  // 2^10 .. 2^30 ns
  // Route series of perfd_event_loop_blocked_seconds_total per service
  // (besides "_OTHER"): routes come from the traffic's templates.
  static constexpr size_t kMaxBlockedRoutes = 256;

 private:
  struct Service {
    prometheus::Histogram* busy;
    std::array<prometheus::Counter*, 2 + LOOP_BLOCK_REASONS> parts;
    prometheus::Counter* blocking_oncpu;
    prometheus::Counter* blocking_offcpu;
    prometheus::Counter* blocking_runnable;
    std::map<std::string, prometheus::Counter*> blocked;  // http_route → series
    uint64_t last_ns;
  };
  Service& Of(const std::string& service, uint64_t now_ns);

  prometheus::Family<prometheus::Histogram>& busy_;
  prometheus::Family<prometheus::Counter>& time_;
  prometheus::Family<prometheus::Counter>& blocking_;
  prometheus::Family<prometheus::Counter>& blocked_;
  uint64_t idle_ns_;
  std::map<std::string, Service> services_;
  std::map<uint32_t, loop_hist> last_;  // pid → histogram at the last Update
  LoopMetricsStats stats_;
  LoopWindows* windows_ = nullptr;
};

}  // namespace perfd
