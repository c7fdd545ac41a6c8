#include "daemon/db/n_plus_one.h"

#include <algorithm>
#include <map>

namespace perfd::db {
namespace {

// Most frequent non-empty call site; ties go to the first seen, so the
// answer does not depend on map order.
std::string MostFrequentSite(const std::vector<const DbCall*>& run) {
  std::map<std::string, uint32_t> counts;
  std::string best;
  uint32_t best_count = 0;
  for (const DbCall* c : run) {
    if (c->call_site.empty()) continue;
    const uint32_t n = ++counts[c->call_site];
    if (n > best_count) {
      best = c->call_site;
      best_count = n;
    }
  }
  return best;
}

}  // namespace

NPlusOneDetector::NPlusOneDetector(uint32_t min_calls)
    : min_calls_(std::max<uint32_t>(min_calls, 2)) {}

RequestPatterns NPlusOneDetector::Detect(const std::vector<DbCall>& calls) const {
  RequestPatterns out;
  std::vector<const DbCall*> run;
  bool overlapped = false;
  uint64_t run_end = 0;  // latest end of the run so far

  auto close_run = [&] {
    if (run.size() >= 2 && (overlapped || run.size() >= min_calls_)) {
      RepeatedRun r;
      r.system = run.front()->system;
      r.fingerprint_id = run.front()->fingerprint_id;
      r.count = static_cast<uint32_t>(run.size());
      r.call_site = MostFrequentSite(run);
      for (const DbCall* c : run) r.total_ns += c->duration_ns();
      (overlapped ? out.fan_out : out.n_plus_one).push_back(std::move(r));
    }
    run.clear();
    overlapped = false;
    run_end = 0;
  };

  for (const DbCall& call : calls) {
    if (call.housekeeping) continue;
    const bool same = !run.empty() && run.front()->fingerprint_id == call.fingerprint_id &&
                      run.front()->system == call.system;
    if (!same) close_run();
    // Started before an earlier call of the run ended, or issued by another
    // task of the request (asyncio.gather children, even when a busy pool
    // made them wait for each other): issued concurrently.
    if (!run.empty() && (call.start_ns < run_end ||
                         (call.task && run.front()->task && call.task != run.front()->task)))
      overlapped = true;
    run.push_back(&call);
    run_end = std::max(run_end, call.end_ns);
  }
  close_run();
  return out;
}

}  // namespace perfd::db
