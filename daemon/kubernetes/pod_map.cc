#include "daemon/kubernetes/pod_map.h"

#include <nlohmann/json.hpp>

namespace perfd::k8s {
namespace {

using nlohmann::json;

std::string Str(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  const auto& s = it->get_ref<const std::string&>();
  return s.substr(0, kMaxValueBytes);
}

// "containerd://<id>" → "<id>"
std::string ContainerId(const std::string& value) {
  const size_t sep = value.find("://");
  return sep == std::string::npos ? value : value.substr(sep + 3);
}

}  // namespace

std::optional<PodInfo> ParsePod(const json& pod, const std::vector<std::string>& keep_labels) {
  if (!pod.is_object()) return std::nullopt;
  const auto meta = pod.find("metadata");
  if (meta == pod.end() || !meta->is_object()) return std::nullopt;
  PodInfo info;
  info.uid = Str(*meta, "uid");
  if (info.uid.empty()) return std::nullopt;
  info.namespace_name = Str(*meta, "namespace");
  info.name = Str(*meta, "name");
  const auto labels = meta->find("labels");
  if (labels != meta->end() && labels->is_object()) {
    for (const auto& key : keep_labels) {
      const std::string v = Str(*labels, key.c_str());
      if (!v.empty()) info.labels[key] = v;
    }
  }
  const auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return info;
  for (const char* list :
       {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"}) {
    const auto cs = status->find(list);
    if (cs == status->end() || !cs->is_array()) continue;
    for (const auto& c : *cs) {
      if (!c.is_object() || info.containers.size() >= kMaxContainersPerPod) continue;
      const std::string id = ContainerId(Str(c, "containerID"));
      if (!id.empty()) info.containers[id] = Str(c, "name");
    }
  }
  return info;
}

void PodMap::Put(PodInfo pod) {
  auto it = pods_.find(pod.uid);
  if (it == pods_.end() && pods_.size() >= max_pods_) {
    ++dropped_;
    return;
  }
  const std::string uid = pod.uid;
  if (it != pods_.end()) {
    const auto& o = it->second;
    if (o.namespace_name == pod.namespace_name && o.name == pod.name && o.labels == pod.labels &&
        o.containers == pod.containers)
      return;  // a status change perfd does not use: readers need not look again
    it->second = std::move(pod);
  } else {
    pods_.emplace(uid, std::move(pod));
  }
  ++generation_;
}

PodMap::Result PodMap::ApplyList(std::string_view body, std::string* resource_version,
                                 std::string* error) {
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    *error = "pod list is not a JSON object";
    return Result::kError;
  }
  const auto items = doc.find("items");
  const auto meta = doc.find("metadata");
  if (items == doc.end() || !items->is_array() || meta == doc.end() || !meta->is_object()) {
    *error = "pod list has no items or metadata";
    return Result::kError;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, PodInfo> old;
  old.swap(pods_);
  for (const auto& item : *items) {
    if (auto pod = ParsePod(item, keep_labels_)) {
      // Unchanged pods keep their entry without a generation bump.
      auto o = old.find(pod->uid);
      if (o != old.end()) pods_.emplace(o->first, std::move(o->second)), old.erase(o);
      Put(std::move(*pod));
    }
  }
  if (!old.empty()) ++generation_;  // pods deleted while no watch ran
  if (!synced_) ++generation_;
  synced_ = true;
  *resource_version = Str(*meta, "resourceVersion");
  return Result::kApplied;
}

PodMap::Result PodMap::ApplyWatchEvent(std::string_view line, std::string* resource_version,
                                       std::string* error) {
  const json ev = json::parse(line, nullptr, false);
  if (ev.is_discarded() || !ev.is_object()) {
    *error = "watch event is not a JSON object";
    return Result::kError;
  }
  const std::string type = Str(ev, "type");
  const auto obj = ev.find("object");
  if (obj == ev.end() || !obj->is_object()) {
    *error = "watch event has no object";
    return Result::kError;
  }
  if (type == "ERROR") {
    // A Status object; 410 Gone: the resource version was compacted away.
    const auto code = obj->find("code");
    if (code != obj->end() && code->is_number_integer() && code->get<int>() == 410)
      return Result::kGone;
    *error = "watch error: " + Str(*obj, "reason") + " " + Str(*obj, "message");
    return Result::kError;
  }
  const auto meta = obj->find("metadata");
  if (meta != obj->end() && meta->is_object()) {
    const std::string rv = Str(*meta, "resourceVersion");
    if (!rv.empty()) *resource_version = rv;
  }
  if (type == "BOOKMARK") return Result::kBookmark;
  auto pod = ParsePod(*obj, keep_labels_);
  if (!pod) {
    *error = "watch event for a pod without metadata.uid";
    return Result::kError;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (type == "ADDED" || type == "MODIFIED") {
    Put(std::move(*pod));
  } else if (type == "DELETED") {
    if (pods_.erase(pod->uid) != 0) ++generation_;
  } else {
    *error = "unknown watch event type \"" + type.substr(0, 32) + "\"";
    return Result::kError;
  }
  return Result::kApplied;
}

std::optional<PodInfo> PodMap::Find(const std::string& uid) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = pods_.find(uid);
  if (it == pods_.end()) return std::nullopt;
  return it->second;
}

uint64_t PodMap::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

bool PodMap::synced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_;
}

size_t PodMap::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pods_.size();
}

uint64_t PodMap::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace perfd::k8s
