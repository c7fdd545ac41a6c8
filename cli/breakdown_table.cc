#include "cli/breakdown_table.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "cli/breakdown_parts.h"
#include "cli/clock_time.h"
#include "cli/terminal_text.h"
#include "cli/text_table.h"
#include "cli/top_table.h"

namespace perfd::cli {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

using Key = std::function<double(const v1::RouteBreakdown&)>;

// nullopt-free: "time" for anything unknown.
Key KeyFor(const std::string& name) {
  if (name == "reqs") return [](const auto& r) { return static_cast<double>(r.requests()); };
  if (name == "total") return [](const auto& r) { return r.mean_seconds(); };
  for (const PartName& p : kParts) {
    if (name == Lower(p.column)) {
      const std::string part = p.part;
      return [part](const auto& r) { return PartMean(r, part); };
    }
  }
  return [](const auto& r) { return r.mean_seconds() * static_cast<double>(r.requests()); };
}

bool IsCpuPart(const PartName& p) { return p.category != nullptr; }

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + EscapeForTerminal(n);
  return out;
}

// The request-weighted means of every route: the service's breakdown.
v1::RouteBreakdown AllRoutes(const v1::GetBreakdownResponse& b) {
  v1::RouteBreakdown all;
  all.set_route("(all routes)");
  double latency = 0;
  std::vector<double> parts(kNumParts, 0.0);
  for (const auto& r : b.routes()) {
    const double w = static_cast<double>(r.requests());
    all.set_requests(all.requests() + r.requests());
    latency += r.mean_seconds() * w;
    for (size_t i = 0; i < kNumParts; ++i) parts[i] += PartMean(r, kParts[i].part) * w;
  }
  const double n = static_cast<double>(all.requests());
  if (n == 0) return all;
  all.set_mean_seconds(latency / n);
  for (size_t i = 0; i < kNumParts; ++i) {
    v1::BreakdownPart* p = all.add_parts();
    p->set_part(kParts[i].part);
    p->set_mean_seconds(parts[i] / n);
  }
  return all;
}

// What the columns mean, and where time goes that a perfd did not measure.
std::string Notes(const v1::GetBreakdownResponse& b, const BreakdownTableOptions& options) {
  std::string out = "ms per request, mean over the window; the parts add up to TOTAL.\n";
  if (b.sample_period_seconds() > 0) {
    out += "AUTH..APP: Python CPU by category, from samples (each stands for " +
           FormatLatency(b.sample_period_seconds()) + " of CPU).\n";
  }
  if (b.blocking_threshold_seconds() > 0) {
    out +=
        "LOOP: waiting for the event loop: to read a reply that had arrived, or behind other "
        "code holding it (>= " +
        FormatLatency(b.blocking_threshold_seconds()) + ").\n";
  }
  if (!(b.sample_period_seconds() > 0)) {
    out +=
        "AUTH..APP blank: Python sampling is off in this perfd (python.sampling), so CPU time is "
        "in OTHER.\n";
  } else if (!options.unsampled_nodes.empty()) {
    out += "AUTH..APP undercount: Python sampling is off on " + Join(options.unsampled_nodes) +
           "; CPU time there is in OTHER.\n";
  }
  if (!(b.blocking_threshold_seconds() > 0)) {
    out +=
        "LOOP: only waits to read replies that had arrived: event-loop tracing is off in this "
        "perfd (event_loop.enabled), so waiting behind other code's blocking is in OTHER.\n";
  } else if (!options.untraced_loop_nodes.empty()) {
    out += "LOOP undercounts: event-loop tracing is off on " + Join(options.untraced_loop_nodes) +
           "; waiting behind blocking there is in OTHER.\n";
  }
  return out;
}

}  // namespace

std::vector<std::string> BreakdownSortKeyNames() {
  std::vector<std::string> names = {"time", "reqs", "total", "route"};
  for (const PartName& p : kParts) names.push_back(Lower(p.column));
  return names;
}

bool IsBreakdownSortKey(const std::string& name) {
  const auto names = BreakdownSortKeyNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<v1::RouteBreakdown> SortBreakdownRoutes(const v1::GetBreakdownResponse& breakdown,
                                                    const std::string& key) {
  std::vector<v1::RouteBreakdown> routes(breakdown.routes().begin(), breakdown.routes().end());
  if (key == "route") {
    std::stable_sort(routes.begin(), routes.end(),
                     [](const auto& a, const auto& b) { return a.route() < b.route(); });
    return routes;
  }
  const Key value = KeyFor(key);
  std::stable_sort(routes.begin(), routes.end(), [&](const auto& a, const auto& b) {
    const double va = value(a), vb = value(b);
    if (va != vb) return va > vb;
    return a.route() < b.route();
  });
  return routes;
}

std::string RenderBreakdownTable(const v1::GetBreakdownResponse& b,
                                 const BreakdownTableOptions& options) {
  const bool cpu = b.sample_period_seconds() > 0;
  const v1::RouteBreakdown all = AllRoutes(b);

  std::string out = "service " + EscapeForTerminal(b.service()) + "   window " +
                    std::to_string(b.window_seconds()) + "s";
  if (options.route_nodes) out += "   nodes " + std::to_string(options.nodes);
  out += "   requests " + std::to_string(all.requests());
  if (const std::string at = ClockTime(b.timestamp_unix_nanos()); !at.empty()) out += "   at " + at;
  out += "\n" + RenderPartialLine(options.failed_nodes, options.nodes) + "\n";

  using A = TextTable::Align;
  std::vector<TextTable::Column> columns = {{"ROUTE", A::kLeft}};
  if (options.route_nodes) columns.push_back({"NODES", A::kRight});
  columns.push_back({"REQS", A::kRight});
  for (const PartName& p : kParts) columns.push_back({p.column, A::kRight});
  columns.push_back({"TOTAL", A::kRight});
  TextTable table(std::move(columns));

  auto add_row = [&](const v1::RouteBreakdown& r, const std::string& nodes) {
    std::vector<std::string> row = {r.route()};
    if (options.route_nodes) row.push_back(nodes);
    row.push_back(std::to_string(r.requests()));
    for (const PartName& p : kParts) {
      // Blank, not 0: the time was not measured (it is in OTHER).
      const bool unmeasured = IsCpuPart(p) && !cpu;
      row.push_back(unmeasured ? "" : FormatMs(PartMean(r, p.part)));
    }
    row.push_back(FormatMs(r.mean_seconds()));
    table.AddRow(std::move(row));
  };

  const std::vector<v1::RouteBreakdown> routes = SortBreakdownRoutes(b, options.sort);
  const size_t shown = options.limit == 0 ? routes.size() : std::min(options.limit, routes.size());
  for (size_t i = 0; i < shown; ++i) {
    std::string nodes;
    if (options.route_nodes) {
      const auto it = options.route_nodes->find(routes[i].route());
      nodes = std::to_string(it == options.route_nodes->end() ? 0 : it->second.size());
    }
    add_row(routes[i], nodes);
  }
  if (routes.size() >= 2) add_row(all, std::to_string(options.nodes));
  out += table.Render();
  if (routes.empty()) {
    out += "(no requests in the last " + std::to_string(b.window_seconds()) + "s)\n";
  } else if (shown < routes.size()) {
    out += "(" + std::to_string(routes.size() - shown) + " more routes; --limit 0 shows all)\n";
  }
  return out + "\n" + Notes(b, options);
}

}  // namespace perfd::cli
