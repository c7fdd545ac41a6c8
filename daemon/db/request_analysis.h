// What one request's database calls add up to, computed once per request
// by whoever reports it (daemon/pipeline/db_request_join.h) and shared by
// every DbObserver: DB time and queries (request_db_time.h), N+1 runs and
// fan-outs (n_plus_one.h).
#pragma once

#include <vector>

#include "daemon/db/db_call.h"
#include "daemon/db/n_plus_one.h"
#include "daemon/db/request_db_time.h"

namespace perfd::db {

struct RequestAnalysis {
  RequestDbTime time;
  RequestPatterns patterns;
};

inline RequestAnalysis AnalyzeRequest(const std::vector<DbCall>& calls,
                                      const NPlusOneDetector& detector) {
  return {MeasureRequestDbTime(calls), detector.Detect(calls)};
}

}  // namespace perfd::db
