// Joins each blocking event of an event loop (bpf/loop_trace.bpf.c) with
// what perfd knows about the same worker around it, on the event thread:
//   - the Python stacks that held the loop: on-CPU samples of the loop
//     thread inside [start, end], and the stack the kernel captured at the
//     iteration's longest off-CPU stretch (a ProfileSample with offcpu_ns);
//   - the request they belonged to, from the sample attributor (exact join
//     by request identity where it is on), so the event has a route;
//   - the cost to the others: requests of that worker that completed with
//     [arrival, last write] overlapping the event and were not the
//     blocker's own (their connection is not one the evidence names).
// Samples are attributed some time after they were taken (the attributor
// waits for their request to complete), and a loop event may arrive before
// or after the samples of its iteration; so an event is decided
// `finalize_delay_ns` after its end (or when its worker is dropped), with
// whatever evidence and victims arrived by then. Bounded: per worker at
// most kMaxPendingEvents events and kMaxSamples samples are held, the rest
// counted (stats()).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bpf/loop_trace.h"
#include "daemon/loop/blocking_event.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/profile/sample_attributor.h"
#include "daemon/profile/stack_table.h"

namespace perfd {

struct BlockingTrackerStats {
  uint64_t events = 0;                // loop events received
  uint64_t decided = 0;               // handed to the sink
  uint64_t unknown_process = 0;       // event of a pid with no service (not decided)
  uint64_t pending_overflow = 0;      // event dropped: too many pending for its worker
  uint64_t samples_overflow = 0;      // sample not kept: the worker's buffer was full
  uint64_t without_evidence = 0;      // decided with no stack (route "(unattributed)")
  uint64_t offcpu_stacks = 0;         // off-CPU stacks received
  uint64_t offcpu_stacks_orphan = 0;  // off-CPU stack that matched no event
};

class BlockingTracker : public RequestObserver {
 public:
  static constexpr size_t kMaxPendingEvents = 4096;
  static constexpr size_t kMaxSamples = 20000;

  using Sink = std::function<void(const std::string& service, const BlockingEvent& e)>;

  // stacks: the profiler's table (frames of evidence stacks, for `site`).
  BlockingTracker(const StackTable& stacks, Sink sink, uint64_t finalize_delay_ns = 2000000000ull);

  void SetService(uint32_t pid, const std::string& service);
  // A blocking iteration from the kernel.
  void OnLoopEvent(const loop_block_event& e);
  // Every sample the profiler attributed (PythonProfiler's listener), on- and
  // off-CPU (s.offcpu_ns > 0), with its service and route key.
  void OnAttributedSample(const std::string& service, const std::string& route,
                          const ProfileSample& s);
  void OnStart(const RoutedRequest& /*req*/) override {}
  void OnComplete(const RoutedRequest& req) override;
  // Decides events whose end is at least finalize_delay_ns before now_ns.
  void Tick(uint64_t now_ns);
  // The worker is gone: its pending events are decided now, its state dropped.
  void DropProcess(uint32_t pid, uint64_t now_ns);

  const BlockingTrackerStats& stats() const { return stats_; }
  size_t pending_events() const;

 private:
  struct Evidence {
    uint64_t ts_ns = 0;
    uint32_t tid = 0;
    uint32_t stack_id = 0;
    uint64_t conn_id = 0;
    uint64_t offcpu_ns = 0;  // 0: an on-CPU sample
    std::string route;
    bool used = false;  // evidence of a decided event (for offcpu_stacks_orphan)
  };
  struct Victim {
    uint64_t conn_id = 0;
    uint64_t overlap_ns = 0;
  };
  struct Pending {
    loop_block_event raw{};
    std::vector<Victim> victims;
  };
  struct Proc {
    std::string service;
    std::deque<Pending> pending;   // by end time
    std::deque<Evidence> samples;  // recent attributed samples, by arrival
    // Threads that had a blocking event (its loop threads, at most
    // kMaxLoopThreads): once one is known, other threads' on-CPU samples
    // are not kept (only a loop thread's are evidence), so a worker with a
    // busy thread pool does not fill the buffer with them. The price: the
    // first event of a second loop thread in one process lacks its on-CPU
    // samples.
    std::unordered_set<uint32_t> loop_tids;
  };
  static constexpr size_t kMaxLoopThreads = 64;

  void Decide(Proc& p, const Pending& ev);
  // Drops samples older than the oldest pending event's start and than
  // finalize_delay + 5 s before the newest time seen: no event can use them.
  void Prune(Proc& p);
  // A sample leaves the buffer (counts an off-CPU stack that matched nothing).
  void Forget(const Evidence& s);
  // The frame a site names: the stack's leaf-most application frame, else
  // its leaf; false for an empty stack.
  bool SiteFrame(uint32_t stack_id, FrameInfo* frame) const;
  // "qualname (file:line)" of the stack's leaf-most application frame.
  std::string SiteOf(uint32_t stack_id) const;

  const StackTable& stacks_;
  Sink sink_;
  const uint64_t finalize_delay_ns_;
  std::unordered_map<uint32_t, Proc> procs_;
  uint64_t now_ns_ = 0;  // the newest time seen (events, samples, requests, ticks)
  BlockingTrackerStats stats_;
};

}  // namespace perfd
