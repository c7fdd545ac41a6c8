#include "daemon/api/db_convert.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>
#include <utility>

#include "daemon/api/proto_convert.h"

namespace perfd {
namespace {

using FpKey = std::pair<db::System, uint64_t>;
using FpIndex = std::map<FpKey, const db::FingerprintStats*>;

FpIndex IndexFingerprints(const db::DbServiceSnapshot& snapshot) {
  FpIndex index;
  for (const auto& f : snapshot.fingerprints) {
    index[{f.info.system, f.info.fingerprint_id}] = &f;
  }
  return index;
}

std::string RouteLabel(const db::RouteDbSnapshot& r) {
  return r.method.empty() ? r.route : r.method + " " + r.route;
}

// A finding's fingerprint text: "" when the fingerprint was folded into
// "_OTHER" or left the window (its calls were evicted first).
std::string TextOf(const FpIndex& index, db::System system, uint64_t id) {
  auto it = index.find({system, id});
  return it == index.end() ? "" : it->second->info.text;
}

void PatternToProto(const db::RoutePattern& p, const std::string& route, const FpIndex& index,
                    v1::NPlusOne* out) {
  out->set_fingerprint_id(FingerprintIdHex(p.fingerprint_id));
  out->set_fingerprint(TextOf(index, p.system, p.fingerprint_id));
  out->set_system(db::SystemName(p.system));
  out->set_route(route);
  out->set_requests(p.n_plus_one_requests);
  out->set_mean_count(p.n_plus_one_mean_count);
  out->set_max_count(p.n_plus_one_max_count);
  out->set_call_site(p.call_site);
  out->set_mean_seconds(p.n_plus_one_mean_seconds);
}

void FanOutToProto(const db::RoutePattern& p, const std::string& route, const FpIndex& index,
                   v1::DbFanOut* out) {
  out->set_fingerprint_id(FingerprintIdHex(p.fingerprint_id));
  out->set_fingerprint(TextOf(index, p.system, p.fingerprint_id));
  out->set_system(db::SystemName(p.system));
  out->set_route(route);
  out->set_requests(p.fan_out_requests);
  out->set_mean_count(p.fan_out_mean_count);
  out->set_call_site(p.call_site);
}

void RouteDbToProto(const db::RouteDbStats& s, const FpIndex& index, v1::RouteStats* out) {
  out->set_db_requests(s.requests);
  out->set_db_calls(s.calls);
  if (s.requests > 0) {
    const double n = static_cast<double>(s.requests);
    out->set_db_seconds_per_request(s.wall_seconds / n);
    out->set_db_call_seconds_per_request(s.call_seconds / n);
    out->set_queries_per_request(static_cast<double>(s.queries) / n);
    // The sketch holds counts within 1%: round back to whole queries.
    out->set_queries_per_request_p99(std::round(s.queries_per_request.Quantile(0.99)));
  }
  for (const auto& p : s.patterns) {
    if (p.n_plus_one_requests > 0) PatternToProto(p, "", index, out->add_n_plus_one());
    if (p.fan_out_requests > 0) FanOutToProto(p, "", index, out->add_db_fan_out());
  }
}

}  // namespace

std::string FingerprintIdHex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

bool RouteMatches(const std::string& label, const std::string& filter) {
  if (label == filter) return true;
  const size_t space = label.find(' ');
  return space != std::string::npos && label.compare(space + 1, std::string::npos, filter) == 0;
}

void AddRouteDbToTop(const db::DbServiceSnapshot& snapshot, v1::GetTopResponse* top) {
  const FpIndex index = IndexFingerprints(snapshot);
  std::map<std::pair<std::string, std::string>, v1::RouteStats*> rows;
  for (auto& r : *top->mutable_routes()) rows[{r.method(), r.route()}] = &r;
  for (const auto& r : snapshot.routes) {
    auto it = rows.find({r.method, r.route});
    v1::RouteStats* row = nullptr;
    if (it != rows.end()) {
      row = it->second;
    } else {
      row = top->add_routes();
      row->set_method(r.method);
      row->set_route(r.route);
    }
    RouteDbToProto(r.stats, index, row);
  }
}

void QueriesToProto(const db::DbServiceSnapshot& snapshot, const std::string& route_filter,
                    v1::GetQueriesResponse* out) {
  const FpIndex index = IndexFingerprints(snapshot);
  // Findings by fingerprint, from the routes the filter names.
  std::map<FpKey, std::vector<std::pair<std::string, const db::RoutePattern*>>> patterns;
  for (const auto& r : snapshot.routes) {
    const std::string label = RouteLabel(r);
    if (!route_filter.empty() && !RouteMatches(label, route_filter)) continue;
    for (const auto& p : r.stats.patterns)
      patterns[{p.system, p.fingerprint_id}].push_back({label, &p});
  }
  const double window = snapshot.window_seconds > 0 ? snapshot.window_seconds : 1;
  for (const auto& f : snapshot.fingerprints) {
    if (!route_filter.empty()) {
      bool issued = false;
      for (const auto& [label, calls] : f.routes)
        issued = issued || RouteMatches(label, route_filter);
      if (!issued) continue;
    }
    v1::QueryStats* q = out->add_queries();
    q->set_system(db::SystemName(f.info.system));
    q->set_fingerprint(f.info.text);
    q->set_id(FingerprintIdHex(f.info.fingerprint_id));
    q->set_operation(f.info.operation);
    q->set_collection(f.info.collection);
    q->set_calls(f.calls);
    q->set_calls_per_second(static_cast<double>(f.calls) / window);
    q->set_p50_seconds(f.latency.Quantile(0.50));
    q->set_p99_seconds(f.latency.Quantile(0.99));
    q->set_total_seconds(f.total_seconds);
    SketchToProto(f.latency, q->mutable_latency());
    q->set_rows(f.rows);
    q->set_rows_known_calls(f.rows_known);
    q->set_errors(f.errors);
    for (const auto& [code, n] : f.error_codes) (*q->mutable_error_codes())[code] = n;
    q->set_housekeeping(f.info.housekeeping);
    q->set_unresolved(f.info.unresolved);
    for (const auto& [route, n] : f.routes) (*q->mutable_routes())[route] = n;
    for (const auto& [site, n] : f.call_sites) (*q->mutable_call_sites())[site] = n;
    auto it = patterns.find({f.info.system, f.info.fingerprint_id});
    if (it == patterns.end()) continue;
    for (const auto& [label, p] : it->second) {
      if (p->n_plus_one_requests > 0) PatternToProto(*p, label, index, q->add_n_plus_one());
      if (p->fan_out_requests > 0) FanOutToProto(*p, label, index, q->add_fan_out());
    }
  }
  for (const auto& [system, n] : snapshot.encrypted_connections) {
    (*out->mutable_encrypted_connections())[system] = n;
  }
}

}  // namespace perfd
