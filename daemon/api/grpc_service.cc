#include "daemon/api/grpc_service.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "daemon/api/blocking_convert.h"
#include "daemon/api/breakdown_convert.h"
#include "daemon/api/db_convert.h"
#include "daemon/api/gc_convert.h"
#include "daemon/api/profile_convert.h"
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

// `unknown category "x"; valid categories: auth, validation, ...`, as
// UnknownServiceMessage words it.
std::string UnknownCategoryMessage(const std::string& category) {
  std::string message = "unknown category \"" + category + "\"; valid categories: ";
  for (int c = 0; c < kNumCategories; ++c)
    message += (c ? ", " : "") + std::string(kCategoryNames[c]);
  return message;
}

constexpr uint64_t kNsPerSecond = 1000000000ULL;

// The store keeps whole-second slots; this is the first nanosecond of the
// oldest slot a window of window_s seconds ending at now_ns covers (the same
// slots RouteCpuInWindow sums).
uint64_t WindowStartNs(uint32_t window_s, uint64_t now_ns) {
  const uint64_t now_s = now_ns / kNsPerSecond;
  return now_s + 1 >= window_s ? (now_s + 1 - window_s) * kNsPerSecond : 0;
}

// Stacks of the routes the filter means ("" = all) and of one category
// (kAllCategories = all), merged.
StackCounts StacksFor(const CpuProfileStore& cpu, const std::string& service,
                      const std::string& route, uint64_t from_ns, uint64_t to_ns,
                      int category = kAllCategories) {
  if (route.empty()) return cpu.Stacks(service, "", from_ns, to_ns, category);
  const uint32_t window_s =
      static_cast<uint32_t>(to_ns / kNsPerSecond - from_ns / kNsPerSecond + 1);
  StackCounts merged;
  for (const auto& key : MatchCpuRoutes(cpu.RouteCpuInWindow(service, window_s, to_ns), route)) {
    for (const auto& [id, n] : cpu.Stacks(service, key, from_ns, to_ns, category)) {
      merged[id] += n;
    }
  }
  return merged;
}

}  // namespace

ApiClocks SystemClocks() {
  return ApiClocks{[] { return static_cast<uint64_t>(ReadClock(CLOCK_MONOTONIC)); },
                   [] { return ReadClock(CLOCK_REALTIME); }};
}

PerfdService::PerfdService(const Aggregator& aggregator, const WorkerDirectory& workers,
                           uint32_t window_max_seconds, ApiClocks clocks)
    : PerfdService(aggregator, workers, window_max_seconds, nullptr, nullptr, std::move(clocks)) {}

PerfdService::PerfdService(const Aggregator& aggregator, const WorkerDirectory& workers,
                           uint32_t window_max_seconds, const CpuProfileStore* cpu,
                           const StackTable* stacks, ApiClocks clocks)
    : aggregator_(aggregator),
      workers_(workers),
      window_max_seconds_(window_max_seconds),
      cpu_(cpu != nullptr && stacks != nullptr ? cpu : nullptr),
      stacks_(cpu != nullptr && stacks != nullptr ? stacks : nullptr),
      clocks_(std::move(clocks)) {}

grpc::Status PerfdService::CheckService(const std::string& service) const {
  if (service.empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "service is required"};
  const auto known = WorkersByService(aggregator_, workers_);
  if (known.count(service) == 0) {
    return {grpc::StatusCode::NOT_FOUND, UnknownServiceMessage(service, known)};
  }
  return grpc::Status::OK;
}

grpc::Status PerfdService::CheckWindow(uint32_t window) const {
  if (window <= window_max_seconds_) return grpc::Status::OK;
  return {grpc::StatusCode::INVALID_ARGUMENT,
          "window " + std::to_string(window) + "s exceeds the maximum of " +
              std::to_string(window_max_seconds_) +
              "s (aggregation.window_max_seconds in the perfd config)"};
}

