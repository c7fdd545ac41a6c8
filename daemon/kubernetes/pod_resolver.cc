#include "daemon/kubernetes/pod_resolver.h"

#include <fcntl.h>
#include <unistd.h>

#include "daemon/kubernetes/cgroup_pod.h"

namespace perfd::k8s {

std::optional<PodIdentity> PodResolver::Resolve(uint32_t pid) const {
  const std::string path = proc_root_ + "/" + std::to_string(pid) + "/cgroup";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // A cgroup file is a few hundred bytes; 16 KiB holds any real one.
  std::string text(16384, '\0');
  size_t len = 0;
  while (len < text.size()) {
    const ssize_t n = ::read(fd, text.data() + len, text.size() - len);
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(len);
  return FromCgroup(text);
}

std::optional<PodIdentity> PodResolver::FromCgroup(const std::string& cgroup_text) const {
  const auto cg = ParseCgroupFile(cgroup_text);
  if (!cg) return std::nullopt;
  PodIdentity id;
  id.pod_uid = cg->pod_uid;
  id.container_id = cg->container_id;
  if (!map_) return id;
  const auto pod = map_->Find(cg->pod_uid);
  if (!pod) return id;
  id.namespace_name = pod->namespace_name;
  id.pod_name = pod->name;
  id.labels = pod->labels;
  const auto c = pod->containers.find(cg->container_id);
  if (c != pod->containers.end()) id.container_name = c->second;
  return id;
}

}  // namespace perfd::k8s
