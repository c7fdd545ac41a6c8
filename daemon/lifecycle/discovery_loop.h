// The discovery thread and what it does with each scan's changes: attaches
// new workers at once (HTTP tracking, interpreter verification, sampling,
// request identity) and hands the changes to the event thread, which owns
// the decoder and router state. Moved out of daemon.cc unchanged.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bpf/python.h"
#include "daemon/api/worker_directory.h"
#include "daemon/config/config.h"
#include "daemon/discovery/discovery.h"
#include "daemon/discovery/proc_reader.h"
#include "daemon/loader/http_probes.h"
#include "daemon/loader/py_sampler.h"
#include "daemon/requests/identity_attacher.h"

namespace perfd {

// A worker whose interpreter was verified, for the event thread's profiler.
struct ProfiledWorker {
  uint32_t pid;
  std::string service;
  py_offsets offsets;
};

class DiscoveryLoop : public WorkerDirectory {
 public:
  DiscoveryLoop(const Config& config, HttpProbes& probes, PySampler* sampler);
  ~DiscoveryLoop() override { Stop(); }

  void Start(const std::atomic<bool>& stop);
  void Stop();

  void ScanOnce();

  // Verifies the worker's interpreter against the offsets table and, if it
  // checks out, starts sampling its threads. A refusal keeps HTTP tracing
  // and is logged once per interpreter binary and reason.
  void StartSampling(const Worker& w, std::vector<ProfiledWorker>* out);

  // Workers not (yet) seen with uvloop mapped are re-checked for kLoopRechecks
  // scans; once uvloop shows up the task-root walk at writes is switched off.
  void RecheckLoops();

  std::vector<ProfiledWorker> TakeProfiled();
  uint64_t python_verified() const { return verified_; }
  IdentityAttacher::Counts identity() const {
    return identity_ ? identity_->counts() : IdentityAttacher::Counts{};
  }
  uint64_t python_unverified() const { return unverified_; }

  Discovery::Diff TakePending();

  std::vector<Worker> Workers() const override { return discovery_.Workers(); }
  std::map<std::string, uint64_t> read_errors() const { return discovery_.read_errors(); }
  uint64_t errors() const { return errors_; }
  uint64_t stash_reclaimed() const { return stash_reclaimed_; }

 private:
  const Config& config_;
  ProcReader reader_;
  Discovery discovery_;
  HttpProbes& probes_;
  PySampler* sampler_;
  std::unique_ptr<IdentityAttacher> identity_;  // with sampler_ only
  std::mutex mu_;
  Discovery::Diff pending_;
  std::vector<ProfiledWorker> pending_profiled_;
  std::set<std::string> refusals_logged_;   // discovery thread only
  static constexpr int kLoopRechecks = 40;  // ~10 s at the default scan interval
  std::map<uint32_t, int> loop_rechecks_;   // pid → scans left; discovery thread only
  std::atomic<uint64_t> verified_{0}, unverified_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> errors_{0};
  static constexpr uint64_t kStashSweepEvery = 40;  // scans (~10 s at the default interval)
  uint64_t scans_ = 0;                              // discovery thread only
  std::atomic<uint64_t> stash_reclaimed_{0};
  std::thread thread_;
};

}  // namespace perfd
