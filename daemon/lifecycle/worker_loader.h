// The loader steps of a worker's life, as WorkerLifecycle drives them: HTTP
// tracing (the kernel's tracked_pids map) and Python sampling. An interface
// so the lifecycle's ordering is unit tested with a fake; BpfWorkerLoader is
// the real one. The kernel side keys everything by pid, which is why the
// lifecycle must end a pid's old process before it starts the new one.
// Nothing here reads files the traced process controls (worker_facts.h).
#pragma once

#include <cstdint>

#include "daemon/python/python_target.h"

namespace perfd {

class WorkerLoader {
 public:
  virtual ~WorkerLoader() = default;

  // Starts tracing the process's HTTP syscalls. Throws LoaderError.
  virtual void TrackHttp(uint32_t pid) = 0;
  // Stops it and forgets the pid's kernel-side state (connections,
  // syscall-argument entries, quota), so a reused pid starts clean.
  virtual void UntrackHttp(uint32_t pid) = 0;

  // Whether Python sampling is on at all (the sampler loaded).
  virtual bool sampling() const = 0;
  // Starts sampling a process whose interpreter was verified (and request
  // identity where configured); the task-root walk at writes is on unless
  // uvloop was seen. Throws LoaderError.
  virtual void StartSampling(uint32_t pid, const python::PythonTarget& target,
                             bool uses_uvloop) = 0;
  // uvloop showed up after StartSampling: the walk at writes goes off.
  virtual void UvloopSeen(uint32_t pid) = 0;
  // Detaches everything sampling attached to the pid (threads, context
  // probe, pending request-identity checks). A no-op for a pid not sampled.
  virtual void StopSampling(uint32_t pid) = 0;

  // Once per batch of discovery scans: threads started or exited in sampled
  // processes, request-identity re-checks, the periodic stash sweep.
  virtual void Upkeep(uint64_t scans) = 0;
};

}  // namespace perfd
