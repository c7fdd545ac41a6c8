#include "daemon/lifecycle/worker_lifecycle.h"

#include <spdlog/spdlog.h>

#include "daemon/loader/http_probes.h"

namespace perfd {

void WorkerLifecycle::Apply(const Observations& observed, uint64_t now_ns) {
  for (const auto& [change, facts] : observed.changes) {
    const Worker& w = change.worker;
    auto it = attached_.find(w.pid);
    if (change.kind == WorkerChange::Kind::kRemoved) {
      if (it == attached_.end() || it->second.start_time != w.start_time) {
        spdlog::debug("worker pid {} (start {}) was not attached: nothing to detach", w.pid,
                      w.start_time);
        continue;
      }
      Detach(it->second, now_ns);
      continue;
    }
    // Discovery removes a pid's old process before it adds a new one; if
    // that removal never came, the old process still goes first.
    if (it != attached_.end()) Detach(it->second, now_ns);
    Attach(w, facts);
  }
  // Interpreters verified at a later scan: the same process, still attached
  // and not sampled.
  for (const auto& late : observed.verified_late) {
    auto it = attached_.find(late.pid);
    const auto* t = std::get_if<python::PythonTarget>(&late.facts.target);
    if (it == attached_.end() || it->second.start_time != late.start_time || !t ||
        !loader_.sampling() || sampled_.count(late.pid))
      continue;
    py_offsets offsets{};
    if (StartSampling(it->second, *t, late.facts.uses_uvloop, &offsets)) {
      --unverified_;
      pipeline_.OnSampled(it->second, offsets);
    }
  }
  for (const auto& seen : observed.uvloop_seen) {
    auto it = attached_.find(seen.pid);
    if (it != attached_.end() && it->second.start_time == seen.start_time && loader_.sampling())
      loader_.UvloopSeen(seen.pid);
  }
  if (observed.scans != 0) loader_.Upkeep(observed.scans);
}

void WorkerLifecycle::Attach(const Worker& w, const std::optional<PythonFacts>& facts) {
  try {
    loader_.TrackHttp(w.pid);
    spdlog::info("tracking worker pid {} of service {} ({} {})", w.pid, w.service, w.server,
                 w.app_spec);
  } catch (const LoaderError& e) {
    spdlog::error("{}", e.what());
    ++errors_;
  }
  // The interpreter was checked against the offsets table on the discovery
  // thread; if it checked out, its threads are sampled. A refusal keeps
  // HTTP tracing and is logged once per interpreter binary and reason.
  py_offsets offsets{};
  bool sampled = false;
  if (loader_.sampling()) {
    static const std::variant<python::PythonTarget, std::string> kNotInspected =
        std::string("not inspected");
    const auto& target = facts ? facts->target : kNotInspected;
    if (auto* reason = std::get_if<std::string>(&target)) {
      ++unverified_;
      if (python::IsLiveWalkRefusal(*reason))
        spdlog::info("pid {} ({}): Python stacks not verified yet ({}); inspecting it again", w.pid,
                     w.service, *reason);
      else if (refusals_logged_.insert(*reason).second)
        spdlog::warn("pid {} ({}): Python stacks refused: {}", w.pid, w.service, *reason);
    } else {
      sampled =
          StartSampling(w, std::get<python::PythonTarget>(target), facts->uses_uvloop, &offsets);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    attached_[w.pid] = w;
  }
  pipeline_.OnAttached(w, sampled ? &offsets : nullptr);
}

bool WorkerLifecycle::StartSampling(const Worker& w, const python::PythonTarget& t,
                                    bool uses_uvloop, py_offsets* offsets) {
  try {
    loader_.StartSampling(w.pid, t, uses_uvloop);
  } catch (const LoaderError& e) {
    spdlog::error("{}", e.what());
    ++errors_;
    return false;
  }
  ++verified_;
  spdlog::info("pid {}: sampling Python {}.{} stacks ({})", w.pid, t.major, t.minor, t.binary);
  *offsets = t.proc.off;
  sampled_.insert(w.pid);
  return true;
}

void WorkerLifecycle::Detach(const Worker& w, uint64_t now_ns) {
  const Worker gone = w;  // w lives in attached_
  {
    std::lock_guard<std::mutex> lock(mu_);
    attached_.erase(gone.pid);
  }
  sampled_.erase(gone.pid);
  // Probes first, so nothing more of this pid is queued; then the event
  // thread's books, after draining what the kernel queued before.
  loader_.UntrackHttp(gone.pid);
  if (loader_.sampling()) loader_.StopSampling(gone.pid);
  pipeline_.OnDetached(gone, now_ns);
  spdlog::info("worker pid {} of service {} exited; probes detached", gone.pid, gone.service);
}

std::vector<Worker> WorkerLifecycle::Workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Worker> out;
  out.reserve(attached_.size());
  for (const auto& [pid, w] : attached_) out.push_back(w);
  return out;
}

}  // namespace perfd
