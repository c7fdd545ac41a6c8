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

}  // namespace

std::string RenderServicesTable(const v1::ListServicesResponse& services) {
  using A = TextTable::Align;
  TextTable table({{"SERVICE", A::kLeft},
                   {"WORKERS", A::kRight},
                   {"REQUESTS", A::kRight},
                   {"SERVER", A::kLeft},
                   {"APP", A::kLeft},
                   {"PIDS", A::kLeft}});
  for (const auto& service : services.services()) {
    std::vector<std::string> servers, apps;
    std::string pids;
    for (int i = 0; i < service.workers_size(); ++i) {
      const auto& w = service.workers(i);
      servers.push_back(w.server());
      apps.push_back(w.app_spec());
      if (static_cast<size_t>(i) < kMaxPidsShown) {
        pids += (pids.empty() ? "" : ",") + std::to_string(w.pid());
      } else if (static_cast<size_t>(i) == kMaxPidsShown) {
        pids += ",…";
      }
    }
    table.AddRow({service.name(), std::to_string(service.workers_size()),
                  std::to_string(service.requests_total()), JoinDistinct(servers),
                  JoinDistinct(apps), pids.empty() ? "-" : pids});
  }
  std::string out = table.Render();
  if (services.services().empty()) out += "(no services traced yet)\n";
  return out;
}

}  // namespace perfd::cli
