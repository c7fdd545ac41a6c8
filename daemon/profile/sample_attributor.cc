#include "daemon/profile/sample_attributor.h"

#include <algorithm>
#include <iterator>

#include "daemon/profile/cpu_profile.h"

namespace perfd {

namespace {
// A group is decided once its newest sample is this old: a request that
// covers it has then either completed or been seen starting.
constexpr uint64_t kGraceNs = 1000000000ull;
// Completed intervals are kept this long when no sample waits for them.
constexpr uint64_t kKeepIntervalsNs = 5000000000ull;
}  // namespace

SampleAttributor::SampleAttributor(Sink sink, uint64_t max_wait_ns)
    : sink_(std::move(sink)), max_wait_ns_(max_wait_ns) {}

void SampleAttributor::SetService(uint32_t pid, const std::string& service) {
  procs_[pid].service = service;
}

void SampleAttributor::EmitAll(const Proc& p, const std::string& route, const Group& g) {
  const JoinKind join = route[0] == '(' ? JoinKind::kNone : JoinKind::kInterval;
  for (const auto& s : g.samples) sink_(p.service, route, s, join);
}

void SampleAttributor::OnSample(const ProfileSample& s) {
  Proc& p = procs_[s.pid];
  const bool loop_thread = s.tid == s.pid;
  if (s.identity) {
    // Loop-thread work outside a task runs in transport or timer contexts
    // that outlive any one request: never joined by their tag.
    if (s.conn_id == 0 || (loop_thread && s.root == 0)) {
      sink_(p.service, loop_thread ? kNoRequestRoute : kUnattributedRoute, s, JoinKind::kNone);
      return;
    }
    p.conns[s.conn_id].waiting.push_back(s);
    return;
  }
  if (s.root == 0 && loop_thread) {
    sink_(p.service, kNoRequestRoute, s, JoinKind::kNone);
    return;
  }
  Group* g;
  if (s.root != 0) {
    g = &p.by_root[s.root];
  } else {
    p.thread_samples.emplace_back();
    g = &p.thread_samples.back();
  }
  g->samples.push_back(s);
  g->first_ts = std::min(g->first_ts, s.ts_ns);
  g->last_ts = std::max(g->last_ts, s.ts_ns);
}

void SampleAttributor::OnRequestStart(uint32_t pid, uint64_t conn_id, uint64_t start_ns) {
  Proc& p = procs_[pid];
  p.inflight.emplace(start_ns, conn_id);
  Conn& c = p.conns[conn_id];
  c.inflight.push_back(start_ns);
  c.last_ns = std::max(c.last_ns, start_ns);
}

void SampleAttributor::OnRequestComplete(uint32_t pid, uint64_t conn_id, const std::string& route,
                                         uint64_t start_ns, uint64_t end_ns, uint64_t py_root) {
  Proc& p = procs_[pid];
  auto range = p.inflight.equal_range(start_ns);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == conn_id) {
      p.inflight.erase(it);
      break;
    }
  }
  p.recent.push_back({start_ns, end_ns, route});
  Conn& c = p.conns[conn_id];
  for (auto it = c.inflight.begin(); it != c.inflight.end(); ++it) {
    if (*it == start_ns) {
      c.inflight.erase(it);
      break;
    }
  }
  // Requests of a connection complete in order; keep `done` sorted by start
  // even if an abort reorders the reports.
  auto pos = c.done.end();
  while (pos != c.done.begin() && std::prev(pos)->start > start_ns) --pos;
  c.done.insert(pos, {start_ns, end_ns, route});
  c.last_ns = std::max(c.last_ns, end_ns);
  if (py_root == 0) return;
  // Exact join: the status line was written from inside this task.
  auto it = p.by_root.find(py_root);
  if (it == p.by_root.end()) return;
  Group mine, later;
  for (const auto& s : it->second.samples) {
    Group& g = s.ts_ns <= end_ns ? mine : later;  // later: the address serves a new task
    g.samples.push_back(s);
    g.first_ts = std::min(g.first_ts, s.ts_ns);
    g.last_ts = std::max(g.last_ts, s.ts_ns);
  }
  EmitAll(p, route, mine);
  if (later.samples.empty())
    p.by_root.erase(it);
  else
    it->second = std::move(later);
}

bool SampleAttributor::Decide(Proc& p, const Group& g, uint64_t now_ns, bool final) {
  const bool expired = g.first_ts + max_wait_ns_ <= now_ns;
  if (!final && !expired) {
    if (g.last_ts + kGraceNs > now_ns) return false;
    // A request still in flight that started before the group may own it.
    if (!p.inflight.empty() && p.inflight.begin()->first <= g.last_ts) return false;
  }
  // The request covering the whole group, if exactly one does.
  const Interval* owner = nullptr;
  int covering = 0;
  for (const auto& iv : p.recent) {
    if (iv.start <= g.first_ts && g.last_ts <= iv.end) {
      owner = &iv;
      ++covering;
    }
  }
  if (covering == 1) {
    EmitAll(p, owner->route, g);
    return true;
  }
  // No single request covers all of it (a root address reused by a later
  // task, or overlap): decide sample by sample.
  for (const auto& s : g.samples) {
    const Interval* one = nullptr;
    int n = 0;
    for (const auto& iv : p.recent)
      if (iv.start <= s.ts_ns && s.ts_ns <= iv.end) {
        one = &iv;
        ++n;
      }
    if (n == 1)
      sink_(p.service, one->route, s, JoinKind::kInterval);
    else
      sink_(p.service, n == 0 ? kNoRequestRoute : kUnattributedRoute, s, JoinKind::kNone);
  }
  return true;
}

