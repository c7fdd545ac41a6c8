#include "daemon/loop/blocking_tracker.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "daemon/profile/cpu_profile.h"
#include "daemon/python/library_file.h"

namespace perfd {

namespace {

// Samples are kept this long past the finalize delay: an event's samples
// can be attributed after it arrives (the attributor waits for their
// request), and its kernel event can arrive after its samples.
constexpr uint64_t kSampleSlackNs = 5000000000ull;

uint64_t EndOf(const loop_block_event& e) { return e.start_ns + e.busy_ns; }

std::string FormatSite(const FrameInfo& f, int line) {
  if (f.file.empty()) return f.function;
  return f.function + " (" + f.file + ":" + std::to_string(line) + ")";
}

// The most frequent key of a count map (ties: the smallest key).
template <typename K>
K MostFrequent(const std::map<K, uint64_t>& counts) {
  auto best = counts.begin();
  for (auto it = counts.begin(); it != counts.end(); ++it)
    if (it->second > best->second) best = it;
  return best->first;
}

}  // namespace

BlockingTracker::BlockingTracker(const StackTable& stacks, Sink sink, uint64_t finalize_delay_ns)
    : stacks_(stacks), sink_(std::move(sink)), finalize_delay_ns_(finalize_delay_ns) {}

void BlockingTracker::SetService(uint32_t pid, const std::string& service) {
  procs_[pid].service = service;
}

void BlockingTracker::OnLoopEvent(const loop_block_event& e) {
  ++stats_.events;
  now_ns_ = std::max(now_ns_, EndOf(e));
  auto it = procs_.find(e.tgid);
  if (it == procs_.end() || it->second.service.empty()) {
    ++stats_.unknown_process;
    return;
  }
  Proc& p = it->second;
  if (p.loop_tids.size() < kMaxLoopThreads) p.loop_tids.insert(e.tid);
  if (p.pending.size() >= kMaxPendingEvents) {
    ++stats_.pending_overflow;
    return;
  }
  // Events arrive nearly in end order (several loop threads may interleave):
  // insert from the back.
  auto pos = p.pending.end();
  while (pos != p.pending.begin() && EndOf(std::prev(pos)->raw) > EndOf(e)) --pos;
  Pending ev;
  ev.raw = e;
  p.pending.insert(pos, std::move(ev));
}

void BlockingTracker::OnAttributedSample(const std::string& service, const std::string& route,
                                         const ProfileSample& s) {
  now_ns_ = std::max(now_ns_, s.ts_ns);
  if (s.offcpu_ns > 0) ++stats_.offcpu_stacks;
  // A worker's first blocking event may come after its samples were
  // attributed: they are kept from the first one on.
  Proc& p = procs_[s.pid];
  if (p.service.empty()) p.service = service;
  // Not a loop thread's: no event will take it as evidence. (Off-CPU stacks
  // are always a loop thread's; before the first event every thread counts.)
  if (s.offcpu_ns == 0 && !p.loop_tids.empty() && !p.loop_tids.count(s.tid)) return;
  Evidence ev;
  ev.ts_ns = s.ts_ns;
  ev.tid = s.tid;
  ev.stack_id = s.stack_id;
  ev.conn_id = s.conn_id;
  ev.offcpu_ns = s.offcpu_ns;
  ev.route = route;
  // Full: the oldest arrival goes (O(1) per sample; Tick prunes by age).
  if (p.samples.size() >= kMaxSamples) {
    ++stats_.samples_overflow;
    Forget(p.samples.front());
    p.samples.pop_front();
  }
  p.samples.push_back(std::move(ev));
}

void BlockingTracker::OnComplete(const RoutedRequest& req) {
  now_ns_ = std::max(now_ns_, req.end_ns);
  auto it = procs_.find(req.pid);
  if (it == procs_.end()) return;
  const uint64_t from = req.latency_start_ns(), to = req.end_ns;
  if (to <= from) return;
  for (Pending& ev : it->second.pending) {
    const uint64_t lo = std::max<uint64_t>(from, ev.raw.start_ns);
    const uint64_t hi = std::min<uint64_t>(to, EndOf(ev.raw));
    if (hi > lo) ev.victims.push_back({req.conn_id, hi - lo});
  }
}

void BlockingTracker::Tick(uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  for (auto& [pid, p] : procs_) {
    while (!p.pending.empty() && EndOf(p.pending.front().raw) + finalize_delay_ns_ <= now_ns) {
      Decide(p, p.pending.front());
      p.pending.pop_front();
    }
    Prune(p);
  }
}

void BlockingTracker::DropProcess(uint32_t pid, uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  Proc& p = it->second;
  for (const Pending& ev : p.pending) Decide(p, ev);
  for (const Evidence& s : p.samples) Forget(s);
  procs_.erase(it);
}

size_t BlockingTracker::pending_events() const {
  size_t n = 0;
  for (const auto& [pid, p] : procs_) n += p.pending.size();
  return n;
}

void BlockingTracker::Prune(Proc& p) {
  // A sample is needed while a pending event may still contain it (it is
  // not older than the oldest pending start) or an event that has not
  // arrived yet may (it is recent).
  const uint64_t keep = finalize_delay_ns_ + kSampleSlackNs;
  const uint64_t recent = now_ns_ > keep ? now_ns_ - keep : 0;
  uint64_t oldest_start = UINT64_MAX;
  for (const Pending& ev : p.pending)
    oldest_start = std::min<uint64_t>(oldest_start, ev.raw.start_ns);
  const uint64_t cutoff = std::min(recent, oldest_start);
  auto keep_end = std::remove_if(p.samples.begin(), p.samples.end(), [&](const Evidence& s) {
    if (s.ts_ns >= cutoff) return false;
    Forget(s);
    return true;
  });
  p.samples.erase(keep_end, p.samples.end());
}

void BlockingTracker::Forget(const Evidence& s) {
  if (s.offcpu_ns > 0 && !s.used) ++stats_.offcpu_stacks_orphan;
}

void BlockingTracker::Decide(Proc& p, const Pending& pending) {
  const loop_block_event& raw = pending.raw;
  BlockingEvent e;
  e.pid = raw.tgid;
  e.tid = raw.tid;
  e.start_ns = raw.start_ns;
  e.busy_ns = raw.busy_ns;
  e.oncpu_ns = raw.oncpu_ns;
  e.runnable_ns = raw.runnable_ns;
  for (size_t r = 0; r < LOOP_BLOCK_REASONS; ++r) e.blocked_ns[r] = raw.blocked_ns[r];
  e.kind = BlockingKindOf(e.oncpu_ns, e.offcpu_ns(), e.runnable_ns);

  // Evidence: the loop thread's samples inside the iteration. The kernel
  // measured how the busy time splits into on CPU and off it; the evidence
  // only says whose it was: on-CPU samples divide the on-CPU part (by
  // count: samples land in proportion to CPU time), off-CPU stacks the rest
  // (by stretch). A part with no evidence of its own follows the other's.
  std::map<std::string, uint64_t> on_weight, off_weight;  // route → weight
  std::set<uint64_t> blocker_conns;
  std::vector<const Evidence*> oncpu;
  const Evidence* offcpu = nullptr;  // the longest off-CPU stack (not the overflow stack)
  for (Evidence& s : p.samples) {
    if (s.tid != raw.tid || s.ts_ns < e.start_ns || s.ts_ns > e.end_ns()) continue;
    s.used = true;
    if (s.offcpu_ns > 0)
      off_weight[s.route] += s.offcpu_ns;
    else
      on_weight[s.route] += 1;
    if (s.conn_id != 0) blocker_conns.insert(s.conn_id);
    if (s.offcpu_ns > 0) {
      e.has_offcpu_stack = true;
      if (s.stack_id != StackTable::kOverflowStack &&
          (offcpu == nullptr || s.offcpu_ns > offcpu->offcpu_ns))
        offcpu = &s;
    } else {
      ++e.oncpu_samples;
      if (s.stack_id != StackTable::kOverflowStack) oncpu.push_back(&s);
    }
  }

  // Route shares, summing to busy_ns exactly (the rounding remainder goes
  // to the largest).
  if (on_weight.empty() && off_weight.empty()) {
    ++stats_.without_evidence;
    e.routes.push_back({kUnattributedRoute, e.busy_ns});
  } else {
    const uint64_t on_part = std::min(e.oncpu_ns, e.busy_ns);
    std::map<std::string, uint64_t> ns_of;
    auto split = [&ns_of](uint64_t part, const std::map<std::string, uint64_t>& w) {
      unsigned __int128 total = 0;
      for (const auto& [route, x] : w) total += x;
      for (const auto& [route, x] : w)
        ns_of[route] += uint64_t((unsigned __int128)part * x / total);
    };
    const auto& on = on_weight.empty() ? off_weight : on_weight;
    const auto& off = off_weight.empty() ? on_weight : off_weight;
    split(on_part, on);
    split(e.busy_ns - on_part, off);
    std::vector<std::pair<std::string, uint64_t>> by_ns(ns_of.begin(), ns_of.end());
    std::stable_sort(by_ns.begin(), by_ns.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    uint64_t given = 0;
    for (const auto& [route, ns] : by_ns) {
      e.routes.push_back({route, ns});
      given += ns;
    }
    e.routes.front().ns += e.busy_ns - given;
  }
  e.route = e.routes.front().route;

  // Where: the off-CPU stack for an off-CPU event (the line of the blocking
  // call), else the function most on-CPU samples' leaf-most application
  // frame is in, named by its first line: a hog's samples land on many lines
  // of it, and its events must group as one site.
  auto use_offcpu = [&] {
    e.stack_id = offcpu->stack_id;
    e.site = SiteOf(offcpu->stack_id);
  };
  if (e.kind == BlockingKind::kOffCpu && offcpu != nullptr) {
    use_offcpu();
  } else if (!oncpu.empty()) {
    struct Site {
      FrameInfo frame;
      uint64_t samples = 0;
      std::map<uint32_t, uint64_t> stacks;
    };
    std::map<std::pair<std::string, std::string>, Site> sites;  // (function, file)
    for (const Evidence* s : oncpu) {
      FrameInfo f;
      if (!SiteFrame(s->stack_id, &f)) continue;
      Site& site = sites[{f.function, f.file}];
      site.frame = f;
      ++site.samples;
      ++site.stacks[s->stack_id];
    }
    if (!sites.empty()) {
      auto best = sites.begin();
      for (auto it = sites.begin(); it != sites.end(); ++it)
        if (it->second.samples > best->second.samples) best = it;
      e.stack_id = MostFrequent(best->second.stacks);
      e.site = FormatSite(best->second.frame, best->second.frame.first_line);
    }
  }
  // An on-CPU event with no usable on-CPU stack still names the stack the
  // kernel captured, rather than nothing.
  if (e.stack_id == 0 && offcpu != nullptr) use_offcpu();

  e.blocker_conns.assign(blocker_conns.begin(), blocker_conns.end());
  // The cost to the others: requests overlapping it that are not the
  // blocker's own (connection 0, unknown, is never the blocker's).
  for (const Victim& v : pending.victims) {
    if (v.conn_id != 0 && blocker_conns.count(v.conn_id)) continue;
    ++e.victims;
    e.victim_wait_ns += v.overlap_ns;
  }

  ++stats_.decided;
  if (sink_) sink_(p.service, e);
}

bool BlockingTracker::SiteFrame(uint32_t stack_id, FrameInfo* frame) const {
  const std::vector<uint32_t> ids = stacks_.Stack(stack_id);
  if (ids.empty()) return false;
  for (uint32_t id : ids) {
    FrameInfo f = stacks_.Frame(id);
    if (!IsLibraryFile(f.file)) {
      *frame = std::move(f);
      return true;
    }
  }
  *frame = stacks_.Frame(ids.front());
  return true;
}

std::string BlockingTracker::SiteOf(uint32_t stack_id) const {
  FrameInfo f;
  if (!SiteFrame(stack_id, &f)) return "";
  return FormatSite(f, f.line);
}

}  // namespace perfd
