#include "daemon/breakdown/breakdown_tracker.h"

#include <algorithm>

#include "daemon/profile/cpu_profile.h"

namespace perfd::breakdown {

BreakdownTracker::BreakdownTracker(Sink sink, uint64_t sample_period_ns, uint64_t decide_delay_ns)
    : sink_(std::move(sink)), sample_period_ns_(sample_period_ns), delay_ns_(decide_delay_ns) {}

void BreakdownTracker::OnRequest(const RoutedRequest& req, const std::vector<db::DbCall>& calls,
                                 uint64_t now_ns) {
  now_ns_ = std::max({now_ns_, now_ns, req.end_ns});
  if (req.end_ns == 0 || req.end_ns < req.start_ns) return;
  Proc& p = procs_[req.pid];
  if (p.pending.size() >= kMaxPendingRequests) {
    ++stats_.requests_overflow;
    return;
  }
  Pending r;
  r.service = req.service;
  r.route = req.method + " " + req.route;
  r.conn_id = req.conn_id;
  r.arrival_ns = req.latency_start_ns();
  r.start_ns = req.start_ns;
  r.end_ns = req.end_ns;
  r.due_ns = std::max(req.end_ns, now_ns) + delay_ns_;
  r.db.reserve(calls.size());
  for (const db::DbCall& c : calls) {
    if (c.reply_arrival_ns != 0) {
      r.db.push_back({c.start_ns, c.reply_arrival_ns});
      r.reply_waits.push_back({c.reply_arrival_ns, c.end_ns});
    } else {
      r.db.push_back({c.start_ns, c.end_ns});
    }
  }
  // Due times grow with arrival here (now_ns does not go back, and a
  // request's end is no later than its arrival here).
  p.pending.push_back(std::move(r));
}

void BreakdownTracker::OnAttributedSample(const ProfileSample& s) {
  now_ns_ = std::max(now_ns_, s.ts_ns);
  if (s.offcpu_ns != 0 || !s.identity || s.conn_id == 0) return;
  Proc& p = procs_[s.pid];
  if (p.nsamples >= kMaxSamples) {
    ++stats_.samples_overflow;
    return;
  }
  p.samples[s.conn_id].push_back({s.ts_ns, s.tid, s.category});
  ++p.nsamples;
}

void BreakdownTracker::OnGcPause(const py_gc_pause& g) {
  now_ns_ = std::max<uint64_t>(now_ns_, g.start_ns + g.duration_ns);
  if (g.conn_id == 0) return;  // interrupted no request
  Proc& p = procs_[g.tgid];
  if (p.npauses >= kMaxGcPauses) {
    ++stats_.gc_overflow;
    return;
  }
  p.pauses[g.conn_id].push_back({g.start_ns, g.start_ns + g.duration_ns, g.tid});
  ++p.npauses;
}

void BreakdownTracker::OnBlockingEvent(const BlockingEvent& e) {
  now_ns_ = std::max(now_ns_, e.end_ns());
  // Without evidence perfd does not know whose code held the loop, so it
  // cannot tell the waiters from the blocker: nobody's wait.
  if (e.blocker_conns.empty() && e.route != kNoRequestRoute) {
    ++stats_.blocking_unattributed;
    return;
  }
  Proc& p = procs_[e.pid];
  if (p.blocked.size() >= kMaxBlockingEvents) p.blocked.pop_front();
  Blocked b;
  b.start_ns = e.start_ns;
  b.end_ns = e.end_ns();
  b.no_request = e.blocker_conns.empty();
  b.conns = e.blocker_conns;
  std::sort(b.conns.begin(), b.conns.end());
  p.blocked.push_back(std::move(b));
}

void BreakdownTracker::Tick(uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  for (auto& [pid, p] : procs_) {
    while (!p.pending.empty() && p.pending.front().due_ns <= now_ns) {
      Decide(p, p.pending.front());
      p.pending.pop_front();
    }
    Prune(p);
  }
  for (auto it = procs_.begin(); it != procs_.end();) {
    const Proc& p = it->second;
    if (p.pending.empty() && p.nsamples == 0 && p.npauses == 0 && p.blocked.empty())
      it = procs_.erase(it);
    else
      ++it;
  }
}

void BreakdownTracker::DropProcess(uint32_t pid) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  for (const Pending& r : it->second.pending) Decide(it->second, r);
  stats_.samples_unclaimed += it->second.nsamples;
  procs_.erase(it);
}

