#include "daemon/lifecycle/discovery_loop.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>
#include <variant>

#include "daemon/python/elf_symbols.h"
#include "daemon/python/python_target.h"

namespace perfd {

namespace {

// Discovery runs on its own thread (reading /proc must never delay event
// draining); it attaches new workers at once and hands the changes to the
// event thread, which owns the decoder and router state.
// uvloop flushes transport writes from its own loop, outside the task that
// wrote: a task-root walk at the write syscall finds nothing there.
bool UsesUvloop(uint32_t pid) {
  auto maps = python::ReadMaps(pid);
  if (auto* entries = std::get_if<std::vector<python::MapEntry>>(&maps))
    for (const auto& m : *entries)
      if (m.path.find("/uvloop/loop.") != std::string::npos) return true;
  return false;
}

}  // namespace

DiscoveryLoop::DiscoveryLoop(const Config& config, HttpProbes& probes, PySampler* sampler)
    : config_(config), discovery_(config, reader_), probes_(probes), sampler_(sampler) {
  if (sampler_ && config.request_identity)
    identity_ = std::make_unique<IdentityAttacher>(*sampler_);
}

void DiscoveryLoop::Start(const std::atomic<bool>& stop) {
  thread_ = std::thread([this, &stop] {
    while (!stop && !stopping_) {
      ScanOnce();
      std::this_thread::sleep_for(std::chrono::milliseconds(config_.scan_interval_ms));
    }
  });
}

void DiscoveryLoop::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void DiscoveryLoop::ScanOnce() {
  Discovery::Diff diff = discovery_.Scan();
  // Stale syscall-argument entries are rare (a missed exit, then the
  // thread exited): a sweep every ~10 s keeps the per-process stash quota
  // exact at the cost of one map walk (measured: docs/ARCHITECTURE.md).
  if (++scans_ % kStashSweepEvery == 0) {
    const auto sweep = probes_.ReclaimStash();
    stash_reclaimed_ += sweep.reclaimed;
    if (sweep.reclaimed != 0)
      spdlog::debug("stash sweep: {} of {} entries were of exited threads", sweep.reclaimed,
                    sweep.entries);
  }
  std::vector<ProfiledWorker> profiled;
  for (const auto& w : diff.added) {
    try {
      probes_.TrackPid(w.pid);
      spdlog::info("tracking worker pid {} of service {} ({} {})", w.pid, w.service, w.server,
                   w.app_spec);
    } catch (const LoaderError& e) {
      spdlog::error("{}", e.what());
      ++errors_;
    }
    if (sampler_) StartSampling(w, &profiled);
  }
  if (sampler_) {
    for (uint32_t pid : sampler_->Processes()) sampler_->SyncThreads(pid);
    if (identity_) identity_->Recheck();
    RecheckLoops();
    for (const auto& w : diff.removed) {
      if (identity_) identity_->Forget(w.pid);
      loop_rechecks_.erase(w.pid);
    }
  }
  if (diff.added.empty() && diff.removed.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& w : diff.added) pending_.added.push_back(std::move(w));
  for (auto& w : diff.removed) pending_.removed.push_back(std::move(w));
  for (auto& p : profiled) pending_profiled_.push_back(std::move(p));
}

void DiscoveryLoop::StartSampling(const Worker& w, std::vector<ProfiledWorker>* out) {
  auto target = python::InspectPython(w.pid);
  if (auto* reason = std::get_if<std::string>(&target)) {
    ++unverified_;
    if (refusals_logged_.insert(*reason).second)
      spdlog::warn("pid {} ({}): Python stacks refused: {}", w.pid, w.service, *reason);
    return;
  }
  auto t = std::get<python::PythonTarget>(target);
  t.proc.root_at_writes = !UsesUvloop(w.pid);
  try {
    sampler_->AddProcess(w.pid, t.proc);
    // uvicorn imports uvloop while it starts: look again for a while.
    if (t.proc.root_at_writes) loop_rechecks_[w.pid] = kLoopRechecks;
    if (identity_) identity_->Start(w.pid, t);
    ++verified_;
    spdlog::info("pid {}: sampling Python {}.{} stacks ({})", w.pid, t.major, t.minor, t.binary);
    out->push_back({w.pid, w.service, t.proc.off});
  } catch (const LoaderError& e) {
    spdlog::error("{}", e.what());
    ++errors_;
  }
}

void DiscoveryLoop::RecheckLoops() {
  for (auto it = loop_rechecks_.begin(); it != loop_rechecks_.end();) {
    int& left = it->second;
    if (UsesUvloop(it->first)) {
      try {
        sampler_->SetRootAtWrites(it->first, false);
      } catch (const LoaderError&) {
        // The worker exited meanwhile: discovery removes it.
      }
      it = loop_rechecks_.erase(it);
    } else if (--left <= 0) {
      it = loop_rechecks_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<ProfiledWorker> DiscoveryLoop::TakeProfiled() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(pending_profiled_, {});
}

Discovery::Diff DiscoveryLoop::TakePending() {
  std::lock_guard<std::mutex> lock(mu_);
  Discovery::Diff out = std::move(pending_);
  pending_ = {};
  return out;
}

}  // namespace perfd
