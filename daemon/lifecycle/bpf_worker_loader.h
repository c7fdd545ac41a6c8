// The real WorkerLoader: HttpProbes for HTTP tracing, PySampler (and
// IdentityAttacher) for Python stacks, and the per-scan follow-ups: threads
// started lazily (anyio), request identity not verifiable before the first
// context is entered, the stash sweep. Called from one thread (the
// lifecycle's); counters are read from others.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "daemon/api/gc_probe_directory.h"
#include "daemon/lifecycle/worker_loader.h"
#include "daemon/loader/http_probes.h"
#include "daemon/loader/py_sampler.h"
#include "daemon/requests/identity_attacher.h"

namespace perfd {

class BpfWorkerLoader : public WorkerLoader, public GcProbeDirectory {
 public:
  // sampler is null when Python sampling is off. Both must outlive this.
  BpfWorkerLoader(HttpProbes& probes, PySampler* sampler, bool request_identity);

  void TrackHttp(uint32_t pid) override {
    probes_.TrackPid(pid);
    if (probes_.SeedClientConnections(pid) > 0) ClientConnectionSeen(pid);
  }
  // The worker opened (or had) a client connection: see
  // IdentityAttacher::ClientConnectionSeen. Event thread.
  void ClientConnectionSeen(uint32_t pid) {
    if (identity_) identity_->ClientConnectionSeen(pid);
  }
  void UntrackHttp(uint32_t pid) override { probes_.UntrackPid(pid); }
  bool sampling() const override { return sampler_ != nullptr; }
  void StartSampling(uint32_t pid, const python::PythonTarget& target, bool uses_uvloop) override;
  void UvloopSeen(uint32_t pid) override;
  void StopSampling(uint32_t pid) override;
  void Upkeep(uint64_t scans) override;

  IdentityAttacher::Counts identity() const {
    return identity_ ? identity_->counts() : IdentityAttacher::Counts{};
  }
  uint64_t stash_reclaimed() const { return stash_reclaimed_; }
  // Sampled workers by the state of their GC pause probes (thread-safe).
  struct GcProbeCounts {
    uint64_t attached = 0;  // pauses measured
    uint64_t no_usdt = 0;   // interpreter built without the USDT probes
    uint64_t failed = 0;    // the probes would not attach (logged)
  };
  GcProbeCounts gc_probes() const;
  // One worker's (thread-safe); kNotSampled for a pid not sampled now.
  GcProbeState GcProbeOf(uint32_t pid) const override;

 private:
  void StartGcPauses(uint32_t pid, const python::PythonTarget& target);

  HttpProbes& probes_;
  PySampler* sampler_;
  std::unique_ptr<IdentityAttacher> identity_;      // with sampler_ only
  static constexpr uint64_t kStashSweepEvery = 40;  // scans (~10 s at the default interval)
  uint64_t scans_since_sweep_ = 0;
  std::atomic<uint64_t> stash_reclaimed_{0};
  mutable std::mutex gc_mu_;                   // guards gc_state_
  std::map<uint32_t, GcProbeState> gc_state_;  // sampled pid → its GC probes
  std::set<std::string> logged_no_usdt_;       // interpreters named in the log
};

}  // namespace perfd
