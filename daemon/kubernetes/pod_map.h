// The pods of this node as the Kubernetes API reports them, keyed by UID:
// what a worker's cgroup (cgroup_pod.h) names becomes namespace, pod name,
// container name and the labels service naming may use. Fed by PodWatcher
// (a list, then watch events); read by discovery. Thread-safe.
//
// Memory is bounded: at most max_pods pods (a node runs ~110), only the
// label keys service naming uses, label values and names cut to
// kMaxValueBytes, at most kMaxContainersPerPod containers per pod. What is
// refused is counted (dropped()).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perfd::k8s {

inline constexpr size_t kMaxValueBytes = 253;  // a DNS subdomain; label values are <= 63
inline constexpr size_t kMaxContainersPerPod = 64;

struct PodInfo {
  std::string uid;
  std::string namespace_name;
  std::string name;
  // Only the keys PodMap was asked to keep (kubernetes.service_label_keys).
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> containers;  // container ID (hex) → container name
};

// Reads one Pod object of the API (metadata + status.*containerStatuses).
// nullopt when it has no metadata.uid. Values are cut to kMaxValueBytes.
std::optional<PodInfo> ParsePod(const nlohmann::json& pod,
                                const std::vector<std::string>& keep_labels);

class PodMap {
 public:
  PodMap(size_t max_pods, std::vector<std::string> keep_labels)
      : max_pods_(max_pods), keep_labels_(std::move(keep_labels)) {}

  enum class Result { kApplied, kBookmark, kGone, kError };

  // A PodList body: replaces every pod. Sets *resource_version
  // (metadata.resourceVersion) for the watch that follows.
  Result ApplyList(std::string_view body, std::string* resource_version, std::string* error);
  // One line of a watch stream ({"type": ..., "object": ...}). kGone: the
  // resource version is too old (410), list again. Updates
  // *resource_version on every event that carries one.
  Result ApplyWatchEvent(std::string_view line, std::string* resource_version, std::string* error);

  std::optional<PodInfo> Find(const std::string& uid) const;
  // Grows by one at every change a reader could see; discovery re-checks
  // its workers when it moved.
  uint64_t generation() const;
  bool synced() const;  // a list was applied
  size_t size() const;
  uint64_t dropped() const;  // pods refused: over max_pods

 private:
  void Put(PodInfo pod);  // under mu_

  const size_t max_pods_;
  const std::vector<std::string> keep_labels_;
  mutable std::mutex mu_;
  std::map<std::string, PodInfo> pods_;  // guarded by mu_
  uint64_t generation_ = 0;              // guarded by mu_
  uint64_t dropped_ = 0;                 // guarded by mu_
  bool synced_ = false;                  // guarded by mu_
};

}  // namespace perfd::k8s
