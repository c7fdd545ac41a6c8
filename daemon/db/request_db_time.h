// What one request spent on database calls (pure). The sum of call
// durations counts concurrent calls (asyncio.gather fan-out) once each, so
// it can exceed the request's own latency; the wall time covered by calls
// (the union of their intervals) cannot, and is what the request waited.
#pragma once

#include <cstdint>
#include <vector>

#include "daemon/db/db_call.h"

namespace perfd::db {

struct RequestDbTime {
  uint32_t calls = 0;    // every call, housekeeping included (all are round trips)
  uint32_t queries = 0;  // calls that are not housekeeping: "queries per request"
  uint64_t call_ns = 0;  // sum of call durations
  uint64_t wall_ns = 0;  // union of [start_ns, end_ns) over the calls
};

RequestDbTime MeasureRequestDbTime(const std::vector<DbCall>& calls);

}  // namespace perfd::db
