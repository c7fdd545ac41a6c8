// N+1 detection over one request's database calls (pure).
//
// A finding is a run of >= min_calls consecutive calls (in send order) with
// the same fingerprint, each starting after the previous one ended: the
// application waited for one row, then asked for the next, typically a
// query in a loop over the rows of an earlier query. Housekeeping calls
// (BEGIN/COMMIT, pool resets, type introspection) never count and do not
// break a run: a loop inside a transaction is still a loop.
//
// When calls of such a run overlap in time (one started before an earlier
// one of the run ended: asyncio.gather over a pool), or were issued by
// different tasks of the request (DbCall::task: gather's children run in
// tasks of their own, and a pool with too few free connections makes them
// wait for each other, so they can look sequential on the wire), the run is
// a fan-out observation instead, never N+1: the application already issued
// them concurrently.
//
// Not checked: that the repeated calls bind different parameters. perfd
// never reads bound parameters (privacy, docs/SECURITY.md), so a loop that
// re-runs the same query with the same value is reported as N+1 too; that is
// still a loop worth seeing. A loop issuing two queries per iteration
// (A B A B ...) has no run of one fingerprint and is not reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/db/db_call.h"

namespace perfd::db {

struct RepeatedRun {
  System system = System::kPostgresql;
  uint64_t fingerprint_id = 0;
  uint32_t count = 0;     // calls in the run
  std::string call_site;  // most frequent non-empty call_site of the run ("" if none)
  uint64_t total_ns = 0;  // sum of the run's call durations
};

struct RequestPatterns {
  std::vector<RepeatedRun> n_plus_one;  // sequential runs of >= min_calls
  std::vector<RepeatedRun> fan_out;     // runs of >= 2 with overlapping calls
};

class NPlusOneDetector {
 public:
  static constexpr uint32_t kDefaultMinCalls = 5;
  explicit NPlusOneDetector(uint32_t min_calls = kDefaultMinCalls);

  // calls: one request's calls in the order they were sent.
  RequestPatterns Detect(const std::vector<DbCall>& calls) const;
  uint32_t min_calls() const { return min_calls_; }

 private:
  uint32_t min_calls_;
};

}  // namespace perfd::db
