#include "daemon/aggregator/aggregator.h"

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include "daemon/aggregator/bounded_labels.h"
#include "daemon/aggregator/route_window.h"

namespace perfd {

namespace {

// Window used when a caller passes 0 (the API's documented default).
constexpr uint32_t kDefaultWindowSeconds = 60;

const std::string& Other() {
  static const std::string other = kOtherLabel;
  return other;
}

struct RouteState {
  explicit RouteState(uint32_t window_max) : window(window_max) {}
  RouteWindow window;
  uint32_t in_flight = 0;
  uint64_t last_ns = 0;  // end of the latest request (what idleness is measured from)
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
  Impl(uint32_t max, AggregatorLimits l) : window_max(std::max<uint32_t>(max, 1)), limits(l) {}

  // `completing`: counters count requests, so only completions count.
  ServiceState& Service(const std::string& service, bool completing) {
    auto svc = services.find(service);
    if (svc != services.end()) return svc->second;
    // "_OTHER" itself is always let in: it is where the overflow goes.
    if (services.size() >= limits.max_services && service != Other()) {
      if (completing) ++stats.services_over_cap;
      return Service(Other(), completing);
    }
    return services.emplace(service, ServiceState{}).first->second;
  }

  RouteState& Route(ServiceState& svc, const std::string& method, const std::string& route,
                    bool completing) {
    const bool known = IsKnownMethod(method);
    if (!known && completing) ++stats.methods_folded;
    const std::string& m = known ? method : Other();
    auto methods = svc.methods.find(m);
    if (methods == svc.methods.end()) methods = svc.methods.emplace(m, RouteMap{}).first;
    RouteMap& routes = methods->second;
    auto r = routes.find(route);
    if (r != routes.end()) return r->second;
    if (route_count >= limits.max_routes && route != Other()) {
      if (completing) ++stats.routes_over_cap;
      return NewOrExisting(routes, Other());
    }
    // A completion whose start was folded into "_OTHER" (the cap was full
    // then; an eviction made room since) ends there, or that entry would
    // stay in flight forever and never be evicted.
    if (completing) {
      auto other = routes.find(Other());
      if (other != routes.end() && other->second.in_flight > 0) return other->second;
    }
    return NewOrExisting(routes, route);
  }

  RouteState& NewOrExisting(RouteMap& routes, const std::string& route) {
    auto r = routes.find(route);
    if (r != routes.end()) return r->second;
    ++route_count;  // "_OTHER" entries count too, but are never refused
    return routes.emplace(route, RouteState(window_max)).first->second;
  }

  const uint32_t window_max;
  const AggregatorLimits limits;
  mutable std::mutex mu;
  std::map<std::string, ServiceState, std::less<>> services;
  size_t route_count = 0;
  AggregatorStats stats;  // counters only; sizes are filled in by Stats()
};

Aggregator::Aggregator(uint32_t window_max_seconds, AggregatorLimits limits)
    : impl_(std::make_unique<Impl>(window_max_seconds, limits)) {}

Aggregator::~Aggregator() = default;

void Aggregator::RecordStart(const std::string& service, const std::string& method,
                             const std::string& route) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ++impl_->Route(impl_->Service(service, false), method, route, false).in_flight;
}

void Aggregator::RecordComplete(const std::string& service, const std::string& method,
                                const std::string& route, int status, bool aborted,
                                uint64_t start_ns, uint64_t end_ns, uint64_t queue_ns) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ServiceState& svc = impl_->Service(service, true);
  RouteState& state = impl_->Route(svc, method, route, true);
  // Clamped: a completion whose start was never seen (perfd attached while
  // the request was running, or a lost event) must not wrap the counter.
  if (state.in_flight > 0) --state.in_flight;
  state.window.Record(status, aborted, start_ns, end_ns, queue_ns);
  state.last_ns = std::max(state.last_ns, end_ns);
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

void Aggregator::EvictIdle(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const uint64_t idle_ns = impl_->limits.idle_ns;
  auto is_idle = [&](const RouteState& r) {
    return r.in_flight == 0 && r.last_ns + idle_ns <= now_ns;
  };
  for (auto svc = impl_->services.begin(); svc != impl_->services.end();) {
    MethodMap& methods = svc->second.methods;
    for (auto m = methods.begin(); m != methods.end();) {
      for (auto r = m->second.begin(); r != m->second.end();) {
        if (!is_idle(r->second)) {
          ++r;
          continue;
        }
        r = m->second.erase(r);
        --impl_->route_count;
        ++impl_->stats.routes_evicted;
      }
      m = m->second.empty() ? methods.erase(m) : std::next(m);
    }
    if (methods.empty()) {
      svc = impl_->services.erase(svc);
      ++impl_->stats.services_evicted;
    } else {
      ++svc;
    }
  }
}

AggregatorStats Aggregator::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  AggregatorStats out = impl_->stats;
  out.services = impl_->services.size();
  out.routes = impl_->route_count;
  for (const auto& [name, svc] : impl_->services)
    for (const auto& [method, routes] : svc.methods)
      for (const auto& [route, state] : routes) out.slots += state.window.allocated_slots();
  return out;
}

}  // namespace perfd
