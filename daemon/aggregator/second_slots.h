// A sliding window of 1-second slots, created only for seconds that had
// data and dropped once window_max_seconds behind the newest: the storage of
// the HTTP route windows (route_window.h) and the DB windows (daemon/db).
// Slot must be constructible from its second and expose a `second` member.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>

namespace perfd {

inline constexpr uint64_t kNsPerSecond = 1000000000ULL;

template <typename Slot>
class SecondSlots {
 public:
  explicit SecondSlots(uint32_t window_max_seconds)
      : window_max_(std::max<uint32_t>(window_max_seconds, 1)) {}

  // The slot of `second`, created in order; nullptr when it is older than
  // the longest window behind the newest slot. Events arrive nearly in
  // order, so this is O(1) but for late events.
  Slot* At(uint64_t second) {
    if (slots_.empty() || slots_.back().second < second) {
      slots_.emplace_back(second);
      while (slots_.front().second + window_max_ <= second) slots_.pop_front();
      return &slots_.back();
    }
    if (second + window_max_ <= slots_.back().second) return nullptr;
    auto it = std::lower_bound(slots_.begin(), slots_.end(), second,
                               [](const Slot& s, uint64_t sec) { return s.second < sec; });
    if (it == slots_.end() || it->second != second) it = slots_.emplace(it, second);
    return &*it;
  }

  // Calls fn(slot) for the last window_seconds slots up to now_ns's second
  // (window clamped to [1, window_max_seconds]).
  template <typename Fn>
  void ForWindow(uint32_t window_seconds, uint64_t now_ns, Fn&& fn) const {
    const uint64_t window = std::clamp<uint64_t>(window_seconds, 1, window_max_);
    const uint64_t now = now_ns / kNsPerSecond;
    const uint64_t first = now + 1 >= window ? now + 1 - window : 0;
    auto it = std::lower_bound(slots_.begin(), slots_.end(), first,
                               [](const Slot& s, uint64_t sec) { return s.second < sec; });
    for (; it != slots_.end() && it->second <= now; ++it) fn(*it);
  }

  size_t size() const { return slots_.size(); }
  uint32_t window_max_seconds() const { return window_max_; }

 private:
  uint32_t window_max_;
  std::deque<Slot> slots_;  // increasing second
};

}  // namespace perfd
