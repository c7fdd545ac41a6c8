// Joins decoded requests with who served them: pid → service (discovery),
// path → route template (per-service RouteTable), then hands the result to
// every RequestObserver (aggregator, Prometheus exporter).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/discovery/worker.h"
#include "daemon/protocols/http/http_types.h"
#include "daemon/routes/route_table.h"

namespace perfd {

// A request with its service and route resolved.
struct RoutedRequest {
  const std::string& service;
  const std::string& route;
  const std::string& method;
  uint32_t pid = 0;
  uint64_t conn_id = 0;
  int status = 0;  // 0 when aborted before a status line
  bool aborted = false;
  uint64_t start_ns = 0;           // first byte of the request read (the worker saw it)
  uint64_t arrival_ns = 0;         // first byte queued to the socket; 0 or > start_ns: unknown
  uint64_t end_ns = 0;             // 0 at start
  uint64_t py_root = 0;            // see http::CompletedRequest
  const WorkerPod* pod = nullptr;  // null: not in a pod (or kubernetes.* off)

  // Where the request's latency starts: its arrival when known, else the
  // first read.
  uint64_t latency_start_ns() const {
    return arrival_ns != 0 && arrival_ns <= start_ns ? arrival_ns : start_ns;
  }
  // Arrival to the last byte written: what the client waits for.
  uint64_t latency_ns() const {
    return end_ns > latency_start_ns() ? end_ns - latency_start_ns() : 0;
  }
  // Time the request waited in the socket before the worker read it.
  uint64_t queue_ns() const { return start_ns - latency_start_ns(); }
};

class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // Same struct at both ends; at start only service/route/method/pid/
  // conn_id/start_ns/arrival_ns are set.
  virtual void OnStart(const RoutedRequest& req) = 0;
  virtual void OnComplete(const RoutedRequest& req) = 0;
};

class RequestRouter : public http::RequestSink {
 public:
  explicit RequestRouter(const Config& config);

  void AddObserver(RequestObserver* observer) { observers_.push_back(observer); }

  // Called by the event thread when discovery reports changes. A removed
  // worker's pid mapping is kept until its connections are flushed
  // (ForgetWorker), so its last requests still land in the right service.
  void AddWorker(const Worker& worker);
  void ForgetWorker(uint32_t pid);

  // The route table of a service, created on first use. Thread-safe.
  std::shared_ptr<RouteTable> Routes(const std::string& service);
  // Requests reported under a pseudo-route per (service, reason)
  // (RouteTable::folded; for self-metrics). Thread-safe.
  std::map<std::pair<std::string, std::string>, uint64_t> RouteFolds() const;
  // OpenAPI templates refused per (service, reason), and lookups over the
  // matching budget per service (RouteTable). Thread-safe.
  std::map<std::pair<std::string, std::string>, uint64_t> RouteTemplatesRefused() const;
  std::map<std::string, uint64_t> RouteLookupsOverBudget() const;
  // Requests from pids no worker maps to (should stay 0).
  uint64_t unknown_pid_requests() const { return unknown_pid_requests_; }

  void OnRequestStart(const http::RequestStart& start) override;
  void OnRequestComplete(const http::CompletedRequest& req) override;

  // The service a worker pid belongs to, null if none. Event thread only.
  const std::string* ServiceOf(uint32_t pid);
  // The pod a worker pid runs in, null if none (or kubernetes.* off).
  // Event thread only.
  const WorkerPod* PodOf(uint32_t pid) const;

 private:
  const Config& config_;
  std::vector<RequestObserver*> observers_;
  std::unordered_map<uint32_t, std::string> service_by_pid_;  // event thread only
  std::unordered_map<uint32_t, WorkerPod> pod_by_pid_;        // event thread only
  // Route resolved at start, reused at completion: the templates can change
  // in between (OpenAPI arrives, cap reached) and the in-flight gauge must
  // be decremented where it was incremented. Key: (pid, conn_id, start_ns).
  std::map<std::tuple<uint32_t, uint64_t, uint64_t>, std::string> started_;
  mutable std::mutex routes_mu_;
  std::map<std::string, std::shared_ptr<RouteTable>> routes_;
  uint64_t unknown_pid_requests_ = 0;
};

}  // namespace perfd
