#include "daemon/lifecycle/pipeline_workers.h"

namespace perfd {

void PipelineWorkers::OnAttached(const Worker& worker, const py_offsets* sampled) {
  router_.AddWorker(worker);
  if (fetcher_) fetcher_->Request(worker.service, worker.pid);
  if (sampled) profiler_.AddProcess(worker.pid, worker.service, *sampled);
}

void PipelineWorkers::OnSampled(const Worker& worker, const py_offsets& offsets) {
  profiler_.AddProcess(worker.pid, worker.service, offsets);
}

void PipelineWorkers::OnDetached(const Worker& worker, uint64_t now_ns) {
  // Drain what the kernel already queued for it, then close its books:
  // completed requests are kept, in-flight ones reported as aborted. The
  // profiler decides its last samples before the others drop it: they may
  // listen to them (blocking events).
  drain_();
  tracker_.DropProcess(worker.pid, now_ns);
  profiler_.RemoveProcess(worker.pid, now_ns);
  for (auto& drop : also_drop_) drop(worker.pid);
  router_.ForgetWorker(worker.pid);
}

}  // namespace perfd
