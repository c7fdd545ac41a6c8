#include "daemon/db/request_db_time.h"

#include <algorithm>
#include <utility>

namespace perfd::db {

RequestDbTime MeasureRequestDbTime(const std::vector<DbCall>& calls) {
  RequestDbTime t;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  spans.reserve(calls.size());
  for (const DbCall& c : calls) {
    ++t.calls;
    if (!c.housekeeping) ++t.queries;
    t.call_ns += c.duration_ns();
    if (c.end_ns > c.start_ns) spans.emplace_back(c.start_ns, c.end_ns);
  }
  std::sort(spans.begin(), spans.end());
  uint64_t cur_start = 0, cur_end = 0;
  bool open = false;
  for (const auto& [s, e] : spans) {
    if (open && s <= cur_end) {
      cur_end = std::max(cur_end, e);
      continue;
    }
    if (open) t.wall_ns += cur_end - cur_start;
    cur_start = s;
    cur_end = e;
    open = true;
  }
  if (open) t.wall_ns += cur_end - cur_start;
  return t;
}

}  // namespace perfd::db