size_t BreakdownTracker::pending() const {
  size_t n = 0;
  for (const auto& [pid, p] : procs_) n += p.pending.size();
  return n;
}

void BreakdownTracker::Decide(Proc& p, const Pending& r) {
  RequestEvidence ev;
  ev.arrival_ns = r.arrival_ns;
  ev.start_ns = r.start_ns;
  ev.end_ns = r.end_ns;
  ev.db = r.db;
  ev.loop = r.reply_waits;
  ev.sample_period_ns = sample_period_ns_;

  // The connection's pauses that started by the request's end are its own
  // (inside it) or older; later ones belong to its next request.
  std::vector<Pause> own_pauses;
  if (auto pit = p.pauses.find(r.conn_id); pit != p.pauses.end()) {
    std::deque<Pause>& q = pit->second;
    while (!q.empty() && q.front().start_ns < r.end_ns) {
      const Pause& g = q.front();
      if (g.end_ns > r.start_ns) {
        ev.gc.push_back({g.start_ns, g.end_ns});
        own_pauses.push_back(g);
      }
      q.pop_front();
      --p.npauses;
    }
    if (q.empty()) p.pauses.erase(pit);
  }
  for (const Blocked& b : p.blocked) {
    if (b.end_ns <= r.start_ns || b.start_ns >= r.end_ns) continue;
    if (std::binary_search(b.conns.begin(), b.conns.end(), r.conn_id)) continue;  // its own
    ev.loop.push_back({b.start_ns, b.end_ns});
  }

  // The connection's samples up to the request's end are its own (inside
  // [arrival, end]) or left over from before it (unclaimed); later ones
  // belong to the connection's next request.
  auto sit = p.samples.find(r.conn_id);
  if (sit != p.samples.end()) {
    std::deque<Sample>& q = sit->second;
    while (!q.empty() && q.front().ts_ns <= r.end_ns) {
      const Sample& s = q.front();
      bool in_gc = false;
      for (const Pause& g : own_pauses)
        if (g.tid == s.tid && s.ts_ns >= g.start_ns && s.ts_ns < g.end_ns) in_gc = true;
      if (s.ts_ns < r.arrival_ns)
        ++stats_.samples_unclaimed;
      else if (!in_gc && s.category >= 0 && s.category < python::kNumCategories)
        ++ev.cpu_samples[size_t(s.category)];
      q.pop_front();
      --p.nsamples;
    }
    if (q.empty()) p.samples.erase(sit);
  }

  DecidedRequest d;
  d.route = r.route;
  d.end_ns = r.end_ns;
  d.parts = ComputeParts(ev);
  ++stats_.decided;
  if (d.parts.cpu_clamped) ++stats_.cpu_clamped;
  if (sink_) sink_(r.service, d);
}

void BreakdownTracker::Prune(Proc& p) {
  if (now_ns_ <= kKeepNs) return;
  const uint64_t horizon = now_ns_ - kKeepNs;
  for (auto it = p.pauses.begin(); it != p.pauses.end();) {
    std::deque<Pause>& q = it->second;
    while (!q.empty() && q.front().end_ns < horizon) {
      q.pop_front();
      --p.npauses;
    }
    if (q.empty())
      it = p.pauses.erase(it);
    else
      ++it;
  }
  while (!p.blocked.empty() && p.blocked.front().end_ns < horizon) p.blocked.pop_front();
  for (auto it = p.samples.begin(); it != p.samples.end();) {
    std::deque<Sample>& q = it->second;
    while (!q.empty() && q.front().ts_ns < horizon) {
      q.pop_front();
      --p.nsamples;
      ++stats_.samples_unclaimed;
    }
    if (q.empty())
      it = p.samples.erase(it);
    else
      ++it;
  }
}

}  // namespace perfd::breakdown
