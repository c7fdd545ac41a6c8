// Database calls per service over sliding windows, from DbObserver: per
// route (requests, calls, DB time, queries per request, N+1 findings and
// fan-outs) and per fingerprint (calls, latency, rows, errors, routes, call
// sites). Thread-safe like daemon/aggregator: the event thread records, the
// API thread reads snapshots.
//
// Memory is bounded: at most max_services services (more are counted under
// "_OTHER"), max_routes (service, route) entries in all (more under route
// "_OTHER"), max_fingerprints_per_service fingerprints per service (more are
// folded into one "_OTHER" entry per system, fingerprint_id 0), and the
// per-fingerprint and per-route caps of FingerprintCaps and
// max_patterns_per_route. Entries idle for idle_ns are dropped by EvictIdle.
// Every fold, drop and eviction is counted in DbAggregatorStats.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/db/db_observer.h"
#include "daemon/db/fingerprint_window.h"
#include "daemon/db/n_plus_one.h"
#include "daemon/db/route_db_window.h"

namespace perfd::db {

// Route of calls no request claimed.
inline constexpr const char* kNoRequestRoute = "(no request)";

struct DbLimits {
  size_t max_services = 200;
  size_t max_routes = 10000;  // (service, route) entries over all services
  size_t max_fingerprints_per_service = 500;
  FingerprintCaps per_fingerprint;
  size_t max_patterns_per_route = 16;  // fingerprints with findings kept per route
  uint64_t idle_ns = 900 * 1000000000ULL;
};

struct RouteDbSnapshot {
  std::string method;  // "" for "(no request)"
  std::string route;   // template, "(no request)" or "_OTHER"
  RouteDbStats stats;
};

struct DbServiceSnapshot {
  std::string service;
  uint32_t window_seconds = 0;
  std::vector<RouteDbSnapshot> routes;         // with requests or calls in the window
  std::vector<FingerprintStats> fingerprints;  // with calls in the window, by total time desc
  std::map<std::string, uint64_t> encrypted_connections;  // system -> since start
};

struct DbAggregatorStats {
  size_t services = 0;
  size_t routes = 0;
  size_t fingerprints = 0;
  size_t slots = 0;
  uint64_t services_over_cap = 0;      // requests/calls counted under service "_OTHER"
  uint64_t routes_over_cap = 0;        // requests/calls counted under route "_OTHER"
  uint64_t fingerprints_over_cap = 0;  // calls folded into a service's "_OTHER" fingerprint
  uint64_t names_folded = 0;           // route/call-site/error-code names counted as "_OTHER"
  uint64_t patterns_dropped = 0;       // findings past max_patterns_per_route
  uint64_t routes_evicted = 0;
  uint64_t fingerprints_evicted = 0;
  uint64_t services_evicted = 0;
};

class DbAggregator : public DbObserver {
 public:
  explicit DbAggregator(uint32_t window_max_seconds, DbLimits limits = {});
  ~DbAggregator() override;

  // The pod is not kept: perfctl's views are per service.
  using DbObserver::OnEncryptedConnection;
  using DbObserver::OnRequestCalls;
  using DbObserver::OnUnjoinedCall;
  void OnRequestCalls(const std::string& service, const std::string& method,
                      const std::string& route, uint64_t req_start_ns, uint64_t req_end_ns,
                      const std::vector<DbCall>& calls, const RequestAnalysis& analysis,
                      const WorkerPod* pod) override;
  void OnUnjoinedCall(const std::string& service, const DbCall& call,
                      const WorkerPod* pod) override;
  void OnEncryptedConnection(const std::string& service, const std::string& system,
                             const WorkerPod* pod) override;

  // Window of window_seconds (0: 60) ending at now_ns, clamped to the max.
  DbServiceSnapshot Snapshot(const std::string& service, uint32_t window_seconds,
                             uint64_t now_ns) const;
  std::vector<std::string> Services() const;
  uint32_t window_max_seconds() const;

  void EvictIdle(uint64_t now_ns);
  DbAggregatorStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace perfd::db
