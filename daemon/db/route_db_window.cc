#include "daemon/db/route_db_window.h"

#include <algorithm>

namespace perfd::db {

RouteDbWindow::RouteDbWindow(uint32_t window_max_seconds, size_t max_patterns)
    : max_patterns_(std::min<size_t>(max_patterns, 255)), slots_(window_max_seconds) {}

int RouteDbWindow::PatternIndex(const RepeatedRun& run) {
  for (size_t i = 0; i < patterns_.size(); ++i) {
    PatternInfo& p = patterns_[i];
    if (p.fingerprint_id != run.fingerprint_id || p.system != run.system) continue;
    if (!run.call_site.empty()) p.call_site = run.call_site;
    return static_cast<int>(i);
  }
  if (patterns_.size() >= max_patterns_) return -1;
  patterns_.push_back({run.system, run.fingerprint_id, run.call_site});
  return static_cast<int>(patterns_.size() - 1);
}

RouteDbWindow::PatternSlot& RouteDbWindow::PatternIn(Slot& slot, uint8_t index) {
  for (auto& p : slot.patterns) {
    if (p.index == index) return p;
  }
  return slot.patterns.emplace_back(index);
}

uint32_t RouteDbWindow::RecordRequest(uint64_t end_ns, const RequestDbTime& time,
                                      const RequestPatterns& patterns) {
  Slot* slot = slots_.At(end_ns / kNsPerSecond);
  if (slot == nullptr) return 0;
  ++slot->requests;
  slot->calls += time.calls;
  slot->queries += time.queries;
  slot->call_ns += time.call_ns;
  slot->wall_ns += time.wall_ns;
  // The sketch's zero bucket holds the requests with no query.
  slot->queries_per_request.Add(static_cast<double>(time.queries));
  uint32_t dropped = 0;
  for (const RepeatedRun& run : patterns.n_plus_one) {
    const int i = PatternIndex(run);
    if (i < 0) {
      ++dropped;
      continue;
    }
    PatternSlot& p = PatternIn(*slot, static_cast<uint8_t>(i));
    ++p.n1_requests;
    p.n1_count_sum += run.count;
    p.n1_ns_sum += run.total_ns;
    p.n1_count_max = std::max(p.n1_count_max, run.count);
  }
  for (const RepeatedRun& run : patterns.fan_out) {
    const int i = PatternIndex(run);
    if (i < 0) {
      ++dropped;
      continue;
    }
    PatternSlot& p = PatternIn(*slot, static_cast<uint8_t>(i));
    ++p.fan_requests;
    p.fan_count_sum += run.count;
  }
  return dropped;
}

void RouteDbWindow::RecordUnjoined(const DbCall& call) {
  Slot* slot = slots_.At(call.end_ns / kNsPerSecond);
  if (slot == nullptr) return;
  ++slot->calls;
  if (!call.housekeeping) ++slot->queries;
  slot->call_ns += call.duration_ns();
  slot->wall_ns += call.duration_ns();  // unrelated calls: no union to take
}

RouteDbStats RouteDbWindow::Snapshot(uint32_t window_seconds, uint64_t now_ns) const {
  RouteDbStats out;
  struct Sum {
    uint64_t n1_requests = 0, n1_count_sum = 0, n1_ns_sum = 0, fan_requests = 0, fan_count_sum = 0;
    uint32_t n1_count_max = 0;
  };
  std::vector<Sum> sums(patterns_.size());
  uint64_t call_ns = 0, wall_ns = 0;
  slots_.ForWindow(window_seconds, now_ns, [&](const Slot& s) {
    out.requests += s.requests;
    out.calls += s.calls;
    out.queries += s.queries;
    call_ns += s.call_ns;
    wall_ns += s.wall_ns;
    out.queries_per_request.Merge(s.queries_per_request);
    for (const PatternSlot& p : s.patterns) {
      Sum& sum = sums[p.index];
      sum.n1_requests += p.n1_requests;
      sum.n1_count_sum += p.n1_count_sum;
      sum.n1_ns_sum += p.n1_ns_sum;
      sum.n1_count_max = std::max(sum.n1_count_max, p.n1_count_max);
      sum.fan_requests += p.fan_requests;
      sum.fan_count_sum += p.fan_count_sum;
    }
  });
  out.call_seconds = static_cast<double>(call_ns) / 1e9;
  out.wall_seconds = static_cast<double>(wall_ns) / 1e9;
  for (size_t i = 0; i < sums.size(); ++i) {
    const Sum& s = sums[i];
    if (s.n1_requests == 0 && s.fan_requests == 0) continue;
    RoutePattern& p = out.patterns.emplace_back();
    p.system = patterns_[i].system;
    p.fingerprint_id = patterns_[i].fingerprint_id;
    p.call_site = patterns_[i].call_site;
    p.n_plus_one_requests = s.n1_requests;
    p.n_plus_one_max_count = s.n1_count_max;
    if (s.n1_requests > 0) {
      p.n_plus_one_mean_count = double(s.n1_count_sum) / double(s.n1_requests);
      p.n_plus_one_mean_seconds = double(s.n1_ns_sum) / 1e9 / double(s.n1_requests);
    }
    p.fan_out_requests = s.fan_requests;
    if (s.fan_requests > 0) p.fan_out_mean_count = double(s.fan_count_sum) / double(s.fan_requests);
  }
  return out;
}

}  // namespace perfd::db
