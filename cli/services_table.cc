#include "cli/services_table.h"

#include <set>
#include <vector>

#include "cli/text_table.h"

namespace perfd::cli {
namespace {

constexpr size_t kMaxPidsShown = 8;  // keeps a 64-worker service on one line

std::string JoinDistinct(const std::vector<std::string>& values) {
  std::set<std::string> seen;
  std::string out;
  for (const auto& v : values) {
    if (v.empty() || !seen.insert(v).second) continue;
    if (!out.empty()) out += ",";
    out += v;
  }
  return out.empty() ? "-" : out;
}

// "namespace/pod" when the API named the pod, else "pod-uid:<uid>" (the
// cgroup alone names only the UID).
std::string PodOf(const v1::Worker& w) {
  if (!w.k8s_pod().empty()) return w.k8s_namespace() + "/" + w.k8s_pod();
  return w.pod_uid().empty() ? "" : "pod-uid:" + w.pod_uid();
}

// The container name, else the first 12 hex of its ID (as crictl shows it).
std::string ContainerOf(const v1::Worker& w) {
  if (!w.k8s_container().empty()) return w.k8s_container();
  return w.container_id().substr(0, 12);
}

}  // namespace

std::string RenderServicesTable(const v1::ListServicesResponse& services) {
  using A = TextTable::Align;
  // POD and CONTAINER columns only when some worker runs in a pod: outside
  // Kubernetes the table is as it always was.
  bool pods = false;
  for (const auto& service : services.services())
    for (const auto& w : service.workers()) pods = pods || !w.pod_uid().empty();
  std::vector<TextTable::Column> columns = {{"SERVICE", A::kLeft},   {"WORKERS", A::kRight},
                                            {"REQUESTS", A::kRight}, {"SERVER", A::kLeft},
                                            {"APP", A::kLeft},       {"PIDS", A::kLeft}};
  if (pods) {
    columns.push_back({"POD", A::kLeft});
    columns.push_back({"CONTAINER", A::kLeft});
  }
  TextTable table(columns);
  for (const auto& service : services.services()) {
    std::vector<std::string> servers, apps, pod_names, containers;
    std::string pids;
    for (int i = 0; i < service.workers_size(); ++i) {
      const auto& w = service.workers(i);
      servers.push_back(w.server());
      apps.push_back(w.app_spec());
      pod_names.push_back(PodOf(w));
      containers.push_back(ContainerOf(w));
      if (static_cast<size_t>(i) < kMaxPidsShown) {
        pids += (pids.empty() ? "" : ",") + std::to_string(w.pid());
      } else if (static_cast<size_t>(i) == kMaxPidsShown) {
        pids += ",…";
      }
    }
    std::vector<std::string> row = {service.name(),
                                    std::to_string(service.workers_size()),
                                    std::to_string(service.requests_total()),
                                    JoinDistinct(servers),
                                    JoinDistinct(apps),
                                    pids.empty() ? "-" : pids};
    if (pods) {
      row.push_back(JoinDistinct(pod_names));
      row.push_back(JoinDistinct(containers));
    }
    table.AddRow(row);
  }
  std::string out = table.Render();
  if (services.services().empty()) out += "(no services traced yet)\n";
  return out;
}

}  // namespace perfd::cli
