#include "daemon/aggregator/route_window.h"

#include <algorithm>

namespace perfd {

RouteWindow::RouteWindow(uint32_t window_max_seconds) : slots_(window_max_seconds) {}

void RouteWindow::Record(int status, bool aborted, uint64_t start_ns, uint64_t end_ns,
                         uint64_t queue_ns) {
  Slot* found = slots_.At(end_ns / kNsPerSecond);
  if (found == nullptr) return;
  Slot& slot = *found;
  ++slot.requests;
  if (aborted) ++slot.aborted;
  if (aborted || status >= 500) ++slot.errors;

  int code = aborted ? kAbortedStatus : status;
  auto it = std::find_if(slot.status_codes.begin(), slot.status_codes.end(),
                         [code](const auto& entry) { return entry.first == code; });
  if (it == slot.status_codes.end()) {
    slot.status_codes.emplace_back(code, 1);
  } else {
    ++it->second;
  }

  if (start_ns != 0 && start_ns <= end_ns) {
    double seconds = static_cast<double>(end_ns - start_ns) / 1e9;
    slot.latency.Add(seconds);
    slot.max_seconds = std::max(slot.max_seconds, seconds);
    // Queue time is part of the latency; clamp so a bad input cannot make
    // the part exceed the whole.
    slot.queue.Add(static_cast<double>(std::min(queue_ns, end_ns - start_ns)) / 1e9);
  }
}

WindowStats RouteWindow::Snapshot(uint32_t window_seconds, uint64_t now_ns) const {
  WindowStats stats;
  slots_.ForWindow(window_seconds, now_ns, [&stats](const Slot& slot) {
    stats.requests += slot.requests;
    stats.errors += slot.errors;
    stats.aborted += slot.aborted;
    stats.max_seconds = std::max(stats.max_seconds, slot.max_seconds);
    stats.latency.Merge(slot.latency);  // same (default) accuracy everywhere
    stats.queue.Merge(slot.queue);
    for (const auto& [code, count] : slot.status_codes) {
      stats.status_codes[code == kAbortedStatus ? "aborted" : std::to_string(code)] += count;
    }
  });
  return stats;
}

}  // namespace perfd
