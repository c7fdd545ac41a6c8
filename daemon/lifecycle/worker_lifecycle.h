// One owner for every worker's life: attach (HTTP tracing), verify (accept
// or refuse the interpreter the discovery thread inspected), sample (Python
// stacks, request identity), detach (probes, then the event thread's
// books). It applies discovery's changes in the order they happened, on one
// thread — the event thread, which owns the decoder state a detach must
// close — so a pid's old process is always detached before the process that
// reused the pid is attached. Reads of files a worker controls are done
// ahead, on the discovery thread (worker_facts.h).
//
// Workers are identified by pid AND start time (/proc/<pid>/stat field 22).
// The kernel side traces by pid, so at most one process per pid is attached:
// an addition on a pid attached to another process detaches that one first,
// and a removal of a process that is not the one attached (already replaced)
// changes nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/api/worker_directory.h"
#include "daemon/lifecycle/worker_facts.h"
#include "daemon/lifecycle/worker_loader.h"
#include "daemon/lifecycle/worker_pipeline.h"

namespace perfd {

class WorkerLifecycle : public WorkerDirectory {
 public:
  // Both must outlive the lifecycle.
  WorkerLifecycle(WorkerLoader& loader, WorkerPipeline& pipeline)
      : loader_(loader), pipeline_(pipeline) {}

  // Applies the changes in order, then the late verifications, then the
  // uvloop sightings, then the
  // loader's per-scan upkeep (when scans were made). One thread only.
  void Apply(const Observations& observed, uint64_t now_ns);

  // The attached workers, sorted by pid: listed means traced. Any thread.
  std::vector<Worker> Workers() const override;

  // Counters; any thread.
  uint64_t python_verified() const { return verified_; }
  uint64_t python_unverified() const { return unverified_; }
  uint64_t errors() const { return errors_; }  // loader failures

 private:
  void Attach(const Worker& w, const std::optional<PythonFacts>& facts);
  void Detach(const Worker& w, uint64_t now_ns);
  // Starts sampling an attached (or being attached) worker; false when the
  // loader failed (logged, counted).
  bool StartSampling(const Worker& w, const python::PythonTarget& t, bool uses_uvloop,
                     py_offsets* offsets);

  WorkerLoader& loader_;
  WorkerPipeline& pipeline_;
  mutable std::mutex mu_;                  // guards attached_ (written by Apply's thread only)
  std::map<uint32_t, Worker> attached_;    // pid → the process attached on it
  std::set<std::string> refusals_logged_;  // Apply's thread only
  std::set<uint32_t> sampled_;             // attached pids whose stacks are sampled
  std::atomic<uint64_t> verified_{0}, unverified_{0}, errors_{0};
};

}  // namespace perfd
