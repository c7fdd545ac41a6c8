#include "daemon/lifecycle/bpf_worker_loader.h"

#include <spdlog/spdlog.h>

namespace perfd {

BpfWorkerLoader::BpfWorkerLoader(HttpProbes& probes, PySampler* sampler, bool request_identity)
    : probes_(probes), sampler_(sampler) {
  if (sampler_ && request_identity) identity_ = std::make_unique<IdentityAttacher>(*sampler_);
}

void BpfWorkerLoader::StartSampling(uint32_t pid, const python::PythonTarget& target,
                                    bool uses_uvloop) {
  python::PythonTarget t = target;
  // uvloop flushes transport writes from its own loop, outside the task
  // that wrote: a task-root walk at the write syscall finds nothing there.
  t.proc.root_at_writes = !uses_uvloop;
  sampler_->AddProcess(pid, t.proc);
  if (identity_) identity_->Start(pid, t, uses_uvloop);
  StartGcPauses(pid, t);
}

void BpfWorkerLoader::StartGcPauses(uint32_t pid, const python::PythonTarget& target) {
  GcProbeState state = GcProbeState::kNoUsdt;
  if (target.gc_probes) {
    try {
      sampler_->AttachGcProbes(pid, target.binary_file->SelfPath());
      state = GcProbeState::kAttached;
    } catch (const LoaderError& e) {
      spdlog::warn("pid {}: GC pauses not measured: {}", pid, e.what());
      state = GcProbeState::kFailed;
    }
  } else if (logged_no_usdt_.insert(target.binary).second) {
    // Once per interpreter: every worker of a service runs the same one.
    spdlog::info(
        "GC pauses not measured for workers of {}: the interpreter has no python:gc__start/"
        "gc__done USDT probes (built without --with-dtrace)",
        target.binary);
  }
  std::lock_guard<std::mutex> lock(gc_mu_);
  gc_state_[pid] = state;
}

void BpfWorkerLoader::UvloopSeen(uint32_t pid) {
  try {
    sampler_->SetRootAtWrites(pid, false);
  } catch (const LoaderError&) {
    // Not sampled (refused, or its sampling failed to start): nothing to switch.
    return;
  }
  if (identity_) identity_->UvloopSeen(pid);
}

void BpfWorkerLoader::StopSampling(uint32_t pid) {
  sampler_->RemoveProcess(pid);
  {
    std::lock_guard<std::mutex> lock(gc_mu_);
    gc_state_.erase(pid);
  }
  if (identity_) identity_->Forget(pid);
}

void BpfWorkerLoader::Upkeep(uint64_t scans) {
  // Stale syscall-argument entries are rare (a missed exit, then the
  // thread exited): a sweep every ~10 s keeps the per-process stash quota
  // exact at the cost of one map walk (measured: docs/ARCHITECTURE.md).
  scans_since_sweep_ += scans;
  if (scans_since_sweep_ >= kStashSweepEvery) {
    scans_since_sweep_ = 0;
    const auto sweep = probes_.ReclaimStash();
    stash_reclaimed_ += sweep.reclaimed;
    if (sweep.reclaimed != 0)
      spdlog::debug("stash sweep: {} of {} entries were of exited threads", sweep.reclaimed,
                    sweep.entries);
  }
  if (!sampler_) return;
  for (uint32_t pid : sampler_->Processes()) sampler_->SyncThreads(pid);
  if (identity_) identity_->Recheck();
}

BpfWorkerLoader::GcProbeCounts BpfWorkerLoader::gc_probes() const {
  GcProbeCounts c;
  std::lock_guard<std::mutex> lock(gc_mu_);
  for (const auto& [pid, state] : gc_state_) {
    if (state == GcProbeState::kAttached) ++c.attached;
    if (state == GcProbeState::kNoUsdt) ++c.no_usdt;
    if (state == GcProbeState::kFailed) ++c.failed;
  }
  return c;
}

GcProbeState BpfWorkerLoader::GcProbeOf(uint32_t pid) const {
  std::lock_guard<std::mutex> lock(gc_mu_);
  auto it = gc_state_.find(pid);
  return it == gc_state_.end() ? GcProbeState::kNotSampled : it->second;
}

}  // namespace perfd
