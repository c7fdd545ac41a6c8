#include "daemon/profile/cpu_profile.h"

#include <algorithm>

namespace perfd {

const char* const kCategoryNames[kNumCategories] = {"auth", "validation", "serialization",
                                                    "db",   "framework",  "app"};

namespace {

uint64_t StackKey(int category, uint32_t stack_id) {
  return (static_cast<uint64_t>(category) << 32) | stack_id;
}
int CategoryOf(uint64_t key) { return static_cast<int>(key >> 32); }
uint32_t StackIdOf(uint64_t key) { return static_cast<uint32_t>(key); }

}  // namespace

int CategoryIndex(const std::string& name) {
  for (int c = 0; c < kNumCategories; ++c) {
    if (name == kCategoryNames[c]) return c;
  }
  return -1;
}

CpuProfileStore::CpuProfileStore(uint32_t window_max_seconds, double seconds_per_sample)
    : window_max_(window_max_seconds), seconds_per_sample_(seconds_per_sample) {}

void CpuProfileStore::Add(const std::string& service, const std::string& route, int category,
                          uint32_t stack_id, uint64_t ts_ns, bool exact) {
  if (category < 0 || category >= kNumCategories) category = kNumCategories - 1;
  const uint64_t second = ts_ns / 1000000000ull;
  std::lock_guard<std::mutex> lock(mu_);
  Service& svc = services_[service];
  if (svc.slots.empty()) svc.slots.resize(window_max_ + 1);
  Slot& slot = svc.slots[second % svc.slots.size()];
  if (slot.second != second) {
    if (slot.second != UINT64_MAX && slot.second > second) return;  // older than the ring
    slot.second = second;
    slot.routes.clear();
  }
  svc.last_second = std::max(svc.last_second, second);
  RouteSlot& rs = slot.routes[route];
  ++rs.cpu.by_category[category];
  ++rs.cpu.total;
  if (exact) ++rs.cpu.exact;
  ++rs.stacks[StackKey(category, stack_id)];
}

std::map<std::string, RouteCpu> CpuProfileStore::RouteCpuInWindow(const std::string& service,
                                                                  uint32_t window_s,
                                                                  uint64_t now_ns) const {
  std::map<std::string, RouteCpu> out;
  const uint64_t now_s = now_ns / 1000000000ull;
  if (window_s > window_max_) window_s = window_max_;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  for (const Slot& slot : it->second.slots) {
    if (slot.second == UINT64_MAX || slot.second > now_s || now_s - slot.second >= window_s)
      continue;
    for (const auto& [route, rs] : slot.routes) {
      RouteCpu& acc = out[route];
      for (int c = 0; c < kNumCategories; ++c) acc.by_category[c] += rs.cpu.by_category[c];
      acc.exact += rs.cpu.exact;
      acc.total += rs.cpu.total;
    }
  }
  return out;
}

std::unordered_map<uint32_t, uint64_t> CpuProfileStore::Stacks(const std::string& service,
                                                               const std::string& route,
                                                               uint64_t from_ns, uint64_t to_ns,
                                                               int category) const {
  std::unordered_map<uint32_t, uint64_t> out;
  const uint64_t from_s = from_ns / 1000000000ull, to_s = to_ns / 1000000000ull;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  for (const Slot& slot : it->second.slots) {
    if (slot.second == UINT64_MAX || slot.second < from_s || slot.second > to_s) continue;
    for (const auto& [r, rs] : slot.routes) {
      if (!route.empty() && r != route) continue;
      for (const auto& [key, n] : rs.stacks) {
        if (category == kAllCategories || CategoryOf(key) == category) out[StackIdOf(key)] += n;
      }
    }
  }
  return out;
}

void CpuProfileStore::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = services_.begin(); it != services_.end();) {
    // The newest sample's second ends a second after it starts.
    if ((it->second.last_second + 1) * 1000000000ull + idle_ns > now_ns) {
      ++it;
      continue;
    }
    it = services_.erase(it);
    ++services_evicted_;
  }
}

size_t CpuProfileStore::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_.size();
}

uint64_t CpuProfileStore::services_evicted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_evicted_;
}

}  // namespace perfd
