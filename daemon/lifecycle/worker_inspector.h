// The discovery thread's reads for the lifecycle (worker_facts.h): for each
// added worker, its interpreter (python::InspectPython) and whether uvloop is
// mapped; for workers seen without uvloop, a re-check on each of the next
// kLoopRechecks scans (uvicorn imports uvloop while it starts); for workers
// whose interpreter was refused only because no frame chain could be
// followed at that moment (a process starting up or forking), inspected
// again on each of the next kWalkRechecks scans until it verifies. A fact is
// kept only if the pid still belongs to the same process (start time) after
// the read. Discovery thread only.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "daemon/discovery/proc_reader.h"
#include "daemon/lifecycle/worker_facts.h"

namespace perfd {

class WorkerInspector {
 public:
  // python: whether Python sampling is on (else nothing is inspected).
  WorkerInspector(const ProcReader& reader, bool python) : reader_(reader), python_(python) {}

  // Adds facts to one scan's changes (additions), re-checks young workers
  // for uvloop (appending sightings) and transiently refused interpreters
  // (appending late verifications).
  std::vector<ObservedChange> Observe(const std::vector<WorkerChange>& changes,
                                      std::vector<UvloopSighting>* uvloop_seen,
                                      std::vector<LateVerification>* verified_late);

 private:
  PythonFacts Inspect(const Worker& w);
  bool StillSame(uint32_t pid, uint64_t start_time) const;

  static constexpr int kLoopRechecks = 40;  // ~10 s at the default scan interval
  static constexpr int kWalkRechecks = 40;
  struct WalkRecheck {
    Worker worker;
    int left = kWalkRechecks;
  };
  const ProcReader& reader_;
  bool python_;
  std::map<std::pair<uint32_t, uint64_t>, int> loop_rechecks_;  // (pid, start) → scans left
  std::map<std::pair<uint32_t, uint64_t>, WalkRecheck> walk_rechecks_;
};

// Whether uvloop's extension is mapped in the process. uvloop flushes
// transport writes from its own loop, outside the task that wrote: a
// task-root walk at the write syscall finds nothing there.
bool UsesUvloop(uint32_t pid);

}  // namespace perfd