bool SampleAttributor::DecideExact(const Proc& p, const Conn& c, const ProfileSample& s,
                                   uint64_t now_ns, bool final) {
  const bool expired = s.ts_ns + max_wait_ns_ <= now_ns;
  final = final || expired;
  // A request still in flight that started no later than the sample and
  // before every completed candidate owns it (in-order service). Starts are
  // reported in order, so the oldest in-flight one is at the front.
  const uint64_t first_inflight = c.inflight.empty() ? UINT64_MAX : c.inflight.front();
  // Earliest completed request with start <= ts <= end. `done` holds ~5 s
  // of a keep-alive connection's requests (thousands at a high rate), sorted
  // by start: a binary search finds the latest that started by ts. A
  // connection's responses are written in order, so the ends ascend too and
  // the requests covering ts are the ones just before it.
  const Interval* owner = nullptr;
  const Interval* latest_before = nullptr;
  auto after = std::upper_bound(c.done.begin(), c.done.end(), s.ts_ns,
                                [](uint64_t ts, const Interval& iv) { return ts < iv.start; });
  if (after != c.done.begin()) {
    latest_before = &*std::prev(after);
    for (auto it = after; it != c.done.begin() && std::prev(it)->end >= s.ts_ns; --it)
      owner = &*std::prev(it);
  }
  if (owner && owner->start <= first_inflight) {
    sink_(p.service, owner->route, s, JoinKind::kExact);
    return true;
  }
  if (first_inflight <= s.ts_ns) {
    if (!final) return false;  // its route is known at completion
    sink_(p.service, kUnattributedRoute, s, JoinKind::kNone);
    return true;
  }
  // After the last write of every request that had started: the tail of
  // the latest one, unless a later request of the connection turns out to
  // have started before the sample (reads arrive on another ring buffer).
  if (!final && s.ts_ns + kGraceNs > now_ns) return false;
  if (latest_before) {
    sink_(p.service, latest_before->route, s, JoinKind::kExact);
  } else {
    sink_(p.service, kUnattributedRoute, s, JoinKind::kNone);
  }
  return true;
}

void SampleAttributor::DecideConns(Proc& p, uint64_t now_ns, bool final) {
  const uint64_t keep = now_ns > kKeepIntervalsNs ? now_ns - kKeepIntervalsNs : 0;
  for (auto it = p.conns.begin(); it != p.conns.end();) {
    Conn& c = it->second;
    while (!c.waiting.empty() && DecideExact(p, c, c.waiting.front(), now_ns, final))
      c.waiting.pop_front();
    // Old requests can no longer own a sample that still arrives.
    uint64_t oldest_waiting = c.waiting.empty() ? UINT64_MAX : c.waiting.front().ts_ns;
    while (c.done.size() > 1 && c.done[1].start < std::min(keep, oldest_waiting))
      c.done.pop_front();
    if (c.waiting.empty() && c.inflight.empty() && c.last_ns < keep)
      it = p.conns.erase(it);
    else
      ++it;
  }
}

void SampleAttributor::Tick(uint64_t now_ns) {
  for (auto& [pid, p] : procs_) {
    DecideConns(p, now_ns, false);
    while (!p.thread_samples.empty() && Decide(p, p.thread_samples.front(), now_ns, false))
      p.thread_samples.pop_front();
    uint64_t oldest_waiting = UINT64_MAX;
    for (auto it = p.by_root.begin(); it != p.by_root.end();) {
      if (Decide(p, it->second, now_ns, false)) {
        it = p.by_root.erase(it);
      } else {
        oldest_waiting = std::min(oldest_waiting, it->second.first_ts);
        ++it;
      }
    }
    if (!p.thread_samples.empty())
      oldest_waiting = std::min(oldest_waiting, p.thread_samples.front().first_ts);
    // Keep only intervals that may still cover a waiting sample.
    uint64_t cutoff = now_ns > kKeepIntervalsNs ? now_ns - kKeepIntervalsNs : 0;
    cutoff = std::min(cutoff, oldest_waiting);
    while (!p.recent.empty() && p.recent.front().end < cutoff) p.recent.pop_front();
  }
}

void SampleAttributor::DropProcess(uint32_t pid, uint64_t now_ns) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  Proc& p = it->second;
  DecideConns(p, now_ns, true);
  for (const auto& g : p.thread_samples) Decide(p, g, now_ns, true);
  for (const auto& [root, g] : p.by_root) Decide(p, g, now_ns, true);
  procs_.erase(it);
}

size_t SampleAttributor::pending() const {
  size_t n = 0;
  for (const auto& [pid, p] : procs_) {
    n += p.thread_samples.size();
    for (const auto& [r, g] : p.by_root) n += g.samples.size();
    for (const auto& [id, c] : p.conns) n += c.waiting.size();
  }
  return n;
}

}  // namespace perfd
