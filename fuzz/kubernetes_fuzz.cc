// Kubernetes inputs perfd does not control: a /proc/<pid>/cgroup text
// (ParseCgroupFile) and Kubernetes API bodies (PodMap::ApplyList and
// ApplyWatchEvent). The first input byte picks which; the rest is the input.
// Checked: a parsed pod UID is a UUID or 32 hex and a container ID 64 hex
// (or empty); the pod map never holds more than max_pods, never a name,
// label value or container name over kMaxValueBytes, never more than
// kMaxContainersPerPod containers; nothing throws.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/kubernetes/cgroup_pod.h"
#include "daemon/kubernetes/pod_map.h"
#include "fuzz/check.h"

namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

void CheckCgroup(std::string_view text) {
  const auto pod = perfd::k8s::ParseCgroupFile(text);
  if (!pod) return;
  const std::string& uid = pod->pod_uid;
  FUZZ_CHECK(uid.size() == 36 || uid.size() == 32);
  for (size_t i = 0; i < uid.size(); ++i) {
    const bool dash = uid.size() == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
    FUZZ_CHECK(dash ? uid[i] == '-' : IsLowerHex(uid[i]));
  }
  FUZZ_CHECK(pod->container_id.empty() || pod->container_id.size() == 64);
  for (char c : pod->container_id) FUZZ_CHECK(IsLowerHex(c));
}

void CheckPodMap(std::string_view body, bool list) {
  constexpr size_t kMaxPods = 4;
  perfd::k8s::PodMap map(kMaxPods, {"app", "app.kubernetes.io/name"});
  std::string rv, error;
  if (list) {
    map.ApplyList(body, &rv, &error);
  } else {
    // A stream: every line an event, as the watch delivers them.
    size_t start = 0;
    while (start <= body.size()) {
      const size_t nl = body.find('\n', start);
      const std::string_view line =
          body.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
      map.ApplyWatchEvent(line, &rv, &error);
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }
  FUZZ_CHECK(map.size() <= kMaxPods);
  // Find() on whatever UIDs could be in it is covered by the unit tests; here
  // the bounds of what a reader gets back.
  for (const char* uid : {"u1", "u2", "0", ""}) {
    if (const auto p = map.Find(uid)) {
      FUZZ_CHECK(p->name.size() <= perfd::k8s::kMaxValueBytes);
      FUZZ_CHECK(p->namespace_name.size() <= perfd::k8s::kMaxValueBytes);
      FUZZ_CHECK(p->containers.size() <= perfd::k8s::kMaxContainersPerPod);
      FUZZ_CHECK(p->labels.size() <= 2);
      for (const auto& [k, v] : p->labels) FUZZ_CHECK(v.size() <= perfd::k8s::kMaxValueBytes);
      for (const auto& [k, v] : p->containers) FUZZ_CHECK(v.size() <= perfd::k8s::kMaxValueBytes);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      CheckCgroup(input);
      break;
    case 1:
      CheckPodMap(input, true);
      break;
    default:
      CheckPodMap(input, false);
      break;
  }
  return 0;
}
