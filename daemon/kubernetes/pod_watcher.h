// Keeps a PodMap current with the pods of this node: list
// /api/v1/pods?fieldSelector=spec.nodeName=<node>, then watch from the
// list's resourceVersion; a 410 Gone (the version was compacted away) or a
// broken stream lists again. Errors back off (1 s doubling to 30 s), are
// counted by kind, and logged once per change of state (failing → working
// → failing), never fatal: without the API, workers keep the pod UID and
// container ID their cgroup names. Runs on its own thread: nothing here
// can block discovery or the event loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/kubernetes/api_client.h"
#include "daemon/kubernetes/pod_map.h"

namespace perfd::k8s {

class PodWatcher {
 public:
  // The map must outlive the watcher.
  PodWatcher(ApiEndpoint endpoint, std::string node_name, PodMap& map);
  ~PodWatcher() { Stop(); }

  void Start();
  void Stop();
  // Waits until the first list was applied or the timeout passed.
  bool WaitSynced(std::chrono::milliseconds timeout);

  // Failures since start by kind: "list", "watch", "gone" (410, re-listed),
  // "event" (an event perfd could not read). Any thread.
  std::map<std::string, uint64_t> failures() const;

 private:
  void Run();
  void Fail(const std::string& kind, const std::string& message);
  void Working();
  void Backoff();
  // One list + watch cycle; returns when it must list again.
  void ListAndWatch();

  const std::string node_name_;
  PodMap& map_;
  std::atomic<bool> stop_{false};
  ApiClient client_;
  std::chrono::seconds backoff_{1};
  bool failing_ = false;  // Run() thread only: for once-per-state logging
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, uint64_t> failures_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace perfd::k8s
