#include "daemon/aggregator/blocking_window.h"

#include <algorithm>
#include <iterator>
#include <tuple>

namespace perfd {
namespace {

constexpr uint64_t kNsPerSecond = 1000000000ULL;

using SiteKey = std::tuple<std::string, BlockingKind, std::string>;  // route, kind, site

void AddToSite(const BlockingEvent& e, BlockingSite* s) {
  ++s->events;
  s->total_ns += e.busy_ns;
  // The longest event shows the site's stack; on a tie the newer one (events
  // come in end order), whose frames are the likelier to still be current.
  if (e.busy_ns >= s->max_ns) {
    s->max_ns = e.busy_ns;
    s->stack_id = e.stack_id;
  }
  s->oncpu_ns += e.oncpu_ns;
  s->runnable_ns += e.runnable_ns;
  for (size_t i = 0; i < s->blocked_ns.size(); ++i) s->blocked_ns[i] += e.blocked_ns[i];
  s->victims += e.victims;
  s->victim_wait_ns += e.victim_wait_ns;
  s->last_end_ns = std::max(s->last_end_ns, e.end_ns());
}

}  // namespace

BlockingWindow::BlockingWindow(uint32_t window_max_seconds, size_t max_events_per_service)
    : window_max_ns_(uint64_t{window_max_seconds} * kNsPerSecond),
      max_events_(std::max<size_t>(max_events_per_service, 1)) {}

void BlockingWindow::Add(const std::string& service, const BlockingEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<BlockingEvent>& events = services_[service];
  // Events come almost in end order (each worker's are decided in order, the
  // workers interleave): search from the back.
  auto at = events.end();
  while (at != events.begin() && std::prev(at)->end_ns() > e.end_ns()) --at;
  events.insert(at, e);

  const uint64_t newest = events.back().end_ns();
  while (!events.empty() && newest > window_max_ns_ &&
         events.front().end_ns() < newest - window_max_ns_) {
    events.pop_front();  // out of every window: not a loss
  }
  while (events.size() > max_events_) {
    events.pop_front();
    ++dropped_;
  }
}

BlockingWindowSnapshot BlockingWindow::Snapshot(const std::string& service, uint32_t window_seconds,
                                                uint64_t now_ns, const std::string& route) const {
  BlockingWindowSnapshot out;
  const uint64_t window_ns = std::min(uint64_t{window_seconds} * kNsPerSecond, window_max_ns_);
  const uint64_t from = now_ns > window_ns ? now_ns - window_ns : 0;
  std::map<SiteKey, BlockingSite> sites;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = services_.find(service);
    if (it == services_.end()) return out;
    const std::deque<BlockingEvent>& events = it->second;
    // The window's events are a run at the back of the deque.
    auto first = std::partition_point(events.begin(), events.end(), [from](const BlockingEvent& e) {
      return e.end_ns() <= from;
    });
    for (auto e = first; e != events.end() && e->end_ns() <= now_ns; ++e) {
      out.found = true;
      if (!route.empty() && e->route != route) continue;
      auto [at, added] = sites.try_emplace(SiteKey{e->route, e->kind, e->site});
      if (added) {
        at->second.route = e->route;
        at->second.kind = e->kind;
        at->second.site = e->site;
      }
      AddToSite(*e, &at->second);
    }
  }
  out.sites.reserve(sites.size());
  for (auto& [key, site] : sites) {
    out.events += site.events;
    out.total_ns += site.total_ns;
    out.sites.push_back(std::move(site));
  }
  // Ties keep the key order (route, kind, site), so answers are stable.
  std::stable_sort(
      out.sites.begin(), out.sites.end(),
      [](const BlockingSite& a, const BlockingSite& b) { return a.total_ns > b.total_ns; });
  return out;
}

void BlockingWindow::EvictIdle(uint64_t now_ns, uint64_t idle_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now_ns <= idle_ns) return;
  for (auto it = services_.begin(); it != services_.end();) {
    if (it->second.back().end_ns() < now_ns - idle_ns)
      it = services_.erase(it);
    else
      ++it;
  }
}

size_t BlockingWindow::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_.size();
}

uint64_t BlockingWindow::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace perfd
