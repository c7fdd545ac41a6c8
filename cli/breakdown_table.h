// `perfctl top --breakdown` rendering: pure functions from a
// GetBreakdownResponse to text, so the layout is unit tested without a
// daemon.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

// "time" (mean x requests: the route's share of the service's time; the
// default, perfd's own order), "reqs", "total" (mean latency), "route"
// (ascending), and one key per part column, lowercase: "queued", "auth",
// "valid", "serial", "dbdrv", "framew", "app", "db", "loop", "gc", "other".
std::vector<std::string> BreakdownSortKeyNames();
bool IsBreakdownSortKey(const std::string& name);

// Descending by the key, ties by route; "route" ascending. An unknown key
// sorts as "time".
std::vector<v1::RouteBreakdown> SortBreakdownRoutes(const v1::GetBreakdownResponse& breakdown,
                                                    const std::string& key);

struct BreakdownTableOptions {
  std::string sort = "time";
  size_t limit = 0;  // 0: all routes
  // Several perfd instances (MergeBreakdown): the header says how many
  // answered, a NODES column how many reported each route. nullptr: one
  // perfd, no NODES column.
  const std::map<std::string, std::vector<std::string>>* route_nodes = nullptr;
  size_t nodes = 0;                              // perfd instances that answered
  std::vector<std::string> failed_nodes;         // the header's PARTIAL line
  std::vector<std::string> unsampled_nodes;      // MergedBreakdown's, for a note
  std::vector<std::string> untraced_loop_nodes;  // MergedBreakdown's, for a note
};

// Header (service, window, nodes, requests, time; PARTIAL line), a blank
// line, then ROUTE [NODES] REQS QUEUED AUTH VALID SERIAL DBDRV FRAMEW APP DB
// LOOP GC OTHER TOTAL: each part's mean in ms per request (FormatMs), TOTAL
// the mean latency (the parts add up to it). With two routes or more, a
// last row "(all routes)" holds every route's requests and their means
// (weighted by requests; --limit does not cut it). With sampling off
// (sample_period_seconds 0) the CPU columns AUTH..APP are blank (their
// time is in OTHER); notes under the table say what the columns mean and,
// with sampling or event-loop tracing (blocking_threshold_seconds 0) off,
// where the time they would have shown is.
std::string RenderBreakdownTable(const v1::GetBreakdownResponse& breakdown,
                                 const BreakdownTableOptions& options);

}  // namespace perfd::cli
