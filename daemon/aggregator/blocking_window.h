// Decided blocking events per service for perfctl's windows (GetBlocking):
// kept as they are (they are rare: at most one per blocking threshold per
// loop thread) for window_max_seconds, grouped into call sites at query
// time. Bounded: at most max_events per service (the oldest go first,
// counted). Written by the event thread, read by API threads.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/loop/blocking_event.h"

namespace perfd {

// Events of one (route, kind, site) in a window.
struct BlockingSite {
  std::string route;
  BlockingKind kind = BlockingKind::kOnCpu;
  std::string site;       // "" = no stack seen
  uint32_t stack_id = 0;  // the stack of the longest event of the site (0 = none)
  uint64_t events = 0;
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;
  uint64_t oncpu_ns = 0;
  uint64_t runnable_ns = 0;
  std::array<uint64_t, LOOP_BLOCK_REASONS> blocked_ns{};
  uint64_t victims = 0;
  uint64_t victim_wait_ns = 0;
  uint64_t last_end_ns = 0;  // the newest event's end
};

struct BlockingWindowSnapshot {
  bool found = false;  // the service had blocking events in the window
  uint64_t events = 0;
  uint64_t total_ns = 0;
  std::vector<BlockingSite> sites;  // by total_ns, largest first
};

class BlockingWindow {
 public:
  explicit BlockingWindow(uint32_t window_max_seconds, size_t max_events_per_service = 20000);

  void Add(const std::string& service, const BlockingEvent& e);
  // Events that ended in the last window_seconds before now_ns; route "" =
  // all, else only events whose `route` is it.
  BlockingWindowSnapshot Snapshot(const std::string& service, uint32_t window_seconds,
                                  uint64_t now_ns, const std::string& route = "") const;
  // Drops services whose newest event ended before now_ns - idle_ns.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns);
  size_t services() const;
  uint64_t dropped() const;  // events pushed out by max_events_per_service

 private:
  const uint64_t window_max_ns_;
  const size_t max_events_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<BlockingEvent>> services_;
  uint64_t dropped_ = 0;
};

}  // namespace perfd
