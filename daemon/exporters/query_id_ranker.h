// Which fingerprints of a service get their own db_query_id label: the top
// K by total call time. Scores decay by half every period (10 s) and the top
// set is recomputed then, so a fingerprint that stops being hot loses its
// label within a few periods and the set does not flap on one busy second.
// Until a service has K labelled fingerprints, a new one is labelled at once
// (a service with few fingerprints never shows "other").
//
// Memory is bounded: at most max_tracked fingerprints are scored per
// service (more are never labelled; counted), entries whose score decays
// below 1 µs are dropped, and a service with none left is forgotten.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "daemon/db/db_call.h"

namespace perfd {

struct QueryIdRankerStats {
  uint64_t untracked_calls = 0;  // calls of fingerprints past max_tracked
  uint64_t recomputes = 0;
};

class QueryIdRanker {
 public:
  static constexpr uint64_t kDefaultPeriodNs = 10 * 1000000000ULL;

  QueryIdRanker(size_t k, size_t max_tracked, uint64_t period_ns = kDefaultPeriodNs);

  // One call of (system, fingerprint_id) that took duration_ns, ending at
  // now_ns (CLOCK_MONOTONIC); recomputes the service's top set when a
  // period has passed since the last time.
  void Add(const std::string& service, db::System system, uint64_t fingerprint_id,
           uint64_t duration_ns, uint64_t now_ns);
  bool IsTop(const std::string& service, db::System system, uint64_t fingerprint_id) const;
  // Decays services with no call for a period (Add does it for busy ones)
  // and forgets services with no fingerprint left.
  void EvictIdle(uint64_t now_ns);

  size_t tracked() const;
  QueryIdRankerStats stats() const { return stats_; }

 private:
  using Key = std::pair<db::System, uint64_t>;
  struct Score {
    double decayed_ns = 0;   // score before this period
    uint64_t period_ns = 0;  // call time in the current period
  };
  struct ServiceRank {
    std::map<Key, Score> scores;
    std::set<Key> top;
    uint64_t last_recompute_ns = 0;
  };
  void Recompute(ServiceRank& rank);

  size_t k_;
  size_t max_tracked_;
  uint64_t period_ns_;
  std::map<std::string, ServiceRank, std::less<>> services_;
  QueryIdRankerStats stats_;
};

}  // namespace perfd
