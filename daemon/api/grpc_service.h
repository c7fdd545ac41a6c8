// perfd.v1.Perfd: answers perfctl from the aggregator's sliding windows and
// the discovery worker set.
#pragma once

#include <cstdint>
#include <functional>

#include "daemon/aggregator/aggregator.h"
#include "daemon/api/worker_directory.h"
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

  // aggregator and workers must outlive the service.
  PerfdService(const Aggregator& aggregator, const WorkerDirectory& workers,
               uint32_t window_max_seconds, ApiClocks clocks = SystemClocks());

  // Services = aggregator services ∪ services of current workers, by name.
  grpc::Status ListServices(grpc::ServerContext* context, const v1::ListServicesRequest* request,
                            v1::ListServicesResponse* response) override;
  // NOT_FOUND for an unknown service (the message lists the known ones);
  // INVALID_ARGUMENT for an empty service or a window above the maximum.
  grpc::Status GetTop(grpc::ServerContext* context, const v1::GetTopRequest* request,
                      v1::GetTopResponse* response) override;

 private:
  const Aggregator& aggregator_;
  const WorkerDirectory& workers_;
  const uint32_t window_max_seconds_;
  const ApiClocks clocks_;
};

}  // namespace perfd
