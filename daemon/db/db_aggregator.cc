#include "daemon/db/db_aggregator.h"

#include <algorithm>
#include <mutex>
#include <tuple>
#include <utility>

#include "daemon/aggregator/bounded_labels.h"
#include "daemon/db/request_db_time.h"

namespace perfd::db {
namespace {

constexpr uint32_t kDefaultWindowSeconds = 60;

const std::string& Other() {
  static const std::string other = kOtherLabel;
  return other;
}

struct RouteEntry {
  RouteEntry(std::string m, std::string r, uint32_t window_max, size_t max_patterns)
      : method(std::move(m)), route(std::move(r)), window(window_max, max_patterns) {}
  std::string method;
  std::string route;
  RouteDbWindow window;
  uint64_t last_ns = 0;
};

using FpKey = std::pair<System, uint64_t>;

struct Encrypted {
  uint64_t connections = 0;
  // OnEncryptedConnection carries no time: 0 until the next EvictIdle
  // stamps it with its now, so the count lives idle_ns past that.
  uint64_t last_ns = 0;
};

struct ServiceState {
  std::map<std::string, RouteEntry, std::less<>> routes;  // "GET /t", "(no request)"
  std::map<FpKey, FingerprintWindow> fingerprints;
  size_t own_fingerprints = 0;  // all but the "_OTHER" entries
  std::map<std::string, Encrypted, std::less<>> encrypted;
  uint64_t last_ns = 0;  // latest call or request end seen
};

}  // namespace

struct DbAggregator::Impl {
  Impl(uint32_t max, DbLimits l) : window_max(std::max<uint32_t>(max, 1)), limits(l) {}

  ServiceState& Service(const std::string& service) {
    auto it = services.find(service);
    if (it != services.end()) return it->second;
    if (services.size() >= limits.max_services && service != Other()) {
      ++stats.services_over_cap;
      return Service(Other());
    }
    return services.emplace(service, ServiceState{}).first->second;
  }

  RouteEntry& Route(ServiceState& svc, const std::string& method, const std::string& route) {
    std::string key = method.empty() ? route : method + " " + route;
    auto it = svc.routes.find(key);
    if (it != svc.routes.end()) return it->second;
    std::string m = method, r = route;
    if (route_count >= limits.max_routes) {
      ++stats.routes_over_cap;
      m = method.empty() ? "" : Other();
      r = Other();
      key = m.empty() ? r : m + " " + r;
      it = svc.routes.find(key);
      if (it != svc.routes.end()) return it->second;
    }
    ++route_count;  // "_OTHER" entries count too, but are never refused
    return svc.routes
        .emplace(key,
                 RouteEntry(std::move(m), std::move(r), window_max, limits.max_patterns_per_route))
        .first->second;
  }

  FingerprintWindow& Fingerprint(ServiceState& svc, const DbCall& call) {
    auto it = svc.fingerprints.find({call.system, call.fingerprint_id});
    if (it != svc.fingerprints.end()) return it->second;
    FingerprintInfo info;
    info.system = call.system;
    if (svc.own_fingerprints >= limits.max_fingerprints_per_service) {
      // A fingerprint past the cap never gets its own entry, so each of its
      // calls comes here: this counts calls.
      ++stats.fingerprints_over_cap;
      info.text = Other();
      it = svc.fingerprints.find({call.system, 0});
      if (it != svc.fingerprints.end()) return it->second;
    } else {
      ++svc.own_fingerprints;
      info.fingerprint_id = call.fingerprint_id;
      info.text = call.fingerprint;
      info.operation = call.operation;
      info.collection = call.collection;
      info.housekeeping = call.housekeeping;
      info.unresolved = call.unresolved;
    }
    const FpKey key{info.system, info.fingerprint_id};
    return svc.fingerprints
        .emplace(key, FingerprintWindow(std::move(info), window_max, limits.per_fingerprint))
        .first->second;
  }

  void RecordCall(ServiceState& svc, const DbCall& call, const std::string& route_label) {
    FingerprintWindow& fp = Fingerprint(svc, call);
    stats.names_folded += fp.Record(call, route_label);
    svc.last_ns = std::max(svc.last_ns, call.end_ns);
  }

