// The event thread's per-worker state (request router, HTTP connection
// books, profiler, OpenAPI fetch), as WorkerLifecycle drives it. An
// interface so the lifecycle's ordering is unit tested with a fake;
// PipelineWorkers is the real one.
#pragma once

#include <cstdint>

#include "bpf/python.h"
#include "daemon/discovery/worker.h"

namespace perfd {

class WorkerPipeline {
 public:
  virtual ~WorkerPipeline() = default;
  // The worker is traced from now on; `sampled` holds its verified
  // interpreter offsets when its Python stacks are sampled, else null.
  virtual void OnAttached(const Worker& worker, const py_offsets* sampled) = 0;
  // An attached worker's Python stacks are sampled from now on (its
  // interpreter verified only after it was attached).
  virtual void OnSampled(const Worker& worker, const py_offsets& offsets) = 0;
  // The worker is gone and its probes are detached: what the kernel already
  // queued for it is drained, its completed requests are kept, in-flight
  // ones reported as aborted.
  virtual void OnDetached(const Worker& worker, uint64_t now_ns) = 0;
};

}  // namespace perfd
