#include "cli/top_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <tuple>

#include "cli/blocking_table.h"
#include "cli/clock_time.h"
#include "cli/db_text.h"
#include "cli/terminal_text.h"
#include "cli/text_table.h"

namespace perfd::cli {
namespace {

struct SortKeyName {
  const char* name;
  SortKey key;
};
constexpr SortKeyName kSortKeys[] = {
    {"rps", SortKey::kRps},          {"p50", SortKey::kP50},           {"p90", SortKey::kP90},
    {"p99", SortKey::kP99},          {"max", SortKey::kMax},           {"queue", SortKey::kQueue},
    {"errors", SortKey::kErrors},    {"inflight", SortKey::kInflight}, {"cpu", SortKey::kCpu},
    {"cpureq", SortKey::kCpuPerReq}, {"route", SortKey::kRoute},
};

std::string Printf(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

// value in [1, 1000) after rounding to 3 significant digits, else nullopt.
std::optional<std::string> ThreeDigits(double value) {
  for (int decimals = 2; decimals >= 0; --decimals) {
    const double limit = std::pow(10.0, 3 - decimals);  // 10, 100, 1000
    const std::string text = Printf(("%." + std::to_string(decimals) + "f").c_str(), value);
    const double rounded = std::strtod(text.c_str(), nullptr);
    if (rounded < 1.0) return std::nullopt;
    if (rounded < limit) return text;
  }
  return std::nullopt;
}

using Key = std::function<double(const v1::RouteStats&)>;

Key KeyFor(SortKey key) {
  switch (key) {
    case SortKey::kRps:
      return [](const v1::RouteStats& r) { return r.requests_per_second(); };
    case SortKey::kP50:
      return [](const v1::RouteStats& r) { return r.p50_seconds(); };
    case SortKey::kP90:
      return [](const v1::RouteStats& r) { return r.p90_seconds(); };
    case SortKey::kP99:
      return [](const v1::RouteStats& r) { return r.p99_seconds(); };
    case SortKey::kMax:
      return [](const v1::RouteStats& r) { return r.max_seconds(); };
    case SortKey::kQueue:
      return [](const v1::RouteStats& r) { return r.queue_p50_seconds(); };
    case SortKey::kErrors:
      return [](const v1::RouteStats& r) { return r.error_ratio(); };
    case SortKey::kInflight:
      return [](const v1::RouteStats& r) { return static_cast<double>(r.in_flight()); };
    case SortKey::kCpu:
      return [](const v1::RouteStats& r) { return r.cpu_seconds(); };
    case SortKey::kCpuPerReq:
      return [](const v1::RouteStats& r) { return r.cpu_seconds_per_request(); };
    case SortKey::kRoute:
      break;
  }
  return [](const v1::RouteStats&) { return 0.0; };
}

double CategorySeconds(const v1::RouteStats& r, const char* category) {
  const auto& by_category = r.cpu_seconds_by_category();
  auto it = by_category.find(category);
  return it == by_category.end() ? 0.0 : it->second;
}

// GC pauses are a small share of wall time: two decimals below 1%.
std::string FormatSmallPercent(double part, double whole) {
  if (!(whole > 0) || !(part > 0)) return "0%";
  const double percent = part / whole * 100;
  if (percent < 0.005) return "<0.01%";
  if (percent < 1) return Printf("%.2f", percent) + "%";
  if (percent < 10) return Printf("%.1f", percent) + "%";
  return Printf("%.0f", percent) + "%";
}

std::string Workers(uint32_t n) { return std::to_string(n) + (n == 1 ? " worker" : " workers"); }

// Why workers' pauses are not measured, one clause per reason present.
std::string UnmeasuredReasons(const v1::GcStats& gc) {
  std::vector<std::string> parts;
  if (gc.workers_no_usdt() > 0)
    parts.push_back("the interpreter has no gc__start/gc__done USDT probes (" +
                    Workers(gc.workers_no_usdt()) + ")");
  if (gc.workers_failed() > 0)
    parts.push_back("the GC probes failed to attach (" + Workers(gc.workers_failed()) +
                    "; see perfd's log)");
  if (gc.workers_unsampled() > 0)
    parts.push_back("not sampled (" + Workers(gc.workers_unsampled()) + ")");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::string GenerationLabel(const std::string& generation) {
  return generation == "_OTHER" ? "other" : "gen" + EscapeForTerminal(generation);
}

}  // namespace

const CategoryColumn kCategoryColumns[6] = {
    {"AUTH%", "auth"}, {"VALID%", "validation"}, {"SER%", "serialization"},
    {"DB%", "db"},     {"FW%", "framework"},     {"APP%", "app"},
};

std::string FormatShare(double part, double whole) {
  if (!(whole > 0)) return "-";
  if (!(part > 0)) return "0%";
  // Half rounds up (printf would round 0.5 to even, i.e. to "0%").
  const double percent = std::round(part / whole * 100);
  if (percent < 1) return "<1%";
  return Printf("%.0f", percent) + "%";
}

std::optional<SortKey> ParseSortKey(const std::string& name) {
  for (const auto& entry : kSortKeys) {
    if (name == entry.name) return entry.key;
  }
  return std::nullopt;
}

std::vector<std::string> SortKeyNames() {
  std::vector<std::string> names;
  for (const auto& entry : kSortKeys) names.emplace_back(entry.name);
  return names;
}

std::string FormatLatency(double seconds) {
  if (!(seconds > 0)) return "0";
  // Microseconds are whole: sub-µs precision is noise for HTTP latency.
  const double us = std::round(seconds * 1e6);
  if (us < 1) return "<1µs";
  if (us < 1000) return Printf("%.0f", us) + "µs";
  // Rounding may carry into the next unit (999.6ms is "1.00s"), which
  // ThreeDigits reports by returning nullopt.
  if (auto ms = ThreeDigits(seconds * 1e3)) return *ms + "ms";
  if (auto s = ThreeDigits(seconds)) return *s + "s";
  return Printf("%.0f", seconds) + "s";
}

std::string FormatRate(double per_second) {
  if (!(per_second > 0)) return "0";
  if (per_second < 1) return Printf("%.2f", per_second);
  if (per_second < 100) return Printf("%.1f", per_second);
  return Printf("%.0f", per_second);
}

std::string FormatErrorPercent(double ratio) {
  if (!(ratio > 0)) return "0.0%";
  const double percent = ratio * 100;
  if (percent < 0.05) return "<0.1%";
  return Printf("%.1f", percent) + "%";
}

std::string RouteLabel(const v1::RouteStats& route) {
  return route.method().empty() ? route.route() : route.method() + " " + route.route();
}

std::vector<v1::RouteStats> SortRoutes(const v1::GetTopResponse& top, SortKey key) {
  std::vector<v1::RouteStats> routes(top.routes().begin(), top.routes().end());
  auto by_name = [](const v1::RouteStats& a, const v1::RouteStats& b) {
    return std::tie(a.route(), a.method()) < std::tie(b.route(), b.method());
  };
  if (key == SortKey::kRoute) {
    std::stable_sort(routes.begin(), routes.end(), by_name);
    return routes;
  }
  const Key value = KeyFor(key);
  std::stable_sort(routes.begin(), routes.end(), [&](const auto& a, const auto& b) {
    const double va = value(a), vb = value(b);
    if (va != vb) return va > vb;
    if (key == SortKey::kErrors && a.errors() != b.errors()) return a.errors() > b.errors();
    return by_name(a, b);
  });
  return routes;
}

std::string RenderLoopLine(const v1::GetTopResponse& top, int workers) {
  if (!top.has_loop() || !top.loop().traced() || top.window_seconds() == 0) return "";
  const v1::EventLoopStats& l = top.loop();
  const double window = top.window_seconds();
  std::string out = "loop    busy ";
  if (workers > 0)
    out += FormatShare(l.busy_seconds(), window * workers) + " of " + std::to_string(workers) +
           (workers == 1 ? " loop" : " loops");
  else
    out += FormatShare(l.busy_seconds(), window) + " of one loop (summed over workers)";
  out += "   blocking " + FormatRate(60.0 * double(l.blocking_events()) / window) +
         "/min (>= " + FormatLatency(l.blocking_threshold_seconds()) + ")";
  if (l.blocking_events() > 0) out += "   worst " + FormatLatency(l.worst_blocking_seconds());
  out += "\n";
  // What to look at first: the site that held the loop longest.
  if (l.has_top_blocking() && l.top_blocking().events() > 0) {
    const v1::BlockingSite& s = l.top_blocking();
    out += "        top blocker " +
           EscapeForTerminal(s.site().empty() ? std::string("(no stack)") : s.site()) + "  " +
           EscapeForTerminal(s.route()) + "  " + KindLabel(s) + "  " + std::to_string(s.events()) +
           (s.events() == 1 ? " event, " : " events, ") + FormatLatency(s.total_seconds()) +
           "; others waited " + FormatLatency(s.victim_wait_seconds()) + "  (perfctl blocking)\n";
  }
  return out;
}

std::string RenderGcLine(const v1::GetTopResponse& top) {
  if (!top.has_gc()) return "";
  const v1::GcStats& gc = top.gc();
  const uint32_t unmeasured = gc.workers_no_usdt() + gc.workers_failed() + gc.workers_unsampled();
  if (gc.workers_attached() == 0 && gc.pauses() == 0) {
    // Zero would be a lie: nothing could have seen a collection.
    if (unmeasured == 0) return "";
    return "gc      unknown: " + UnmeasuredReasons(gc) + "\n";
  }
  std::string out =
      "gc      " + std::to_string(gc.pauses()) + (gc.pauses() == 1 ? " pause" : " pauses");
  if (gc.pauses() > 0) {
    out += ", " + FormatLatency(gc.total_seconds()) + " total";
    // Workers gone since (attached 0) leave no wall time to compare with.
    const double wall = double(top.window_seconds()) * gc.workers_attached();
    if (wall > 0) out += " (" + FormatSmallPercent(gc.total_seconds(), wall) + " of wall)";
    out += ", max " + FormatLatency(gc.max_seconds());
    std::string generations;
    for (const auto& g : gc.generations()) {
      generations += (generations.empty() ? "" : ", ") + GenerationLabel(g.generation()) + " " +
                     std::to_string(g.pauses());
    }
    if (!generations.empty()) out += "; " + generations;
  }
  if (unmeasured > 0) out += "; not measured: " + UnmeasuredReasons(gc);
  return out + "\n";
}

std::string RenderPartialLine(const std::vector<std::string>& failed_nodes, size_t answered) {
  if (failed_nodes.empty()) return "";
  std::string names;
  for (const auto& node : failed_nodes)
    names += (names.empty() ? "" : ", ") + EscapeForTerminal(node);
  return "PARTIAL: no answer from " + names + " (" + std::to_string(answered) + " of " +
         std::to_string(answered + failed_nodes.size()) +
         " nodes answered; their numbers are left out)\n";
}

std::string RenderTopTable(const v1::GetTopResponse& top, const TopTableOptions& options) {
  const bool cpu = top.sample_period_seconds() > 0;
  double total_rps = 0, total_cpu = 0;
  bool db = false;  // DB columns only when perfd sent DB data
  for (const auto& route : top.routes()) {
    total_rps += route.requests_per_second();
    total_cpu += route.cpu_seconds();
    db = db || route.db_requests() > 0 || route.db_calls() > 0;
  }

  std::string out = "service " + EscapeForTerminal(top.service()) + "   window " +
                    std::to_string(top.window_seconds()) + "s";
  if (options.workers >= 0) out += "   workers " + std::to_string(options.workers);
  if (options.route_nodes) out += "   nodes " + std::to_string(options.nodes);
  out += "   total " + FormatRate(total_rps) + " req/s";
  if (cpu && top.window_seconds() > 0) {
    out += "   cpu " + FormatShare(total_cpu, top.window_seconds()) + " of a core";
    // How much of the request CPU is joined to its request exactly (the
    // rest by time, or "(unattributed)").
    if (total_cpu > 0) out += "   exact " + FormatShare(top.cpu_exact_share(), 1);
  }
  if (const std::string at = ClockTime(top.timestamp_unix_nanos()); !at.empty()) {
    out += "   at " + at;
  }
  out += "\n";
  out += RenderLoopLine(top, options.workers);
  out += RenderGcLine(top);
  out += RenderPartialLine(options.failed_nodes, options.nodes);
  out += "\n";

  using A = TextTable::Align;
  std::vector<TextTable::Column> columns = {
      {"ROUTE", A::kLeft}, {"REQ/S", A::kRight}, {"ERR%", A::kRight},
      {"P50", A::kRight},  {"P90", A::kRight},   {"P99", A::kRight},
      {"MAX", A::kRight},  {"QUEUE", A::kRight}, {"INFLIGHT", A::kRight}};
  if (options.route_nodes) columns.insert(columns.begin() + 1, {"NODES", A::kRight});
  if (db) {
    columns.push_back({"DB/REQ", A::kRight});
    columns.push_back({"Q/REQ", A::kRight});
  }
  if (cpu) {
    columns.push_back({"CPU%", A::kRight});
    columns.push_back({"CPU/REQ", A::kRight});
    for (const auto& c : kCategoryColumns) columns.push_back({c.header, A::kRight});
  }
  TextTable table(std::move(columns));
  const std::vector<v1::RouteStats> routes = SortRoutes(top, options.sort);
  const size_t shown = options.limit == 0 ? routes.size() : std::min(options.limit, routes.size());
  // One row of the table: a route (merged over nodes) or, with --by-node,
  // one node's numbers for it.
  auto add_row = [&](const v1::RouteStats& r, const std::string& label, const std::string& nodes) {
    // A route with only in-flight requests has no completed latencies.
    const bool done = r.requests() > 0;
    const std::string flag = r.n_plus_one_size() > 0 ? "  N+1" : "";
    std::vector<std::string> row = {label + flag,
                                    FormatRate(r.requests_per_second()),
                                    done ? FormatErrorPercent(r.error_ratio()) : "-",
                                    done ? FormatLatency(r.p50_seconds()) : "-",
                                    done ? FormatLatency(r.p90_seconds()) : "-",
                                    done ? FormatLatency(r.p99_seconds()) : "-",
                                    done ? FormatLatency(r.max_seconds()) : "-",
                                    done ? FormatLatency(r.queue_p50_seconds()) : "-",
                                    std::to_string(r.in_flight())};
    if (db) {
      // Blank without DB data for the route (e.g. a CPU-only pseudo-route).
      const bool has = r.db_requests() > 0;
      row.push_back(has ? FormatLatency(r.db_seconds_per_request()) : "");
      row.push_back(has ? FormatCount(r.queries_per_request()) : "");
    }
    if (cpu) {
      // CPU% is of one core over the window, as top(1) shows it.
      row.push_back(FormatShare(r.cpu_seconds(), top.window_seconds()));
      row.push_back(done && r.cpu_seconds() > 0 ? FormatLatency(r.cpu_seconds_per_request()) : "-");
      for (const auto& c : kCategoryColumns) {
        row.push_back(FormatShare(CategorySeconds(r, c.category), r.cpu_seconds()));
      }
    }
    if (options.route_nodes) row.insert(row.begin() + 1, nodes);
    table.AddRow(std::move(row));
  };
  for (size_t i = 0; i < shown; ++i) {
    const v1::RouteStats& r = routes[i];
    std::string nodes;
    if (options.route_nodes) {
      const auto it = options.route_nodes->find(KeyOf(r));
      nodes = std::to_string(it == options.route_nodes->end() ? 0 : it->second.size());
    }
    add_row(r, RouteLabel(r), nodes);
    if (!options.by_node) continue;
    for (const NodeTop& node : *options.by_node) {
      for (const auto& own : node.top.routes()) {
        if (KeyOf(own) == KeyOf(r)) add_row(own, "  @ " + EscapeForTerminal(node.node), "1");
      }
    }
  }
  out += table.Render();
  if (routes.empty()) {
    out += "(no requests in the last " + std::to_string(top.window_seconds()) + "s)\n";
  } else if (shown < routes.size()) {
    out += "(" + std::to_string(routes.size() - shown) + " more routes; --limit 0 shows all)\n";
  }
  // One line per N+1 finding of the routes shown.
  std::string findings;
  for (size_t i = 0; i < shown; ++i) {
    for (const auto& f : routes[i].n_plus_one()) {
      const std::string text = f.fingerprint().empty() ? f.fingerprint_id() : f.fingerprint();
      findings += "N+1  " + EscapeForTerminal(RouteLabel(routes[i])) + "  " +
                  FormatCount(f.mean_count()) + "x/request  at " +
                  EscapeForTerminal(f.call_site().empty() ? "(unknown)" : f.call_site()) + "  " +
                  EscapeForTerminal(OneLine(text, 60)) + "\n";
    }
  }
  if (!findings.empty()) out += "\n" + findings;
  return out;
}

}  // namespace perfd::cli
