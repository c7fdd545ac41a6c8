#include "daemon/pipeline/request_router.h"

namespace perfd {

RequestRouter::RequestRouter(const Config& config) : config_(config) {}

void RequestRouter::AddWorker(const Worker& worker) {
  service_by_pid_[worker.pid] = worker.service;
  if (worker.pod_uid.empty()) {
    pod_by_pid_.erase(worker.pid);
  } else {
    pod_by_pid_[worker.pid] = WorkerPod{worker.k8s_namespace, worker.k8s_pod};
  }
  Routes(worker.service);
}

void RequestRouter::ForgetWorker(uint32_t pid) {
  service_by_pid_.erase(pid);
  pod_by_pid_.erase(pid);
}

const WorkerPod* RequestRouter::PodOf(uint32_t pid) const {
  const auto it = pod_by_pid_.find(pid);
  return it == pod_by_pid_.end() ? nullptr : &it->second;
}

std::shared_ptr<RouteTable> RequestRouter::Routes(const std::string& service) {
  std::lock_guard<std::mutex> lock(routes_mu_);
  auto it = routes_.find(service);
  if (it != routes_.end()) return it->second;
  std::vector<std::string> patterns;
  for (const auto& rule : config_.route_rules)
    if (rule.service.empty() || rule.service == service) patterns.push_back(rule.pattern);
  // perfd's own GET of the document is traced too; the path comes from
  // perfd's config, so it may have its row even though no document lists it.
  if (config_.openapi) patterns.push_back(config_.openapi_path);
  auto table = std::make_shared<RouteTable>(std::move(patterns), config_.max_routes_per_service,
                                            config_.heuristic_min_requests);
  routes_.emplace(service, table);
  return table;
}

std::map<std::pair<std::string, std::string>, uint64_t> RequestRouter::RouteFolds() const {
  std::lock_guard<std::mutex> lock(routes_mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> out;
  for (const auto& [service, table] : routes_) {
    for (const auto& [reason, n] : table->folded()) out[{service, reason}] = n;
  }
  return out;
}

std::map<std::pair<std::string, std::string>, uint64_t> RequestRouter::RouteTemplatesRefused()
    const {
  std::lock_guard<std::mutex> lock(routes_mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> out;
  for (const auto& [service, table] : routes_) {
    for (const auto& [reason, n] : table->refused()) out[{service, reason}] = n;
  }
  return out;
}

std::map<std::string, uint64_t> RequestRouter::RouteLookupsOverBudget() const {
  std::lock_guard<std::mutex> lock(routes_mu_);
  std::map<std::string, uint64_t> out;
  for (const auto& [service, table] : routes_) out[service] = table->lookups_over_budget();
  return out;
}

const std::string* RequestRouter::ServiceOf(uint32_t pid) {
  auto it = service_by_pid_.find(pid);
  return it == service_by_pid_.end() ? nullptr : &it->second;
}

void RequestRouter::OnRequestStart(const http::RequestStart& start) {
  const std::string* service = ServiceOf(start.pid);
  if (!service) return;  // counted at completion
  std::string route = Routes(*service)->Route(start.path);
  RoutedRequest r{*service, route, start.method, start.pid, start.conn_id};
  r.pod = PodOf(start.pid);
  r.start_ns = start.start_ns;
  r.arrival_ns = start.arrival_ns;
  for (auto* o : observers_) o->OnStart(r);
  started_.emplace(std::make_tuple(start.pid, start.conn_id, start.start_ns), std::move(route));
}

void RequestRouter::OnRequestComplete(const http::CompletedRequest& req) {
  const std::string* service = ServiceOf(req.pid);
  auto it = started_.find(std::make_tuple(req.pid, req.conn_id, req.start_ns));
  std::string route;
  if (it != started_.end()) {
    route = std::move(it->second);
    started_.erase(it);
  }
  if (!service) {
    ++unknown_pid_requests_;
    return;
  }
  if (route.empty()) route = Routes(*service)->Route(req.path);
  RoutedRequest r{*service, route, req.method, req.pid, req.conn_id};
  r.pod = PodOf(req.pid);
  r.status = req.status;
  r.aborted = req.outcome == http::Outcome::kAborted;
  r.start_ns = req.start_ns;
  r.arrival_ns = req.arrival_ns;
  r.end_ns = req.end_ns;
  r.py_root = req.py_root;
  for (auto* o : observers_) o->OnComplete(r);
}

}  // namespace perfd
