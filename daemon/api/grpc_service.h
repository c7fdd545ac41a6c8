// perfd.v1.Perfd: answers perfctl from the aggregator's sliding windows, the
// Python CPU profile store and the discovery worker set.
#pragma once

#include <cstdint>
#include <functional>

#include "daemon/aggregator/aggregator.h"
#include "daemon/aggregator/blocking_window.h"
#include "daemon/aggregator/gc_windows.h"
#include "daemon/aggregator/loop_windows.h"
#include "daemon/api/gc_probe_directory.h"
#include "daemon/api/worker_directory.h"
#include "daemon/breakdown/breakdown_window.h"
#include "daemon/db/db_aggregator.h"
#include "daemon/profile/cpu_profile.h"
#include "daemon/profile/stack_table.h"
#include "perfd/v1/perfd.grpc.pb.h"

namespace perfd {

// Windows end "now" on the BPF clock, so the default reads CLOCK_MONOTONIC;
// tests inject fixed clocks.
struct ApiClocks {
  std::function<uint64_t()> monotonic_ns;  // same clock as bpf_ktime_get_ns
  std::function<int64_t()> unix_ns;        // GetTopResponse.timestamp_unix_nanos
};
ApiClocks SystemClocks();

class PerfdService final : public v1::Perfd::Service {
 public:
  static constexpr uint32_t kDefaultWindowSeconds = 60;
  static constexpr uint32_t kDefaultBlockingSites = 20;  // GetBlocking's limit 0
  // How long GetProfile waits after recording for late attribution.
  static constexpr int kAttributionSettleMs = 2500;

  // GetProfile polls for cancellation this often while it records.
  static constexpr int kCancelPollMs = 100;

  // Without Python sampling: CPU fields stay 0, GetFunctions and GetProfile
  // answer FAILED_PRECONDITION.
  PerfdService(const Aggregator& aggregator, const WorkerDirectory& workers,
               uint32_t window_max_seconds, ApiClocks clocks = SystemClocks());
  // cpu and stacks: both set, or both nullptr (sampling off). Everything
  // passed in must outlive the service.
  PerfdService(const Aggregator& aggregator, const WorkerDirectory& workers,
               uint32_t window_max_seconds, const CpuProfileStore* cpu, const StackTable* stacks,
               ApiClocks clocks = SystemClocks());

  // Database calls (GetTop's db_* fields, GetQueries). Without it (nullptr,
  // the default) those fields stay empty and GetQueries answers
  // FAILED_PRECONDITION. Call before serving; db must outlive the service.
  void SetDbAggregator(const db::DbAggregator* db) { db_ = db; }
  // Event-loop windows (GetTop's loop); nullptr: tracing is off.
  void SetLoopWindows(const LoopWindows* loop, double blocking_threshold_seconds) {
    loop_ = loop;
    loop_threshold_s_ = blocking_threshold_seconds;
  }
  // GC pauses (GetTop's gc): the windows, and each worker's probe state so
  // that "not measured" is told apart from "no pauses". Without them
  // (nullptr, the default) GetTop leaves gc unset. Call before serving;
  // both must outlive the service.
  void SetGcWindows(const GcWindows* gc, const GcProbeDirectory* probes) {
    gc_ = gc != nullptr && probes != nullptr ? gc : nullptr;
    gc_probes_ = gc_ != nullptr ? probes : nullptr;
  }
  // Blocking events (GetBlocking); nullptr: event-loop tracing is off.
  // stacks: the profiler's table for the sites' stacks, nullptr when Python
  // sampling is off. Call before serving; both must outlive the service.
  void SetBlocking(const BlockingWindow* blocking, const StackTable* stacks,
                   double threshold_seconds) {
    blocking_ = blocking;
    blocking_stacks_ = stacks;
    blocking_threshold_s_ = threshold_seconds;
  }

