#include "daemon/breakdown/breakdown_window.h"

#include <algorithm>
#include <cmath>

#include "daemon/aggregator/bounded_labels.h"

namespace perfd::breakdown {

namespace {

uint32_t Us(uint64_t ns) { return uint32_t(std::min<uint64_t>(ns / 1000, UINT32_MAX)); }

// Nearest-rank quantile of sorted values (q in (0, 1]).
uint32_t Quantile(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = size_t(std::ceil(q * double(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

bool RouteMatches(const std::string& key, const std::string& filter) {
  if (filter.empty() || key == filter) return true;
  // "/t" matches "METHOD /t".
  if (filter.front() != '/') return false;
  const size_t sp = key.find(' ');
  return sp != std::string::npos && key.compare(sp + 1, std::string::npos, filter) == 0;
}

}  // namespace

void BreakdownWindow::Add(const std::string& service, const DecidedRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  Service& s = services_[service];
  s.last_ns = std::max(s.last_ns, r.end_ns);
  auto it = s.routes.find(r.route);
  if (it == s.routes.end()) {
    std::string name = r.route;
    if (s.routes.size() >= kMaxRoutes + s.routes.count(kOtherLabel)) {
      ++routes_folded_;
      name = kOtherLabel;
    }
    it = s.routes.try_emplace(name, window_max_).first;
  }
  Route& route = it->second;
  if (Slot* slot = route.slots.At(r.end_ns / kNsPerSecond)) {
    ++slot->requests;
    slot->latency_ns += r.parts.latency_ns;
    for (size_t i = 0; i < kNumParts; ++i) slot->parts_ns[i] += r.parts.ns[i];
  }
  Record rec;
  rec.end_ns = r.end_ns;
  rec.latency_us = Us(r.parts.latency_ns);
  for (size_t i = 0; i < kNumParts; ++i) rec.parts_us[i] = Us(r.parts.ns[i]);
  if (route.recent.size() < kRecentPerRoute) {
    route.recent.push_back(rec);
  } else {
    route.recent[route.next] = rec;
    route.next = (route.next + 1) % kRecentPerRoute;
  }
}

RouteBreakdownView BreakdownWindow::View(const std::string& name, const Route& r,
                                         uint32_t window_seconds, uint64_t now_ns) {
  RouteBreakdownView v;
  v.route = name;
  uint64_t latency_ns = 0;
  std::array<uint64_t, kNumParts> parts_ns{};
  r.slots.ForWindow(window_seconds, now_ns, [&](const Slot& s) {
    v.requests += s.requests;
    latency_ns += s.latency_ns;
    for (size_t i = 0; i < kNumParts; ++i) parts_ns[i] += s.parts_ns[i];
  });
  if (v.requests == 0) return v;
  v.mean_s = double(latency_ns) / double(v.requests) / 1e9;
  for (size_t i = 0; i < kNumParts; ++i)
    v.parts[i].mean_s = double(parts_ns[i]) / double(v.requests) / 1e9;

  // The recent requests of the same window (the slots' seconds).
  const uint64_t window = std::clamp<uint64_t>(window_seconds, 1, r.slots.window_max_seconds());
  const uint64_t first_second =
      now_ns / kNsPerSecond + 1 >= window ? now_ns / kNsPerSecond + 1 - window : 0;
  std::vector<const Record*> recent;
  for (const Record& rec : r.recent)
    if (rec.end_ns / kNsPerSecond >= first_second && rec.end_ns <= now_ns) recent.push_back(&rec);
  v.recent = recent.size();
  if (recent.empty()) return v;
  std::vector<uint32_t> values(recent.size());
  for (size_t i = 0; i < recent.size(); ++i) values[i] = recent[i]->latency_us;
  std::sort(values.begin(), values.end());
  const uint32_t threshold = Quantile(values, 0.99);
  v.tail_threshold_s = threshold / 1e6;
  uint64_t tail_latency_us = 0;
  std::array<uint64_t, kNumParts> tail_us{};
  for (const Record* rec : recent) {
    if (rec->latency_us < threshold) continue;
    ++v.tail_requests;
    tail_latency_us += rec->latency_us;
    for (size_t i = 0; i < kNumParts; ++i) tail_us[i] += rec->parts_us[i];
  }
  v.tail_mean_s = double(tail_latency_us) / double(v.tail_requests) / 1e6;
  for (size_t i = 0; i < kNumParts; ++i) {
    for (size_t k = 0; k < recent.size(); ++k) values[k] = recent[k]->parts_us[i];
    std::sort(values.begin(), values.end());
    v.parts[i].p50_s = Quantile(values, 0.5) / 1e6;
    v.parts[i].p99_s = Quantile(values, 0.99) / 1e6;
    v.parts[i].tail_mean_s = double(tail_us[i]) / double(v.tail_requests) / 1e6;
  }
  return v;
}

std::vector<RouteBreakdownView> BreakdownWindow::Snapshot(const std::string& service,
                                                          uint32_t window_seconds, uint64_t now_ns,
                                                          const std::string& route) const {
  std::vector<RouteBreakdownView> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  for (const auto& [name, r] : it->second.routes) {
    if (!RouteMatches(name, route)) continue;
    RouteBreakdownView v = View(name, r, window_seconds, now_ns);
    if (v.requests > 0) out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const RouteBreakdownView& a, const RouteBreakdownView& b) {
    const double ta = a.mean_s * double(a.requests), tb = b.mean_s * double(b.requests);
    return ta != tb ? ta > tb : a.route < b.route;
  });
  return out;
}

void BreakdownWindow::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now_ns <= idle_ns) return;
  for (auto it = services_.begin(); it != services_.end();) {
    if (it->second.last_ns < now_ns - idle_ns)
      it = services_.erase(it);
    else
      ++it;
  }
}

size_t BreakdownWindow::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_.size();
}

uint64_t BreakdownWindow::routes_folded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return routes_folded_;
}

}  // namespace perfd::breakdown
