#include "daemon/aggregator/aggregator.h"

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include "daemon/aggregator/route_window.h"

namespace perfd {

namespace {

// Window used when a caller passes 0 (the API's documented default).
constexpr uint32_t kDefaultWindowSeconds = 60;

struct RouteState {
  explicit RouteState(uint32_t window_max) : window(window_max) {}
  RouteWindow window;
  uint32_t in_flight = 0;
};

// method -> route -> state. Nested maps with transparent comparators let the
// hot path look up by const std::string& without building a key.
using RouteMap = std::map<std::string, RouteState, std::less<>>;
using MethodMap = std::map<std::string, RouteMap, std::less<>>;

struct ServiceState {
  MethodMap methods;
  uint64_t requests_total = 0;
};

}  // namespace

struct Aggregator::Impl {
  explicit Impl(uint32_t max) : window_max(std::max<uint32_t>(max, 1)) {}

  ServiceState& Service(const std::string& service) {
    auto svc = services.find(service);
    if (svc == services.end()) svc = services.emplace(service, ServiceState{}).first;
    return svc->second;
  }

  RouteState& Route(ServiceState& svc, const std::string& method, const std::string& route) {
    auto m = svc.methods.find(method);
    if (m == svc.methods.end()) m = svc.methods.emplace(method, RouteMap{}).first;
    auto r = m->second.find(route);
    if (r == m->second.end()) r = m->second.emplace(route, RouteState(window_max)).first;
    return r->second;
  }

  const uint32_t window_max;
  mutable std::mutex mu;
  std::map<std::string, ServiceState, std::less<>> services;
};

Aggregator::Aggregator(uint32_t window_max_seconds)
    : impl_(std::make_unique<Impl>(window_max_seconds)) {}

Aggregator::~Aggregator() = default;

void Aggregator::RecordStart(const std::string& service, const std::string& method,
                             const std::string& route) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ++impl_->Route(impl_->Service(service), method, route).in_flight;
}

void Aggregator::RecordComplete(const std::string& service, const std::string& method,
                                const std::string& route, int status, bool aborted,
                                uint64_t start_ns, uint64_t end_ns, uint64_t queue_ns) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ServiceState& svc = impl_->Service(service);
  RouteState& state = impl_->Route(svc, method, route);
  // Clamped: a completion whose start was never seen (perfd attached while
  // the request was running, or a lost event) must not wrap the counter.
  if (state.in_flight > 0) --state.in_flight;
  state.window.Record(status, aborted, start_ns, end_ns, queue_ns);
  ++svc.requests_total;
}

ServiceSnapshot Aggregator::Snapshot(const std::string& service, uint32_t window_seconds,
                                     uint64_t now_ns) const {
  ServiceSnapshot snap;
  snap.service = service;
  if (window_seconds == 0) window_seconds = kDefaultWindowSeconds;
  snap.window_seconds = std::min(window_seconds, impl_->window_max);

  std::lock_guard<std::mutex> lock(impl_->mu);
  auto svc = impl_->services.find(service);
  if (svc == impl_->services.end()) return snap;
  for (const auto& [method, routes] : svc->second.methods) {
    for (const auto& [route, state] : routes) {
      WindowStats stats = state.window.Snapshot(snap.window_seconds, now_ns);
      if (stats.requests == 0 && state.in_flight == 0) continue;
      RouteSnapshot& out = snap.routes.emplace_back();
      out.method = method;
      out.route = route;
      out.requests = stats.requests;
      out.errors = stats.errors;
      out.aborted = stats.aborted;
      out.requests_per_second =
          static_cast<double>(stats.requests) / static_cast<double>(snap.window_seconds);
      out.latency = std::move(stats.latency);
      out.queue = std::move(stats.queue);
      out.max_seconds = stats.max_seconds;
      out.in_flight = state.in_flight;
      out.status_codes = std::move(stats.status_codes);
    }
  }
  // Stable, readable order for callers that do not sort themselves.
  std::sort(snap.routes.begin(), snap.routes.end(),
            [](const RouteSnapshot& a, const RouteSnapshot& b) {
              return std::tie(a.route, a.method) < std::tie(b.route, b.method);
            });
  return snap;
}

std::vector<std::string> Aggregator::Services() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> names;
  names.reserve(impl_->services.size());
  for (const auto& entry : impl_->services) names.push_back(entry.first);
  return names;
}

uint64_t Aggregator::RequestsTotal(const std::string& service) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto svc = impl_->services.find(service);
  return svc == impl_->services.end() ? 0 : svc->second.requests_total;
}

}  // namespace perfd
