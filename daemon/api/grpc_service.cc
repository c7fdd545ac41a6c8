#include "daemon/api/grpc_service.h"

#include <time.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/api/proto_convert.h"

namespace perfd {
namespace {

int64_t ReadClock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Workers grouped by service name; every known service has an entry, even
// one whose workers have all exited (its numbers stay in the aggregator).
std::map<std::string, std::vector<Worker>> WorkersByService(const Aggregator& aggregator,
                                                            const WorkerDirectory& directory) {
  std::map<std::string, std::vector<Worker>> by_service;
  for (const auto& name : aggregator.Services()) by_service[name];
  for (auto& worker : directory.Workers()) {
    if (worker.service.empty()) continue;  // not yet named: nothing to show under
    by_service[worker.service].push_back(std::move(worker));
  }
  for (auto& [name, workers] : by_service) {
    std::sort(workers.begin(), workers.end(),
              [](const Worker& a, const Worker& b) { return a.pid < b.pid; });
  }
  return by_service;
}

std::string UnknownServiceMessage(const std::string& service,
                                  const std::map<std::string, std::vector<Worker>>& known) {
  std::string message = "unknown service \"" + service + "\"; known services: ";
  if (known.empty()) return message + "(none)";
  bool first = true;
  for (const auto& entry : known) {
    if (!first) message += ", ";
    message += entry.first;
    first = false;
  }
  return message;
}

}  // namespace

ApiClocks SystemClocks() {
  return ApiClocks{[] { return static_cast<uint64_t>(ReadClock(CLOCK_MONOTONIC)); },
                   [] { return ReadClock(CLOCK_REALTIME); }};
}

PerfdService::PerfdService(const Aggregator& aggregator, const WorkerDirectory& workers,
                           uint32_t window_max_seconds, ApiClocks clocks)
    : aggregator_(aggregator),
      workers_(workers),
      window_max_seconds_(window_max_seconds),
      clocks_(std::move(clocks)) {}

grpc::Status PerfdService::ListServices(grpc::ServerContext* /*context*/,
                                        const v1::ListServicesRequest* /*request*/,
                                        v1::ListServicesResponse* response) {
  for (const auto& [name, workers] : WorkersByService(aggregator_, workers_)) {
    v1::Service* service = response->add_services();
    service->set_name(name);
    service->set_requests_total(aggregator_.RequestsTotal(name));
    for (const auto& worker : workers) WorkerToProto(worker, service->add_workers());
  }
  return grpc::Status::OK;
}

grpc::Status PerfdService::GetTop(grpc::ServerContext* /*context*/,
                                  const v1::GetTopRequest* request, v1::GetTopResponse* response) {
  if (request->service().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "service is required"};
  }
  uint32_t window = request->window_seconds();
  if (window == 0) window = kDefaultWindowSeconds;
  if (window > window_max_seconds_) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "window " + std::to_string(window) + "s exceeds the maximum of " +
                std::to_string(window_max_seconds_) +
                "s (aggregation.window_max_seconds in the perfd config)"};
  }
  const auto known = WorkersByService(aggregator_, workers_);
  if (known.count(request->service()) == 0) {
    return {grpc::StatusCode::NOT_FOUND, UnknownServiceMessage(request->service(), known)};
  }

  ServiceSnapshot snapshot =
      aggregator_.Snapshot(request->service(), window, clocks_.monotonic_ns());
  // A stable order keeps repeated -o json output diffable; perfctl re-sorts.
  std::sort(snapshot.routes.begin(), snapshot.routes.end(),
            [](const RouteSnapshot& a, const RouteSnapshot& b) {
              return std::tie(a.route, a.method) < std::tie(b.route, b.method);
            });
  response->set_service(request->service());
  // The aggregator reports the window it really used (it clamps to its own max).
  response->set_window_seconds(snapshot.window_seconds != 0 ? snapshot.window_seconds : window);
  response->set_timestamp_unix_nanos(clocks_.unix_ns());
  for (const auto& route : snapshot.routes) RouteToProto(route, response->add_routes());
  return grpc::Status::OK;
}

}  // namespace perfd
