// Self-metrics of the client side of the connection layer: what the kernel
// tracked, how connections were classified, what the PostgreSQL and Redis
// decoders refused or lost, and how calls were joined to requests.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "bpf/http_trace.h"
#include "daemon/exporters/self_metrics.h"
#include "daemon/pipeline/db_request_join.h"
#include "daemon/protocols/client_tracker.h"

namespace perfd {

void AddClientStats(const std::array<uint64_t, PERFD_CNT_MAX>& kernel,
                    const protocols::ClientTracker& tracker, const DbRequestJoin& join,
                    uint64_t events_dropped, uint64_t seeded, std::vector<SelfSample>* out);

}  // namespace perfd
