// `perfctl explain` rendering: one route's request time, part by part (a
// waterfall), with what to look at in each part: the Python functions of
// its CPU categories, its database statements, the event-loop blocking its
// code caused. Pure functions from the RPC answers to text or JSON, so the
// layout is unit tested without a daemon.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cli/breakdown_parts.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

// How much of each detail explain shows.
inline constexpr size_t kExplainFunctions = 3;  // per CPU part
inline constexpr size_t kExplainQueries = 5;
inline constexpr size_t kExplainSites = 3;
// Cells of a waterfall bar standing for the whole mean latency.
inline constexpr size_t kWaterfallWidth = 30;

struct ExplainFunctions {
  std::string part;  // "cpu_serialization"
  v1::GetFunctionsResponse functions;
};

// What perfctl fetched for one route.
struct ExplainData {
  v1::GetBreakdownResponse breakdown;       // the answer (service-wide fields)
  v1::RouteBreakdown route;                 // the route explained
  std::vector<ExplainFunctions> functions;  // per part of PartsToProfile, answered
  bool has_queries = false;                 // GetQueries(route) answered (asked when WantsQueries)
  v1::GetQueriesResponse queries;
  bool has_blocking = false;  // GetBlocking(route) answered
  v1::GetBlockingResponse blocking;
  std::vector<std::string> errors;  // a line per call that failed (DescribeRpcError)
};

// The CPU parts with a non-zero mean, in part order: explain asks
// GetFunctions(route, category) for each.
std::vector<const PartName*> PartsToProfile(const v1::RouteBreakdown& route);
// db_wait is non-zero: explain asks GetQueries(route).
bool WantsQueries(const v1::RouteBreakdown& route);

// One fingerprint as the route issued it.
struct RouteQuery {
  const v1::QueryStats* query = nullptr;
  uint64_t calls = 0;  // the route's calls of it (QueryStats.routes[route])
  double seconds = 0;  // their time: calls x the fingerprint's mean call time
};
// The route's fingerprints by `seconds`, descending (ties by calls, then
// id), at most n; fingerprints without a call of the route are left out.
std::vector<RouteQuery> TopRouteQueries(const v1::GetQueriesResponse& queries,
                                        const std::string& route, size_t n);

// A text bar of `width` cells for a share (0..1) in eighths of a cell
// ("████▍"), starting `start` (0..1, whole cells) in: spaces first, so bars
// of consecutive parts line up as a waterfall. A non-zero share shows at
// least "▏"; "" for 0.
std::string WaterfallBar(double start, double share, size_t width);

// Header (service, route, window, time; requests, mean latency, the tail),
// a blank line, the waterfall (PART MEAN MEAN% TAIL TAIL% P50 P99 and the
// bar; ms per request; a last "total" row; parts with no time in either
// the mean or the tail are hidden and counted in a footnote), notes
// (what the columns are; sampling or event-loop tracing off), then one
// section per CPU part with its top functions (own CPU per request), the
// route's top statements and N+1 findings when it waited on the database,
// a pointer to `perfctl blocking` when it waited behind the loop, the top
// blocking sites when its own code blocked the loop, and a line per failed
// call. Names from the application are escaped.
std::string RenderExplain(const ExplainData& data);

// One JSON object: the response's service-wide fields, "route" (the
// RouteBreakdown), "functions" ({part: [FunctionStats], at most
// kExplainFunctions each}), "queries" ([{"query": QueryStats, "routeCalls",
// "callsPerRequest", "routeSeconds"}] as TopRouteQueries), "nPlusOne"
// (the route's findings), "blockingSites" (at most kExplainSites), and
// "errors" (strings). Embedded messages in protobuf's JSON mapping.
std::string ExplainToJson(const ExplainData& data);

// `unknown route "R" of service "S" in the last 60s; known routes: A, B`
// (sorted; "(none)"), from GetBreakdown(route "") of the same window.
std::string UnknownRouteMessage(const std::string& route, const v1::GetBreakdownResponse& all);
// `route "/x" of service "S" matches 2 routes: DELETE /x, GET /x; name one
// with its method (--route "DELETE /x")`.
std::string AmbiguousRouteMessage(const std::string& route,
                                  const v1::GetBreakdownResponse& matches);

}  // namespace perfd::cli
