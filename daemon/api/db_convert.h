// The DB aggregator's snapshots as perfd.v1 messages: the DB columns of
// GetTop's RouteStats and the GetQueries response.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/db/db_aggregator.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

// 16 lower-case hex digits: the id users grep for in metrics
// (db_query_id) and in perfctl output.
std::string FingerprintIdHex(uint64_t id);

// True when a route label ("GET /users/{id}", "(no request)") is what a
// filter names: the whole label, or its template for any method.
bool RouteMatches(const std::string& label, const std::string& filter);

// Fills the db_* fields, n_plus_one and db_fan_out of the rows whose method
// and route match a DB route; DB routes with no row (e.g. "(no request)")
// get a row of their own.
void AddRouteDbToTop(const db::DbServiceSnapshot& snapshot, v1::GetTopResponse* top);

// Fingerprints (those the route filter names; "" = all) with their N+1
// findings and fan-outs, and the encrypted-connection counts. Does not set
// service, window or timestamp.
void QueriesToProto(const db::DbServiceSnapshot& snapshot, const std::string& route_filter,
                    v1::GetQueriesResponse* out);

}  // namespace perfd
