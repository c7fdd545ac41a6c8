// `perfctl top` rendering: pure functions from a GetTopResponse to text, so
// the layout is unit tested without a daemon.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/top_merge.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

enum class SortKey {
  kRps,
  kP50,
  kP90,
  kP99,
  kMax,
  kQueue,
  kErrors,
  kInflight,
  kCpu,
  kCpuPerReq,
  kRoute
};

// "rps", "p50", "p90", "p99", "max", "queue", "errors", "inflight", "cpu",
// "cpureq", "route".
std::optional<SortKey> ParseSortKey(const std::string& name);
std::vector<std::string> SortKeyNames();

// Three significant digits in the largest unit that keeps the value >= 1:
// "850µs", "12.3ms", "1.20s"; "0" for zero.
std::string FormatLatency(double seconds);
// "0", "0.05", "12.3", "1234".
std::string FormatRate(double per_second);
// error_ratio (0..1) as a percentage; never shows a non-zero ratio as 0.
std::string FormatErrorPercent(double ratio);
// A part of a whole as a whole percentage: "0%", "<1%" (non-zero but
// rounding to 0), "45%", "100%"; "-" when the whole is 0.
std::string FormatShare(double part, double whole);
// Category columns of the CPU split, in kCategoryColumns order.
struct CategoryColumn {
  const char* header;    // "AUTH%"
  const char* category;  // key of RouteStats.cpu_seconds_by_category
};
extern const CategoryColumn kCategoryColumns[6];
// "GET /users/{user_id}"; a CPU-only pseudo-route ("(no request)") has no method.
std::string RouteLabel(const v1::RouteStats& route);

// Descending by the key (ties by route, then method); kRoute is ascending.
// kErrors sorts by error ratio, then by error count; kQueue by
// queue_p50_seconds; kCpu by cpu_seconds, kCpuPerReq by
// cpu_seconds_per_request.
std::vector<v1::RouteStats> SortRoutes(const v1::GetTopResponse& top, SortKey key);

struct TopTableOptions {
  SortKey sort = SortKey::kRps;
  size_t limit = 0;  // 0: all routes
  int workers = -1;  // from ListServices; < 0: unknown, not shown
  // Several perfd instances (MergeTop): the header says how many answered,
  // and a NODES column how many reported each route. nullptr: one perfd, no
  // NODES column.
  const std::map<RouteKey, std::vector<std::string>>* route_nodes = nullptr;
  size_t nodes = 0;  // perfd instances that answered
  // Endpoints that did not answer: the header says PARTIAL and names them.
  std::vector<std::string> failed_nodes;
  // --by-node: under each route, one row per node that reported it (its own
  // numbers, labelled "  @ <node>"), in this order.
  const std::vector<NodeTop>* by_node = nullptr;
};

// Header line (service, window, workers, total req/s, time), a blank line,
// then the ROUTE / REQ/S / ERR% / P50 / P90 / P99 / MAX / QUEUE / INFLIGHT
// table (QUEUE: median time requests waited in the socket, part of P50...).
// With Python sampling on (sample_period_seconds > 0) the header adds the
// service's CPU and the table CPU% (of one core) / CPU/REQ / AUTH% VALID%
// SER% DB% FW% APP% (shares of the route's CPU). With DB data (any route
// with db_requests or db_calls) it adds DB/REQ (wall time in DB calls per
// request) and Q/REQ (mean queries per request), blank for routes without
// DB data; routes with an N+1 finding are flagged "N+1" and each finding
// gets a line under the table (route, count per request, call site,
// fingerprint cut to 60 characters). With route_nodes the header adds
// "nodes N" and the table NODES; with failed_nodes a second line reads
// "PARTIAL: no answer from <node>, ..." (the numbers leave those nodes out).
// With event-loop figures a "loop" line follows the header (RenderLoopLine),
// and with GC figures a "gc" line (RenderGcLine).
std::string RenderTopTable(const v1::GetTopResponse& top, const TopTableOptions& options);

// "PARTIAL: no answer from <node>, ... (N of M nodes answered; their numbers
// are left out)\n" under a table header of several nodes; "" when none failed.
std::string RenderPartialLine(const std::vector<std::string>& failed_nodes, size_t answered);

// "loop    busy 12.3% of 2 loops   blocking 3.0/min (>= 20.0ms)   worst 152ms\n":
// the service's event loops over the window (busy: iterations' busy time
// over the loops' wall time), or "" when the response has no loop figures
// (event-loop tracing off, or an older perfd). When the window had blocking
// events a second line names the site that held the loop longest:
// "        top blocker SITE  ROUTE  KIND  N events, TOTAL; others waited W
// (perfctl blocking)" (site and route escaped: they come from the app).
std::string RenderLoopLine(const v1::GetTopResponse& top, int workers);

// "gc      12 pauses, 3.40ms total (0.01% of wall), max 900µs; gen0 10, gen1 2\n":
// the service's GC pauses over the window (% of wall: their total over the
// measured workers' wall time), with the generations that paused and, when
// some workers are not measured, how many and why. When none of its workers
// is measured, "gc      unknown: <why> (N workers)" instead of zero pauses.
// "" without GC figures (an older perfd) or without workers and pauses.
std::string RenderGcLine(const v1::GetTopResponse& top);

}  // namespace perfd::cli