grpc::Status PerfdService::CheckSampling() const {
  if (cpu_ != nullptr) return grpc::Status::OK;
  return {grpc::StatusCode::FAILED_PRECONDITION,
          "Python sampling is off (perfd runs without the Python CPU sampler: disabled in its "
          "config or not supported on this host; see perfd's start-up log)"};
}

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
  if (grpc::Status s = CheckWindow(window); !s.ok()) return s;
  if (grpc::Status s = CheckService(request->service()); !s.ok()) return s;

  const uint64_t now = clocks_.monotonic_ns();
  ServiceSnapshot snapshot = aggregator_.Snapshot(request->service(), window, now);
  // A stable order keeps repeated -o json output diffable; perfctl re-sorts.
  std::sort(snapshot.routes.begin(), snapshot.routes.end(),
            [](const RouteSnapshot& a, const RouteSnapshot& b) {
              return std::tie(a.route, a.method) < std::tie(b.route, b.method);
            });
  response->set_service(request->service());
  // The aggregator reports the window it really used (it clamps to its own max).
  const uint32_t used = snapshot.window_seconds != 0 ? snapshot.window_seconds : window;
  response->set_window_seconds(used);
  response->set_timestamp_unix_nanos(clocks_.unix_ns());
  for (const auto& route : snapshot.routes) RouteToProto(route, response->add_routes());
  if (db_ != nullptr) AddRouteDbToTop(db_->Snapshot(request->service(), used, now), response);
  if (loop_ != nullptr) {
    const LoopWindowSnapshot l = loop_->Snapshot(request->service(), used, now);
    v1::EventLoopStats* out = response->mutable_loop();
    out->set_traced(true);
    out->set_busy_seconds(double(l.busy_ns) / 1e9);
    out->set_iterations(l.iterations);
    out->set_blocking_events(l.blocking_events);
    out->set_worst_blocking_seconds(double(l.worst_blocking_ns) / 1e9);
    out->set_blocking_threshold_seconds(loop_threshold_s_);
    if (blocking_ != nullptr) {
      const BlockingWindowSnapshot b = blocking_->Snapshot(request->service(), used, now);
      if (!b.sites.empty()) SiteToProto(b.sites.front(), nullptr, out->mutable_top_blocking());
    }
  }
  if (gc_ != nullptr) {
    std::vector<GcProbeState> probes;  // of the service's current workers
    for (const Worker& worker : workers_.Workers()) {
      if (worker.service == request->service()) probes.push_back(gc_probes_->GcProbeOf(worker.pid));
    }
    GcToProto(gc_->Snapshot(request->service(), used, now), probes, response->mutable_gc());
  }
  if (cpu_ == nullptr) return grpc::Status::OK;

  response->set_sample_period_seconds(cpu_->seconds_per_sample());
  std::map<std::string, RouteCpu> cpu = cpu_->RouteCpuInWindow(request->service(), used, now);
  uint64_t request_samples = 0, exact_samples = 0;
  for (const auto& [key, rc] : cpu) {
    if (key == kNoRequestRoute) continue;
    request_samples += rc.total;
    exact_samples += rc.exact;
  }
  response->set_cpu_exact_share(request_samples ? double(exact_samples) / request_samples : 0.0);
  // The store may key a route as "METHOD /template" or as "/template"; a
  // bare template is only given to a row when no other method shares it.
  std::map<std::string, int> rows_per_template;
  for (const auto& r : response->routes()) ++rows_per_template[r.route()];
  for (auto& r : *response->mutable_routes()) {
    auto it = cpu.find(r.method() + " " + r.route());
    if (it == cpu.end() && rows_per_template[r.route()] == 1) it = cpu.find(r.route());
    if (it == cpu.end()) continue;
    RouteCpuToProto(it->second, cpu_->seconds_per_sample(), &r);
    cpu.erase(it);
  }
  // What no route row claimed: the pseudo-routes ("(no request)",
  // "(unattributed)") and routes whose requests left the window.
  for (const auto& [key, route_cpu] : cpu) {
    if (route_cpu.total == 0) continue;
    v1::RouteStats* r = response->add_routes();
    r->set_route(key);
    RouteCpuToProto(route_cpu, cpu_->seconds_per_sample(), r);
  }
  return grpc::Status::OK;
}

grpc::Status PerfdService::GetFunctions(grpc::ServerContext* /*context*/,
                                        const v1::GetFunctionsRequest* request,
                                        v1::GetFunctionsResponse* response) {
  if (request->service().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "service is required"};
  }
  int category = kAllCategories;
  if (!request->category().empty()) {
    category = CategoryIndex(request->category());
    if (category < 0)
      return {grpc::StatusCode::INVALID_ARGUMENT, UnknownCategoryMessage(request->category())};
  }
  if (grpc::Status s = CheckSampling(); !s.ok()) return s;
  uint32_t window = request->window_seconds();
  if (window == 0) window = kDefaultWindowSeconds;
  if (grpc::Status s = CheckWindow(window); !s.ok()) return s;
  if (grpc::Status s = CheckService(request->service()); !s.ok()) return s;

  const uint64_t now = clocks_.monotonic_ns();
  const StackCounts stacks = StacksFor(*cpu_, request->service(), request->route(),
                                       WindowStartNs(window, now), now, category);
  response->set_service(request->service());
  response->set_window_seconds(window);
  FunctionsToProto(stacks, *stacks_, cpu_->seconds_per_sample(), response);
  return grpc::Status::OK;
}

