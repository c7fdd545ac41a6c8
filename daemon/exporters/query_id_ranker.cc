#include "daemon/exporters/query_id_ranker.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace perfd {
namespace {
constexpr double kForgetBelowNs = 1000;  // a decayed score this small is "gone"
}  // namespace

QueryIdRanker::QueryIdRanker(size_t k, size_t max_tracked, uint64_t period_ns)
    : k_(k), max_tracked_(std::max(max_tracked, k)), period_ns_(std::max<uint64_t>(period_ns, 1)) {}

void QueryIdRanker::Add(const std::string& service, db::System system, uint64_t fingerprint_id,
                        uint64_t duration_ns, uint64_t now_ns) {
  auto svc = services_.find(service);
  if (svc == services_.end()) {
    svc = services_.emplace(service, ServiceRank{}).first;
    svc->second.last_recompute_ns = now_ns;
  }
  ServiceRank& rank = svc->second;
  const Key key{system, fingerprint_id};
  auto it = rank.scores.find(key);
  if (it == rank.scores.end()) {
    if (rank.scores.size() >= max_tracked_) {
      ++stats_.untracked_calls;
    } else {
      it = rank.scores.emplace(key, Score{}).first;
      if (rank.top.size() < k_) rank.top.insert(key);
    }
  }
  if (it != rank.scores.end()) it->second.period_ns += duration_ns;
  if (now_ns >= rank.last_recompute_ns + period_ns_) {
    Recompute(rank);
    rank.last_recompute_ns = now_ns;
  }
}

void QueryIdRanker::Recompute(ServiceRank& rank) {
  ++stats_.recomputes;
  std::vector<std::pair<double, Key>> ranked;
  for (auto it = rank.scores.begin(); it != rank.scores.end();) {
    Score& s = it->second;
    s.decayed_ns = s.decayed_ns / 2 + static_cast<double>(s.period_ns);
    s.period_ns = 0;
    if (s.decayed_ns < kForgetBelowNs) {
      it = rank.scores.erase(it);
      continue;
    }
    ranked.emplace_back(s.decayed_ns, it->first);
    ++it;
  }
  // Highest score first; ties by key so the set does not depend on order.
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  rank.top.clear();
  for (size_t i = 0; i < ranked.size() && i < k_; ++i) rank.top.insert(ranked[i].second);
}

bool QueryIdRanker::IsTop(const std::string& service, db::System system,
                          uint64_t fingerprint_id) const {
  auto svc = services_.find(service);
  return svc != services_.end() && svc->second.top.count({system, fingerprint_id}) > 0;
}

void QueryIdRanker::EvictIdle(uint64_t now_ns) {
  for (auto svc = services_.begin(); svc != services_.end();) {
    ServiceRank& rank = svc->second;
    if (now_ns >= rank.last_recompute_ns + period_ns_) {
      Recompute(rank);
      rank.last_recompute_ns = now_ns;
    }
    svc = rank.scores.empty() ? services_.erase(svc) : std::next(svc);
  }
}

size_t QueryIdRanker::tracked() const {
  size_t n = 0;
  for (const auto& [name, rank] : services_) n += rank.scores.size();
  return n;
}

}  // namespace perfd
