// Wires the stages of perfd together and runs them until stopped:
//   discovery (thread) → loader (BPF) → protocols (event thread) → pipeline
//   (service + route) → aggregator / exporters → gRPC API, /metrics.
#pragma once

#include <atomic>

#include "daemon/config/config.h"

namespace perfd {

// Runs until *stop becomes true (SIGTERM/SIGINT). Returns the process exit
// code; startup failures are logged with their reason and return 1.
int RunDaemon(const Config& config, const std::atomic<bool>& stop);

}  // namespace perfd
