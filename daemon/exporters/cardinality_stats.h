// Self-metrics of perfd's memory bounds: what the aggregator and the HTTP
// metrics hold now, what their caps folded into "_OTHER", and what was
// evicted as idle (names in self_metrics.cc's table).
#pragma once

#include <vector>

#include "daemon/aggregator/aggregator.h"
#include "daemon/db/db_aggregator.h"
#include "daemon/exporters/db_metrics.h"
#include "daemon/exporters/http_metrics.h"
#include "daemon/exporters/self_metrics.h"

namespace perfd {

void AddCardinalityStats(const AggregatorStats& aggregator, const HttpMetricsStats& http,
                         std::vector<SelfSample>* out);
// The same for the DB aggregator and the DB metric families.
void AddDbCardinalityStats(const db::DbAggregatorStats& aggregator, const DbMetricsStats& metrics,
                           std::vector<SelfSample>* out);

}  // namespace perfd
