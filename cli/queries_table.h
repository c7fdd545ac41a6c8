// `perfctl queries` rendering: pure functions from a GetQueriesResponse to
// text, so the layout is unit tested without a daemon.
#pragma once

#include <cstddef>
#include <string>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

struct QueriesTableOptions {
  size_t limit = 20;  // 0: all fingerprints
  size_t width = 0;   // terminal width to cut the FINGERPRINT column to; 0: no cut
};

// Header (service, window, route filter, encrypted connections, time), a
// blank line, then SYSTEM / CALLS/S / P50 / P99 / ROWS / ERR / TOTAL /
// ROUTES / CALL SITE / FINGERPRINT by total time (as the server sorts),
// then one line per N+1 finding and fan-out. ROUTES and CALL SITE show the
// one with most calls, "+N" for the others.
std::string RenderQueriesTable(const v1::GetQueriesResponse& queries,
                               const QueriesTableOptions& options);

}  // namespace perfd::cli