  const uint32_t window_max;
  const DbLimits limits;
  mutable std::mutex mu;
  std::map<std::string, ServiceState, std::less<>> services;
  size_t route_count = 0;
  DbAggregatorStats stats;
};

DbAggregator::DbAggregator(uint32_t window_max_seconds, DbLimits limits)
    : impl_(std::make_unique<Impl>(window_max_seconds, limits)) {}

DbAggregator::~DbAggregator() = default;

uint32_t DbAggregator::window_max_seconds() const { return impl_->window_max; }

void DbAggregator::OnRequestCalls(const std::string& service, const std::string& method,
                                  const std::string& route, uint64_t /*req_start_ns*/,
                                  uint64_t req_end_ns, const std::vector<DbCall>& calls,
                                  const RequestAnalysis& analysis, const WorkerPod* /*pod*/) {
  const RequestDbTime& time = analysis.time;
  const RequestPatterns& patterns = analysis.patterns;
  std::lock_guard<std::mutex> lock(impl_->mu);
  ServiceState& svc = impl_->Service(service);
  RouteEntry& entry = impl_->Route(svc, BoundedMethod(method), route);
  impl_->stats.patterns_dropped += entry.window.RecordRequest(req_end_ns, time, patterns);
  entry.last_ns = std::max(entry.last_ns, req_end_ns);
  svc.last_ns = std::max(svc.last_ns, req_end_ns);
  const std::string label = entry.method.empty() ? entry.route : entry.method + " " + entry.route;
  for (const DbCall& call : calls) impl_->RecordCall(svc, call, label);
}

void DbAggregator::OnUnjoinedCall(const std::string& service, const DbCall& call,
                                  const WorkerPod* /*pod*/) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ServiceState& svc = impl_->Service(service);
  RouteEntry& entry = impl_->Route(svc, "", kNoRequestRoute);
  entry.window.RecordUnjoined(call);
  entry.last_ns = std::max(entry.last_ns, call.end_ns);
  impl_->RecordCall(svc, call, entry.route);
}

void DbAggregator::OnEncryptedConnection(const std::string& service, const std::string& system,
                                         const WorkerPod* /*pod*/) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ServiceState& svc = impl_->Service(service);
  // system is "postgresql", "redis" or "unknown" (from the classifier): bounded.
  Encrypted& e = svc.encrypted[system];
  ++e.connections;
  e.last_ns = 0;
}

DbServiceSnapshot DbAggregator::Snapshot(const std::string& service, uint32_t window_seconds,
                                         uint64_t now_ns) const {
  DbServiceSnapshot snap;
  snap.service = service;
  if (window_seconds == 0) window_seconds = kDefaultWindowSeconds;
  snap.window_seconds = std::min(window_seconds, impl_->window_max);
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto svc = impl_->services.find(service);
  if (svc == impl_->services.end()) return snap;
  for (const auto& [key, entry] : svc->second.routes) {
    RouteDbStats stats = entry.window.Snapshot(snap.window_seconds, now_ns);
    if (stats.requests == 0 && stats.calls == 0) continue;
    snap.routes.push_back({entry.method, entry.route, std::move(stats)});
  }
  for (const auto& [key, fp] : svc->second.fingerprints) {
    FingerprintStats stats = fp.Snapshot(snap.window_seconds, now_ns);
    if (stats.calls > 0) snap.fingerprints.push_back(std::move(stats));
  }
  std::sort(snap.fingerprints.begin(), snap.fingerprints.end(),
            [](const FingerprintStats& a, const FingerprintStats& b) {
              if (a.total_seconds != b.total_seconds) return a.total_seconds > b.total_seconds;
              return std::tie(a.info.system, a.info.fingerprint_id) <
                     std::tie(b.info.system, b.info.fingerprint_id);
            });
  for (const auto& [system, e] : svc->second.encrypted) {
    snap.encrypted_connections[system] = e.connections;
  }
  return snap;
}

std::vector<std::string> DbAggregator::Services() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& entry : impl_->services) names.push_back(entry.first);
  return names;
}

void DbAggregator::EvictIdle(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const uint64_t idle_ns = impl_->limits.idle_ns;
  auto idle = [&](uint64_t last_ns) { return last_ns + idle_ns <= now_ns; };
  for (auto svc = impl_->services.begin(); svc != impl_->services.end();) {
    ServiceState& s = svc->second;
    for (auto r = s.routes.begin(); r != s.routes.end();) {
      if (!idle(r->second.last_ns)) {
        ++r;
        continue;
      }
      r = s.routes.erase(r);
      --impl_->route_count;
      ++impl_->stats.routes_evicted;
    }
    for (auto f = s.fingerprints.begin(); f != s.fingerprints.end();) {
      if (!idle(f->second.last_ns())) {
        ++f;
        continue;
      }
      if (f->second.info().fingerprint_id != 0) --s.own_fingerprints;
      f = s.fingerprints.erase(f);
      ++impl_->stats.fingerprints_evicted;
    }
    for (auto e = s.encrypted.begin(); e != s.encrypted.end();) {
      if (e->second.last_ns == 0) e->second.last_ns = now_ns;
      e = idle(e->second.last_ns) ? s.encrypted.erase(e) : std::next(e);
    }
    if (s.routes.empty() && s.fingerprints.empty() && s.encrypted.empty()) {
      svc = impl_->services.erase(svc);
      ++impl_->stats.services_evicted;
    } else {
      ++svc;
    }
  }
}

DbAggregatorStats DbAggregator::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  DbAggregatorStats out = impl_->stats;
  out.services = impl_->services.size();
  out.routes = impl_->route_count;
  for (const auto& [name, svc] : impl_->services) {
    out.fingerprints += svc.fingerprints.size();
    for (const auto& [k, r] : svc.routes) out.slots += r.window.allocated_slots();
    for (const auto& [k, f] : svc.fingerprints) out.slots += f.allocated_slots();
  }
  return out;
}

}  // namespace perfd::db
