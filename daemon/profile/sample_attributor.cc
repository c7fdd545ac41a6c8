#include "daemon/profile/sample_attributor.h"

#include "daemon/profile/cpu_profile.h"

namespace perfd {

namespace {
// Thread samples are resolved once they are this old: requests that
// overlap them have had time to complete (or to be seen in flight).
constexpr uint64_t kThreadGraceNs = 1000000000ull;
// Completed intervals are kept this long when no thread sample waits.
constexpr uint64_t kKeepIntervalsNs = 5000000000ull;
}  // namespace

SampleAttributor::SampleAttributor(Sink sink, uint64_t max_wait_ns)
    : sink_(std::move(sink)), max_wait_ns_(max_wait_ns) {}

void SampleAttributor::SetService(uint32_t pid, const std::string& service) {
  procs_[pid].service = service;
}

void SampleAttributor::OnSample(const ProfileSample& s) {
  Proc& p = procs_[s.pid];
  if (s.root != 0) {
    p.by_root[s.root].push_back(s);
  } else if (s.tid != s.pid) {
    p.thread_samples.push_back(s);
  } else {
    Emit(p, kNoRequestRoute, s);
  }
}

void SampleAttributor::OnRequestStart(uint32_t pid, uint64_t conn_id, uint64_t start_ns) {
  procs_[pid].inflight.emplace(start_ns, conn_id);
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
  if (py_root == 0) return;
  auto it = p.by_root.find(py_root);
  if (it == p.by_root.end()) return;
  std::vector<ProfileSample> later;
  for (const auto& s : it->second) {
    if (s.ts_ns <= end_ns)
      Emit(p, route, s);
    else
      later.push_back(s);  // the address already serves the next task
  }
  if (later.empty())
    p.by_root.erase(it);
  else
    it->second = std::move(later);
}

void SampleAttributor::ResolveThreadSamples(Proc& p, uint64_t now_ns, bool final) {
  while (!p.thread_samples.empty()) {
    const ProfileSample& s = p.thread_samples.front();
    if (!final && s.ts_ns + kThreadGraceNs > now_ns) break;
    // A request still in flight that started before the sample may own it.
    bool open_owner = !p.inflight.empty() && p.inflight.begin()->first <= s.ts_ns;
    if (open_owner && !final && s.ts_ns + max_wait_ns_ > now_ns) break;
    const Interval* owner = nullptr;
    int covering = open_owner ? 1 : 0;
    for (const auto& iv : p.recent) {
      if (iv.start <= s.ts_ns && s.ts_ns <= iv.end) {
        owner = &iv;
        ++covering;
      }
    }
    if (covering == 1 && owner)
      Emit(p, owner->route, s);
    else if (covering == 0)
      Emit(p, kNoRequestRoute, s);
    else
      Emit(p, kThreadpoolRoute, s);
    p.thread_samples.pop_front();
  }
}

void SampleAttributor::Tick(uint64_t now_ns) {
  for (auto& [pid, p] : procs_) {
    ResolveThreadSamples(p, now_ns, false);
    for (auto it = p.by_root.begin(); it != p.by_root.end();) {
      auto& v = it->second;
      size_t keep = 0;
      for (auto& s : v) {
        if (s.ts_ns + max_wait_ns_ <= now_ns)
          Emit(p, kNoRequestRoute, s);
        else
          v[keep++] = s;
      }
      v.resize(keep);
      it = v.empty() ? p.by_root.erase(it) : std::next(it);
    }
    // Keep only intervals that may still cover a thread sample: those
    // ending after the oldest waiting sample (new samples are recent).
    uint64_t cutoff = now_ns > kKeepIntervalsNs ? now_ns - kKeepIntervalsNs : 0;
    if (!p.thread_samples.empty() && p.thread_samples.front().ts_ns < cutoff)
      cutoff = p.thread_samples.front().ts_ns;
    while (!p.recent.empty() && p.recent.front().end < cutoff) p.recent.pop_front();
  }
}

void SampleAttributor::DropProcess(uint32_t pid, uint64_t now_ns) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  Proc& p = it->second;
  p.inflight.clear();
  ResolveThreadSamples(p, now_ns, true);
  for (auto& [root, v] : p.by_root)
    for (auto& s : v) Emit(p, kNoRequestRoute, s);
  procs_.erase(it);
}

size_t SampleAttributor::pending() const {
  size_t n = 0;
  for (const auto& [pid, p] : procs_) {
    n += p.thread_samples.size();
    for (const auto& [r, v] : p.by_root) n += v.size();
  }
  return n;
}

}  // namespace perfd