grpc::Status PerfdService::GetProfile(grpc::ServerContext* context,
                                      const v1::GetProfileRequest* request,
                                      v1::GetProfileResponse* response) {
  if (request->service().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "service is required"};
  }
  if (grpc::Status s = CheckSampling(); !s.ok()) return s;
  const uint32_t duration = request->duration_seconds();
  if (duration < 1 || duration > window_max_seconds_) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "duration " + std::to_string(duration) + "s is outside 1s.." +
                std::to_string(window_max_seconds_) +
                "s (aggregation.window_max_seconds in the perfd config)"};
  }
  if (grpc::Status s = CheckService(request->service()); !s.ok()) return s;

  const uint64_t start = clocks_.monotonic_ns();
  const int64_t start_unix = clocks_.unix_ns();
  // Samples land in the store as they are attributed; recording is just
  // waiting, then reading the slots the duration covered. Samples are
  // attributed about a second after their request completes
  // (profile/sample_attributor.h), so the read waits that much longer.
  const auto recorded = std::chrono::steady_clock::now() + std::chrono::seconds(duration);
  const auto deadline = recorded + std::chrono::milliseconds(kAttributionSettleMs);
  uint64_t end = 0;
  for (;;) {
    if (context != nullptr && context->IsCancelled()) {
      return {grpc::StatusCode::CANCELLED, "profile cancelled"};
    }
    const auto now = std::chrono::steady_clock::now();
    if (end == 0 && now >= recorded) end = clocks_.monotonic_ns();
    const auto left = deadline - now;
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        left, std::chrono::milliseconds(kCancelPollMs)));
  }
  if (end == 0) end = clocks_.monotonic_ns();

  response->set_service(request->service());
  response->set_start_unix_nanos(start_unix);
  response->set_duration_nanos(static_cast<int64_t>(end - start));
  response->set_sample_period_seconds(cpu_->seconds_per_sample());
  StacksToProto(StacksFor(*cpu_, request->service(), request->route(), start, end), *stacks_,
                response);
  return grpc::Status::OK;
}

grpc::Status PerfdService::GetQueries(grpc::ServerContext* /*context*/,
                                      const v1::GetQueriesRequest* request,
                                      v1::GetQueriesResponse* response) {
  if (request->service().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "service is required"};
  }
  if (db_ == nullptr) {
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "database call tracing is off in this perfd (see perfd's start-up log)"};
  }
  uint32_t window = request->window_seconds();
  if (window == 0) window = kDefaultWindowSeconds;
  if (grpc::Status s = CheckWindow(window); !s.ok()) return s;
  if (grpc::Status s = CheckService(request->service()); !s.ok()) return s;

  const uint64_t now = clocks_.monotonic_ns();
  const db::DbServiceSnapshot snapshot = db_->Snapshot(request->service(), window, now);
  response->set_service(request->service());
  response->set_window_seconds(snapshot.window_seconds);
  response->set_timestamp_unix_nanos(clocks_.unix_ns());
  response->set_route(request->route());
  QueriesToProto(snapshot, request->route(), response);
  return grpc::Status::OK;
}

grpc::Status PerfdService::CheckWindowedRequest(const std::string& service, uint32_t window_seconds,
                                                uint32_t* window) const {
  if (service.empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "service is required"};
  *window = window_seconds != 0 ? window_seconds : kDefaultWindowSeconds;
  if (grpc::Status s = CheckWindow(*window); !s.ok()) return s;
  return CheckService(service);
}

grpc::Status PerfdService::GetBlocking(grpc::ServerContext* /*context*/,
                                       const v1::GetBlockingRequest* request,
                                       v1::GetBlockingResponse* response) {
  uint32_t window = 0;
  if (grpc::Status s = CheckWindowedRequest(request->service(), request->window_seconds(), &window);
      !s.ok())
    return s;

  response->set_service(request->service());
  response->set_window_seconds(window);
  // Tracing off is a state of this perfd, not an error: perfctl says so.
  if (blocking_ == nullptr) return grpc::Status::OK;
  response->set_traced(true);
  response->set_blocking_threshold_seconds(blocking_threshold_s_);
  const std::string& route = request->route();
  const bool bare = IsBareTemplate(route);
  BlockingWindowSnapshot snapshot =
      blocking_->Snapshot(request->service(), window, clocks_.monotonic_ns(), bare ? "" : route);
  if (bare) KeepTemplate(route, &snapshot);
  const size_t limit = request->limit() != 0 ? request->limit() : kDefaultBlockingSites;
  BlockingToProto(snapshot, blocking_stacks_, limit, response);
  return grpc::Status::OK;
}

grpc::Status PerfdService::GetBreakdown(grpc::ServerContext* /*context*/,
                                        const v1::GetBreakdownRequest* request,
                                        v1::GetBreakdownResponse* response) {
  uint32_t window = 0;
  if (grpc::Status s = CheckWindowedRequest(request->service(), request->window_seconds(), &window);
      !s.ok())
    return s;
  if (breakdown_ == nullptr) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "this perfd keeps no request breakdowns"};
  }
  response->set_service(request->service());
  response->set_window_seconds(window);
  response->set_timestamp_unix_nanos(clocks_.unix_ns());
  response->set_sample_period_seconds(breakdown_period_s_);
  response->set_blocking_threshold_seconds(breakdown_loop_threshold_s_);
  BreakdownToProto(
      breakdown_->Snapshot(request->service(), window, clocks_.monotonic_ns(), request->route()),
      response);
  return grpc::Status::OK;
}

}  // namespace perfd
