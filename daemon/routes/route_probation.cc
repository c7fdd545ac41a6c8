#include "daemon/routes/route_probation.h"

#include <algorithm>

namespace perfd {

RouteProbation::RouteProbation(uint32_t min_requests, size_t max_candidates)
    : min_requests_(std::max<uint32_t>(min_requests, 1)),
      max_candidates_(std::max<size_t>(max_candidates, 1)) {}

bool RouteProbation::Admit(const std::string& route) {
  auto it = counts_.find(route);
  if (it == counts_.end()) {
    if (min_requests_ == 1) return true;
    if (counts_.size() >= max_candidates_) MakeRoom();
    counts_.emplace(route, 1);
    return false;
  }
  if (++it->second < min_requests_) return false;
  counts_.erase(it);
  return true;
}

void RouteProbation::MakeRoom() {
  // Counts stay below min_requests_, so this loops at most
  // log2(min_requests_) + 1 times; each pass is linear in max_candidates_,
  // and a pass that frees k entries pays for k later inserts.
  while (counts_.size() >= max_candidates_) {
    for (auto it = counts_.begin(); it != counts_.end();) {
      it->second /= 2;
      if (it->second == 0) {
        it = counts_.erase(it);
        ++forgotten_;
      } else {
        ++it;
      }
    }
  }
}

}  // namespace perfd
