#include "daemon/exporters/cardinality_stats.h"

#include <map>
#include <string>
#include <utility>

namespace perfd {

void AddCardinalityStats(const AggregatorStats& a, const HttpMetricsStats& h,
                         std::vector<SelfSample>* out) {
  const SelfSampleSink add{out};
  add("perfd_aggregator_entries", double(a.services), {{"kind", "services"}});
  add("perfd_aggregator_entries", double(a.routes), {{"kind", "routes"}});
  add("perfd_aggregator_entries", double(a.slots), {{"kind", "slots"}});
  add("perfd_aggregator_overflow_total", double(a.services_over_cap), {{"cap", "max_services"}});
  add("perfd_aggregator_overflow_total", double(a.routes_over_cap), {{"cap", "max_routes"}});
  add("perfd_aggregator_overflow_total", double(a.methods_folded), {{"cap", "unknown_method"}});
  add("perfd_aggregator_evicted_total", double(a.routes_evicted), {{"kind", "route"}});
  add("perfd_aggregator_evicted_total", double(a.services_evicted), {{"kind", "service"}});
  add("perfd_http_metrics_series", double(h.series));
  add("perfd_http_metrics_overflow_total", double(h.series_over_cap), {{"cap", "max_series"}});
  add("perfd_http_metrics_overflow_total", double(h.methods_folded), {{"cap", "unknown_method"}});
  add("perfd_http_metrics_overflow_total", double(h.statuses_folded),
      {{"cap", "status_out_of_range"}});
  add("perfd_http_metrics_evicted_total", double(h.series_evicted));
}

void AddDbCardinalityStats(const db::DbAggregatorStats& a, const DbMetricsStats& m,
                           std::vector<SelfSample>* out) {
  const SelfSampleSink add{out};
  add("perfd_db_aggregator_entries", double(a.services), {{"kind", "services"}});
  add("perfd_db_aggregator_entries", double(a.routes), {{"kind", "routes"}});
  add("perfd_db_aggregator_entries", double(a.fingerprints), {{"kind", "fingerprints"}});
  add("perfd_db_aggregator_entries", double(a.slots), {{"kind", "slots"}});
  add("perfd_db_aggregator_overflow_total", double(a.services_over_cap), {{"cap", "max_services"}});
  add("perfd_db_aggregator_overflow_total", double(a.routes_over_cap), {{"cap", "max_routes"}});
  add("perfd_db_aggregator_overflow_total", double(a.fingerprints_over_cap),
      {{"cap", "max_fingerprints"}});
  add("perfd_db_aggregator_overflow_total", double(a.names_folded), {{"cap", "names"}});
  add("perfd_db_aggregator_overflow_total", double(a.patterns_dropped), {{"cap", "patterns"}});
  add("perfd_db_aggregator_evicted_total", double(a.routes_evicted), {{"kind", "route"}});
  add("perfd_db_aggregator_evicted_total", double(a.fingerprints_evicted),
      {{"kind", "fingerprint"}});
  add("perfd_db_aggregator_evicted_total", double(a.services_evicted), {{"kind", "service"}});
  add("perfd_db_metrics_series", double(m.series));
  add("perfd_db_metrics_overflow_total", double(m.series_over_cap), {{"cap", "max_series"}});
  add("perfd_db_metrics_overflow_total", double(m.operations_folded), {{"cap", "operation"}});
  add("perfd_db_metrics_overflow_total", double(m.untracked_calls),
      {{"cap", "untracked_fingerprint"}});
  add("perfd_db_metrics_evicted_total", double(m.series_evicted));
}

}  // namespace perfd
