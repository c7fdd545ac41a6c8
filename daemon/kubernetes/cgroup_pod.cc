#include "daemon/kubernetes/cgroup_pod.h"

#include <vector>

namespace perfd::k8s {
namespace {

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool AllHex(std::string_view s) {
  for (char c : s)
    if (!IsHex(c)) return false;
  return !s.empty();
}

bool ConsumeSuffix(std::string_view& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  return true;
}

bool ConsumePrefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// A pod UID as the kubelet writes it: a UUID (8-4-4-4-12 hex; the systemd
// driver writes '_' for '-') or, for static pods, a 32-hex config hash.
std::optional<std::string> PodUid(std::string_view s) {
  std::string uid(s);
  for (char& c : uid)
    if (c == '_') c = '-';
  if (uid.size() == 32 && AllHex(uid)) return uid;
  if (uid.size() != 36) return std::nullopt;
  for (size_t i = 0; i < uid.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? uid[i] != '-' : !IsHex(uid[i])) return std::nullopt;
  }
  return uid;
}

// The pod UID a path component names, if any: "pod<uid>" (cgroupfs) or
// "<anything>-pod<uid>.slice" (systemd).
std::optional<std::string> PodOfComponent(std::string_view c) {
  if (ConsumeSuffix(c, ".slice")) {
    const size_t at = c.rfind("-pod");
    if (at == std::string_view::npos) return std::nullopt;
    return PodUid(c.substr(at + 4));
  }
  if (!ConsumePrefix(c, "pod")) return std::nullopt;
  return PodUid(c);
}

// The container ID a component names: "<64 hex>" (cgroupfs) or
// "<runtime>-<64 hex>.scope" (systemd). crio's "crio-conmon-<id>.scope"
// is its monitor process, not the container.
std::string ContainerOfComponent(std::string_view c) {
  if (ConsumeSuffix(c, ".scope")) {
    if (!ConsumePrefix(c, "cri-containerd-") && !ConsumePrefix(c, "crio-") &&
        !ConsumePrefix(c, "docker-") && !ConsumePrefix(c, "containerd-"))
      return "";
  }
  return c.size() == 64 && AllHex(c) ? std::string(c) : "";
}

}  // namespace

std::optional<CgroupPod> ParseCgroupPath(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  // The pod must sit below a kubepods cgroup: "pod<uuid>" alone is too
  // weak a sign (any tool may name a cgroup that way). Except in a path
  // that climbs out of the reader's cgroup namespace ("/../../pod<uid>/<id>":
  // perfd in a pod of its own, cgroupfs driver): the kubepods level is above
  // what perfd can see, and only cgroups of other pods are reached that way.
  bool under_kubepods = !parts.empty() && parts[0] == "..";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].find("kubepods") != std::string_view::npos && !under_kubepods) {
      under_kubepods = true;
      if (auto uid = PodOfComponent(parts[i])) {
        // systemd driver: "kubepods-pod<uid>.slice" is both.
        return CgroupPod{*uid, i + 1 < parts.size() ? ContainerOfComponent(parts[i + 1]) : ""};
      }
      continue;
    }
    if (!under_kubepods) continue;
    if (auto uid = PodOfComponent(parts[i])) {
      return CgroupPod{*uid, i + 1 < parts.size() ? ContainerOfComponent(parts[i + 1]) : ""};
    }
  }
  return std::nullopt;
}

std::optional<CgroupPod> ParseCgroupFile(std::string_view text) {
  std::vector<std::string_view> v1_paths;
  std::optional<CgroupPod> v2;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    // "hierarchy-ID:controller-list:cgroup-path"; the path may contain ':'.
    const size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    const size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, c1);
    const std::string_view path = line.substr(c2 + 1);
    if (id == "0" && c2 == c1 + 1) {
      if ((v2 = ParseCgroupPath(path))) return v2;
    } else {
      v1_paths.push_back(path);
    }
  }
  for (const auto& path : v1_paths)
    if (auto pod = ParseCgroupPath(path)) return pod;
  return std::nullopt;
}

}  // namespace perfd::k8s
