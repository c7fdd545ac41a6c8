// The real WorkerPipeline: the event thread's per-worker state. A new
// worker joins the request router (pid → service), gets its OpenAPI document
// fetched and, when sampled, the profiler; a gone one is drained from the
// ring buffers first, so its last requests still reach its service, then
// dropped everywhere. Event thread only.
#pragma once

#include <functional>
#include <vector>

#include "daemon/lifecycle/worker_pipeline.h"
#include "daemon/pipeline/openapi_fetcher.h"
#include "daemon/pipeline/request_router.h"
#include "daemon/profile/python_profiler.h"
#include "daemon/protocols/http/http_tracker.h"

namespace perfd {

class PipelineWorkers : public WorkerPipeline {
 public:
  // fetcher is null when OpenAPI fetching is off; drain polls the ring
  // buffers without waiting. All must outlive this.
  PipelineWorkers(RequestRouter& router, http::HttpTracker& tracker, PythonProfiler& profiler,
                  OpenApiFetcher* fetcher, std::function<void()> drain)
      : router_(router),
        tracker_(tracker),
        profiler_(profiler),
        fetcher_(fetcher),
        drain_(std::move(drain)) {}

  void OnAttached(const Worker& worker, const py_offsets* sampled) override;
  void OnSampled(const Worker& worker, const py_offsets& offsets) override;
  void OnDetached(const Worker& worker, uint64_t now_ns) override;
  // More per-worker state to drop when a worker goes (client connections,
  // requests awaiting their database calls); run after the HTTP tracker
  // closed the worker's requests, while its pid still names its service.
  void AlsoDrop(std::function<void(uint32_t pid)> fn) { also_drop_.push_back(std::move(fn)); }

 private:
  RequestRouter& router_;
  http::HttpTracker& tracker_;
  PythonProfiler& profiler_;
  OpenApiFetcher* fetcher_;
  std::function<void()> drain_;
  std::vector<std::function<void(uint32_t)>> also_drop_;
};

}  // namespace perfd
