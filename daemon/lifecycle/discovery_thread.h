// The discovery thread: scans /proc (Discovery), reads what the lifecycle
// needs to know about new workers (WorkerInspector) — both kinds of read
// can be slow and must never delay event draining — and queues it all for
// the thread that owns the workers' lifecycle (WorkerLifecycle, on the
// event thread). The queue keeps the order of the changes across scans: a
// batch taken after several scans is still "old process out, then new
// process in" for every reused pid.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/config/config.h"
#include "daemon/discovery/discovery.h"
#include "daemon/discovery/proc_reader.h"
#include "daemon/lifecycle/worker_facts.h"
#include "daemon/lifecycle/worker_inspector.h"

namespace perfd {

class DiscoveryThread {
 public:
  // python: whether new workers' interpreters are inspected (sampling on).
  // Throws ConfigError on a bad services[].match regex. pods: see
  // Discovery (null when kubernetes.* is off); must outlive the thread.
  DiscoveryThread(const Config& config, bool python, const k8s::PodResolver* pods = nullptr);
  ~DiscoveryThread() { Stop(); }

  // Scans every discovery.scan_interval_ms until `stop` or Stop().
  void Start(const std::atomic<bool>& stop);
  void Stop();
  // One scan, on the caller's thread (the first one, before Start).
  void ScanOnce();

  // What was queued since the last Take, in order.
  Observations Take();

  std::map<std::string, uint64_t> read_errors() const { return discovery_.read_errors(); }

 private:
  const Config& config_;
  ProcReader reader_;
  Discovery discovery_;
  WorkerInspector inspector_;  // ScanOnce's thread only
  std::mutex mu_;
  Observations pending_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace perfd
