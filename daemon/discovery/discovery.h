// Finds the uvicorn workers on this host by scanning /proc. Scan() is cheap
// in steady state: it lists pids and reads /proc/<pid>/stat of each; only pids
// not seen before (or that exec'd or were re-parented) get their cmdline and
// environment read and classified. Verdicts, negative ones included, are
// cached by pid + start time, so a reused pid is never mistaken for the old
// process: its old worker is reported removed, then the new one added.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/discovery/proc_reader.h"
#include "daemon/discovery/service_namer.h"
#include "daemon/discovery/worker.h"
#include "daemon/discovery/worker_change.h"
#include "daemon/discovery/worker_classifier.h"
#include "daemon/discovery/worker_filter.h"
#include "daemon/kubernetes/pod_resolver.h"

namespace perfd {

class Discovery {
 public:
  struct Diff {
    // In the order they must be applied: a pid's old process is removed
    // before the process that reused the pid (or the same process, renamed
    // or re-classified) is added.
    std::vector<WorkerChange> changes;
    std::vector<Worker> added() const { return Of(WorkerChange::Kind::kAdded); }
    std::vector<Worker> removed() const { return Of(WorkerChange::Kind::kRemoved); }

   private:
    std::vector<Worker> Of(WorkerChange::Kind kind) const {
      std::vector<Worker> out;
      for (const auto& c : changes)
        if (c.kind == kind) out.push_back(c.worker);
      return out;
    }
  };
  struct ScanStats {
    size_t processes = 0;    // pids whose stat was read
    size_t classified = 0;   // pids whose cmdline/environ were read
    size_t read_errors = 0;  // reads that failed for a reason other than an exit
    std::chrono::microseconds duration{0};
  };

  // The reader (and pods, when given) must outlive Discovery. Throws
  // ConfigError on a bad services[].match or discovery.include regex. pods:
  // set when kubernetes.* is on; workers then carry their pod, and are
  // re-checked whenever the pod map changes (a relabelled pod can rename a
  // service).
  Discovery(const Config& config, ProcReader& reader, const k8s::PodResolver* pods = nullptr);

  // Call from one thread only (the discovery loop).
  Diff Scan();
  // Safe to call from any thread, concurrently with Scan(). Sorted by pid.
  std::vector<Worker> Workers() const;
  ScanStats last_scan() const;
  // /proc reads that failed for a reason other than the process exiting
  // (EMFILE, ENFILE, EACCES, ...), by errno name ("other" for the rest),
  // since start. Such a read never removes a worker: it keeps what was known
  // and is retried at the next scan.
  std::map<std::string, uint64_t> read_errors() const;

 private:
  // How many scans a process whose argv equals its parent's is re-read: a
  // spawn child between fork and exec looks like that for a few ms.
  static constexpr int kSameArgvRechecks = 8;

  struct Known {
    uint64_t start_time = 0;
    uint32_t ppid = 0;
    std::string comm;
    Role role = Role::kNone;
    int rechecks_left = 0;
    // For non-workers that could still exec into a server without changing
    // comm (a python launcher exec'ing "python -m uvicorn", a fork of a
    // python process caught before its exec): the command line last seen.
    std::vector<std::string> watched_argv;
  };
  // Whether a non-worker's command line is re-read every scan.
  static bool MayExecIntoServer(const std::string& comm);
  static constexpr uint64_t kFullRecheckEvery = 20;
  uint64_t scans_ = 0;  // Scan() thread only
  struct MemoEntry {
    std::optional<ProcessInfo> info;
    int error = 0;  // errno of the failed read, 0 on success
  };
  using Memo = std::unordered_map<uint32_t, MemoEntry>;

  // nullptr when the read failed; *unknown is set when it failed for a
  // reason other than the process being gone.
  const ProcessInfo* Lookup(uint32_t pid, Memo& memo, bool* unknown);
  // Counts a failed read whose cause was not an exit (Scan() thread only).
  void CountReadError(int error);
  // Classifies pid and updates known_/workers, recording changes in diff.
  // Returns true when its role changed (its children then need a look too).
  bool Reclassify(uint32_t pid, int rechecks, Memo& memo, std::map<uint32_t, Worker>& workers,
                  Diff& diff);

  ProcReader& reader_;
  ServiceNamer namer_;
  WorkerFilter filter_;  // discovery.include
  const k8s::PodResolver* pods_;
  uint64_t pods_generation_ = 0;               // Scan() thread only
  std::unordered_map<uint32_t, Known> known_;  // Scan() thread only

  mutable std::mutex mu_;
  std::map<uint32_t, Worker> workers_;           // written under mu_ by Scan() only
  ScanStats last_scan_;                          // guarded by mu_
  std::map<std::string, uint64_t> read_errors_;  // guarded by mu_
  size_t scan_read_errors_ = 0;                  // Scan() thread only, this scan
};

}  // namespace perfd
