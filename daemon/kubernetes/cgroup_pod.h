// Which Kubernetes pod and container a process runs in, read from its
// /proc/<pid>/cgroup. The kubelet puts every container in a cgroup whose
// path names the pod UID and the container ID; the layout depends on the
// cgroup driver:
//   systemd:  .../kubepods-burstable-pod<uid with '_'>.slice/cri-containerd-<64 hex>.scope
//             (also crio-<id>.scope, docker-<id>.scope; guaranteed QoS has no
//             qos level: kubepods-pod<uid>.slice)
//   cgroupfs: .../kubepods/burstable/pod<uid>/<64 hex> (guaranteed: kubepods/pod<uid>/...)
// under any prefix (kind and k3s nest kubepods below their own cgroups; a
// reader in a private cgroup namespace sees "/../../..." paths).
//
// Without the Kubernetes API this is all perfd knows of a pod: its UID and
// the container ID. Namespace, pod and container names come from the API
// (pod_map.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace perfd::k8s {

struct CgroupPod {
  std::string pod_uid;       // lower-case, with dashes: "0f1c...-..." (or 32 hex: static pods)
  std::string container_id;  // 64 lower-case hex; "" when the path names no container
};

// Parses the whole text of /proc/<pid>/cgroup: the cgroup v2 line ("0::")
// first, then the v1 lines in order. nullopt when no line names a pod.
// The text is the traced process's (it cannot choose it, but it is read
// from a file): anything malformed is simply "no pod".
std::optional<CgroupPod> ParseCgroupFile(std::string_view text);

// One cgroup path ("/kubepods.slice/..."). nullopt when it names no pod.
std::optional<CgroupPod> ParseCgroupPath(std::string_view path);

}  // namespace perfd::k8s
