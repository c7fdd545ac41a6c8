// A uvicorn worker process perfd traces. Discovery produces these; the rest
// of the daemon keys everything by pid and groups by service.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perfd {

// The pod a worker runs in, as metric labels see it (Worker's k8s_*; the
// pipeline hands a pointer to it along with each request and DB call).
struct WorkerPod {
  std::string k8s_namespace;
  std::string k8s_pod;
};

struct Worker {
  uint32_t pid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22: tells pid reuse apart
  std::string service;      // resolved service name (see discovery/service_namer.h)
  std::string app_spec;     // ASGI app, e.g. "shop.main:app"
  std::string server;       // "uvicorn" or "gunicorn"
  std::vector<std::string> argv;
  // Kubernetes (kubernetes.* config; all empty outside a pod): pod UID and
  // container ID from the cgroup path, names from the API when it is
  // watched (daemon/kubernetes/).
  std::string pod_uid;
  std::string container_id;
  std::string k8s_namespace;
  std::string k8s_pod;
  std::string k8s_container;

  bool SamePod(const Worker& o) const {
    return pod_uid == o.pod_uid && container_id == o.container_id &&
           k8s_namespace == o.k8s_namespace && k8s_pod == o.k8s_pod &&
           k8s_container == o.k8s_container;
  }
};

}  // namespace perfd
