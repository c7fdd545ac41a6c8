#include "daemon/aggregator/route_window.h"

#include <algorithm>

namespace perfd {

namespace {
constexpr uint64_t kNsPerSecond = 1000000000ULL;
}  // namespace

RouteWindow::RouteWindow(uint32_t window_max_seconds)
    : window_max_(std::max<uint32_t>(window_max_seconds, 1)) {}

RouteWindow::Slot* RouteWindow::SlotFor(uint64_t second) {
  // Events arrive nearly in order: the common case is the back slot or a
  // new one after it, so this is O(1) but for late events.
  if (slots_.empty() || slots_.back().second < second) {
    slots_.emplace_back(second);
    while (slots_.front().second + window_max_ <= second) slots_.pop_front();
    return &slots_.back();
  }
  if (second + window_max_ <= slots_.back().second) return nullptr;  // older than the window
  auto it = std::lower_bound(slots_.begin(), slots_.end(), second,
                             [](const Slot& s, uint64_t sec) { return s.second < sec; });
  if (it == slots_.end() || it->second != second) it = slots_.emplace(it, second);
  return &*it;
}

void RouteWindow::Record(int status, bool aborted, uint64_t start_ns, uint64_t end_ns,
                         uint64_t queue_ns) {
  Slot* found = SlotFor(end_ns / kNsPerSecond);
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
  uint64_t window = std::clamp<uint64_t>(window_seconds, 1, window_max_);
  uint64_t now = now_ns / kNsPerSecond;
  uint64_t first = now + 1 >= window ? now + 1 - window : 0;
  auto it = std::lower_bound(slots_.begin(), slots_.end(), first,
                             [](const Slot& s, uint64_t sec) { return s.second < sec; });
  for (; it != slots_.end() && it->second <= now; ++it) {
    const Slot& slot = *it;
    stats.requests += slot.requests;
    stats.errors += slot.errors;
    stats.aborted += slot.aborted;
    stats.max_seconds = std::max(stats.max_seconds, slot.max_seconds);
    stats.latency.Merge(slot.latency);  // same (default) accuracy everywhere
    stats.queue.Merge(slot.queue);
    for (const auto& [code, count] : slot.status_codes) {
      stats.status_codes[code == kAbortedStatus ? "aborted" : std::to_string(code)] += count;
    }
  }
  return stats;
}

}  // namespace perfd