  // Request time breakdowns (GetBreakdown). sample_period_seconds: 0 with
  // sampling off; loop threshold: 0 with event-loop tracing off (what the
  // CPU and loop_wait parts can hold). Without it GetBreakdown answers
  // FAILED_PRECONDITION. Call before serving; it must outlive the service.
  void SetBreakdown(const breakdown::BreakdownWindow* window, double sample_period_seconds,
                    double loop_threshold_seconds) {
    breakdown_ = window;
    breakdown_period_s_ = sample_period_seconds;
    breakdown_loop_threshold_s_ = loop_threshold_seconds;
  }

  // Services = aggregator services ∪ services of current workers, by name.
  grpc::Status ListServices(grpc::ServerContext* context, const v1::ListServicesRequest* request,
                            v1::ListServicesResponse* response) override;
  // NOT_FOUND for an unknown service (the message lists the known ones);
  // INVALID_ARGUMENT for an empty service or a window above the maximum.
  grpc::Status GetTop(grpc::ServerContext* context, const v1::GetTopRequest* request,
                      v1::GetTopResponse* response) override;
  // Own / total samples per function (function, file, first line) over the
  // window; route "" = all; category "" = all, else only samples of that
  // category (an unknown name is INVALID_ARGUMENT naming the valid ones).
  // Errors as GetTop, plus FAILED_PRECONDITION when sampling is off.
  grpc::Status GetFunctions(grpc::ServerContext* context, const v1::GetFunctionsRequest* request,
                            v1::GetFunctionsResponse* response) override;
  // Blocks for duration_seconds (1 .. window max, else INVALID_ARGUMENT),
  // then returns the stacks sampled meanwhile. CANCELLED when the client
  // goes away or the server shuts down first.
  grpc::Status GetProfile(grpc::ServerContext* context, const v1::GetProfileRequest* request,
                          v1::GetProfileResponse* response) override;
  // Fingerprints by total time over the window, optionally only those a
  // route issued. Errors as GetTop, plus FAILED_PRECONDITION without DB data.
  grpc::Status GetQueries(grpc::ServerContext* context, const v1::GetQueriesRequest* request,
                          v1::GetQueriesResponse* response) override;
  // Blocking events of the window grouped by (route, kind, site), largest
  // total first; route "" = all (else as GetFunctions takes it), limit 0 =
  // 20 sites. Errors as GetTop; with tracing off an empty answer with
  // traced = false.
  grpc::Status GetBlocking(grpc::ServerContext* context, const v1::GetBlockingRequest* request,
                           v1::GetBlockingResponse* response) override;
  // Per-route breakdown of request time over the window; route "" = all,
  // "METHOD /t" or "/t" (any method). Errors as GetTop.
  grpc::Status GetBreakdown(grpc::ServerContext* context, const v1::GetBreakdownRequest* request,
                            v1::GetBreakdownResponse* response) override;

 private:
  // OK, or the status for an empty / unknown service.
  grpc::Status CheckService(const std::string& service) const;
  grpc::Status CheckWindow(uint32_t window) const;
  // The checks of a windowed request: a service is required, window 0 is
  // the default, then CheckWindow and CheckService; *window is the window.
  grpc::Status CheckWindowedRequest(const std::string& service, uint32_t window_seconds,
                                    uint32_t* window) const;
  grpc::Status CheckSampling() const;

  const Aggregator& aggregator_;
  const WorkerDirectory& workers_;
  const uint32_t window_max_seconds_;
  const CpuProfileStore* const cpu_;
  const StackTable* const stacks_;
  const ApiClocks clocks_;
  const db::DbAggregator* db_ = nullptr;
  const LoopWindows* loop_ = nullptr;
  double loop_threshold_s_ = 0;
  const GcWindows* gc_ = nullptr;
  const GcProbeDirectory* gc_probes_ = nullptr;
  const BlockingWindow* blocking_ = nullptr;
  const StackTable* blocking_stacks_ = nullptr;
  double blocking_threshold_s_ = 0;
  const breakdown::BreakdownWindow* breakdown_ = nullptr;
  double breakdown_period_s_ = 0;
  double breakdown_loop_threshold_s_ = 0;
};

}  // namespace perfd
