// pid → the pod and container it runs in: the cgroup path (cgroup_pod.h)
// gives pod UID and container ID; the PodMap, when the API is watched,
// adds namespace, pod and container names and the pod's naming labels.
// Used by discovery when it classifies a worker.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "daemon/kubernetes/pod_map.h"

namespace perfd::k8s {

struct PodIdentity {
  std::string pod_uid;
  std::string container_id;
  std::string namespace_name;  // "" until the API named the pod
  std::string pod_name;
  std::string container_name;
  std::map<std::string, std::string> labels;  // the service_label_keys the pod has
};

class PodResolver {
 public:
  // map: null when the API is not watched (cgroup only). Must outlive this.
  PodResolver(std::string proc_root, const PodMap* map)
      : proc_root_(std::move(proc_root)), map_(map) {}
  virtual ~PodResolver() = default;

  // nullopt: not in a pod (or its cgroup could not be read).
  virtual std::optional<PodIdentity> Resolve(uint32_t pid) const;
  // Moves when the pod map changed (0 without one).
  virtual uint64_t generation() const { return map_ ? map_->generation() : 0; }

  // From a cgroup file's text (Resolve without the read).
  std::optional<PodIdentity> FromCgroup(const std::string& cgroup_text) const;

 private:
  const std::string proc_root_;
  const PodMap* map_;
};

}  // namespace perfd::k8s
