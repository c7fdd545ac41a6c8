#include "daemon/lifecycle/discovery_thread.h"

#include <chrono>
#include <utility>
#include <vector>

namespace perfd {

DiscoveryThread::DiscoveryThread(const Config& config, bool python, const k8s::PodResolver* pods)
    : config_(config), discovery_(config, reader_, pods), inspector_(reader_, python) {}

void DiscoveryThread::Start(const std::atomic<bool>& stop) {
  thread_ = std::thread([this, &stop] {
    while (!stop && !stopping_) {
      ScanOnce();
      std::this_thread::sleep_for(std::chrono::milliseconds(config_.scan_interval_ms));
    }
  });
}

void DiscoveryThread::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void DiscoveryThread::ScanOnce() {
  const Discovery::Diff diff = discovery_.Scan();
  std::vector<UvloopSighting> uvloop_seen;
  std::vector<LateVerification> verified_late;
  std::vector<ObservedChange> observed =
      inspector_.Observe(diff.changes, &uvloop_seen, &verified_late);
  std::lock_guard<std::mutex> lock(mu_);
  ++pending_.scans;
  for (auto& o : observed) pending_.changes.push_back(std::move(o));
  for (const auto& s : uvloop_seen) pending_.uvloop_seen.push_back(s);
  for (auto& v : verified_late) pending_.verified_late.push_back(std::move(v));
}

Observations DiscoveryThread::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(pending_, {});
}

}  // namespace perfd
