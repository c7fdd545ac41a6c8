// Python CPU samples attributed to service / route / category / stack, kept
// in 1-second slots for sliding-window queries (perfctl top, --functions,
// profile). Thread-safe: the event thread adds, API threads query.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace perfd {

// Index order matches perfd::Category (daemon/python/categories.h).
inline constexpr int kNumCategories = 6;
extern const char* const kCategoryNames[kNumCategories];
// Stacks() of every category.
inline constexpr int kAllCategories = -1;
// Index of a name in kCategoryNames; -1 for an unknown name.
int CategoryIndex(const std::string& name);

// Routes for samples that belong to no known request, and for samples that
// could belong to several overlapping requests of their process.
inline constexpr const char* kNoRequestRoute = "(no request)";
inline constexpr const char* kUnattributedRoute = "(unattributed)";

struct RouteCpu {
  std::array<uint64_t, kNumCategories> by_category{};
  uint64_t total = 0;
  uint64_t exact = 0;  // of total: joined by request identity
};

class CpuProfileStore {
 public:
  CpuProfileStore(uint32_t window_max_seconds, double seconds_per_sample);

  void Add(const std::string& service, const std::string& route, int category, uint32_t stack_id,
           uint64_t ts_ns, bool exact = false);

  // Samples per route over the last window_s seconds ending at now_ns.
  std::map<std::string, RouteCpu> RouteCpuInWindow(const std::string& service, uint32_t window_s,
                                                   uint64_t now_ns) const;
  // Stack id → samples for slots in [from_ns, to_ns]; route "" = all;
  // category: an index of kCategoryNames, or kAllCategories.
  std::unordered_map<uint32_t, uint64_t> Stacks(const std::string& service,
                                                const std::string& route, uint64_t from_ns,
                                                uint64_t to_ns,
                                                int category = kAllCategories) const;
  // Drops services whose newest sample is idle_ns or more before now_ns:
  // each holds window_max_seconds + 1 slots, and the names of services that
  // came and went over days are unbounded.
  void EvictIdle(uint64_t now_ns, uint64_t idle_ns);
  size_t services() const;
  uint64_t services_evicted() const;
  double seconds_per_sample() const { return seconds_per_sample_; }
  uint32_t window_max_seconds() const { return window_max_; }

 private:
  struct RouteSlot {
    RouteCpu cpu;
    // StackKey(category, stack id) → samples: GetFunctions filters by the
    // category the classifier gave each sample, kept as given rather than
    // re-derived from the stack. A stack has one category in practice, so
    // the map is no larger than one keyed by stack id alone.
    std::unordered_map<uint64_t, uint64_t> stacks;
  };
  struct Slot {
    uint64_t second = UINT64_MAX;
    std::map<std::string, RouteSlot> routes;
  };
  struct Service {
    std::vector<Slot> slots;
    uint64_t last_second = 0;  // of the newest sample
  };

  const uint32_t window_max_;
  const double seconds_per_sample_;
  mutable std::mutex mu_;
  std::map<std::string, Service> services_;
  uint64_t services_evicted_ = 0;
};

}  // namespace perfd
