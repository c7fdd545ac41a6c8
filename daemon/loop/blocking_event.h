// A blocking event of an event loop, once perfd has joined it with what ran
// during it: the Python stacks that held the loop (on-CPU samples taken in
// the iteration, the stack at the longest off-CPU stretch), the request they
// belonged to, and the requests of the same worker that waited behind it.
// Produced by BlockingTracker (event thread), stored by BlockingWindow (read
// by API threads), counted by LoopMetrics.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/loop_trace.h"

namespace perfd {

// What mostly held the loop: its largest part (the same rule as
// perfd_event_loop_blocking_events_total{kind}).
enum class BlockingKind { kOnCpu, kOffCpu, kRunnable };
// "oncpu", "offcpu", "runnable": the spelling of metrics labels and the API.
inline const char* BlockingKindName(BlockingKind k) {
  switch (k) {
    case BlockingKind::kOnCpu:
      return "oncpu";
    case BlockingKind::kOffCpu:
      return "offcpu";
    case BlockingKind::kRunnable:
      return "runnable";
  }
  return "oncpu";
}
// The largest of the three parts; ties go to oncpu, then offcpu (offcpu_ns:
// the sum of the blocked parts). The one rule for the kind of an event.
// On CPU (a hog), blocked (a sync call), or runnable (the host's CPUs were
// taken: not the code's doing). A tie names the code, not the host.
inline BlockingKind BlockingKindOf(uint64_t oncpu_ns, uint64_t offcpu_ns, uint64_t runnable_ns) {
  if (oncpu_ns >= offcpu_ns && oncpu_ns >= runnable_ns) return BlockingKind::kOnCpu;
  if (offcpu_ns >= runnable_ns) return BlockingKind::kOffCpu;
  return BlockingKind::kRunnable;
}

// One route's share of an event's busy time: the on-CPU part divided by the
// routes of the on-CPU samples (by count), the off-CPU part by the routes of
// the off-CPU stacks (by stretch); a part without evidence of its own
// follows the other part's.
struct BlockingRouteShare {
  std::string route;  // "METHOD /template", or "(no request)", "(unattributed)"
  uint64_t ns = 0;
};

struct BlockingEvent {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t start_ns = 0;  // the wait returned (CLOCK_MONOTONIC)
  uint64_t busy_ns = 0;   // until the next wait began
  uint64_t oncpu_ns = 0;
  uint64_t runnable_ns = 0;
  std::array<uint64_t, LOOP_BLOCK_REASONS> blocked_ns{};  // enum loop_block_reason
  BlockingKind kind = BlockingKind::kOnCpu;

  // The route that held the loop longest ("(unattributed)" without evidence)
  // and every route's share (they sum to busy_ns).
  std::string route;
  std::vector<BlockingRouteShare> routes;
  // Where: the leaf-most application frame of the dominant stack as
  // "qualname (file:line)" — for an off-CPU event the line of the blocking
  // call, for an on-CPU one the function's first line (a hog's samples land
  // on many of its lines) — ("" when no stack was seen), and that stack's id
  // in the profiler's StackTable (0 = none: StackTable::kOverflowStack is
  // never chosen as evidence).
  std::string site;
  uint32_t stack_id = 0;
  bool has_offcpu_stack = false;  // an off-CPU stack was captured for it
  uint32_t oncpu_samples = 0;     // on-CPU samples of the loop thread inside it
  // Server connections whose requests' code the evidence shows holding the
  // loop (sorted); empty for "(no request)" and "(unattributed)". The
  // blocker's own requests are not its victims (the breakdown's loop_wait).
  std::vector<uint64_t> blocker_conns;

  // The cost to the others: requests of the same worker (not the blocker's
  // own) whose [arrival, last write] overlapped the event, and the summed
  // overlap (how long they waited behind it).
  uint32_t victims = 0;
  uint64_t victim_wait_ns = 0;

  uint64_t end_ns() const { return start_ns + busy_ns; }
  uint64_t offcpu_ns() const {
    uint64_t s = 0;
    for (uint64_t b : blocked_ns) s += b;
    return s;
  }
};

}  // namespace perfd
