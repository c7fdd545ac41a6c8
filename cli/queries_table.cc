#include "cli/queries_table.h"

#include <algorithm>

#include "cli/clock_time.h"
#include "cli/db_text.h"
#include "cli/terminal_text.h"
#include "cli/text_table.h"
#include "cli/top_table.h"

namespace perfd::cli {
namespace {

// The key with most calls (ties: smallest key), "+N" when there are others.
std::string Busiest(const google::protobuf::Map<std::string, uint64_t>& counts) {
  if (counts.empty()) return "-";
  std::string best;
  uint64_t most = 0;
  for (const auto& [key, n] : counts) {
    if (n > most || (n == most && key < best)) {
      best = key;
      most = n;
    }
  }
  if (counts.size() > 1) best += " +" + std::to_string(counts.size() - 1);
  return best;
}

// Width the FINGERPRINT column may take: what the other columns leave of
// the terminal (at least 20 code points, so it never vanishes).
size_t FingerprintWidth(const std::string& rendered_without, size_t terminal) {
  if (terminal == 0) return 0;
  size_t widest = 0;
  size_t start = 0;
  while (start < rendered_without.size()) {
    size_t end = rendered_without.find('\n', start);
    if (end == std::string::npos) end = rendered_without.size();
    widest = std::max(widest, DisplayWidth(rendered_without.substr(start, end - start)));
    start = end + 1;
  }
  const size_t used = widest + 2;  // the gap before the last column
  return terminal > used + 20 ? terminal - used : 20;
}

}  // namespace

std::string RenderQueriesTable(const v1::GetQueriesResponse& q,
                               const QueriesTableOptions& options) {
  std::string out = "service " + EscapeForTerminal(q.service()) + "   window " +
                    std::to_string(q.window_seconds()) + "s   route " +
                    (q.route().empty() ? "all" : EscapeForTerminal(q.route()));
  for (const auto& [system, n] : q.encrypted_connections()) {
    out += "   encrypted " + EscapeForTerminal(system) + " " + std::to_string(n);
  }
  if (const std::string at = ClockTime(q.timestamp_unix_nanos()); !at.empty()) out += "   at " + at;
  out += "\n\n";

  const size_t total = static_cast<size_t>(q.queries_size());
  const size_t shown = options.limit == 0 ? total : std::min(options.limit, total);
  using A = TextTable::Align;
  auto columns = [](bool with_fingerprint) {
    std::vector<TextTable::Column> c = {
        {"SYSTEM", A::kLeft}, {"CALLS/S", A::kRight}, {"P50", A::kRight},
        {"P99", A::kRight},   {"ROWS", A::kRight},    {"ERR", A::kRight},
        {"TOTAL", A::kRight}, {"ROUTES", A::kLeft},   {"CALL SITE", A::kLeft}};
    if (with_fingerprint) c.push_back({"FINGERPRINT", A::kLeft});
    return c;
  };
  TextTable measure(columns(false));
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < shown; ++i) {
    const v1::QueryStats& s = q.queries(static_cast<int>(i));
    std::string system = s.system();
    if (s.housekeeping()) system += " (hk)";
    std::vector<std::string> row = {system,
                                    FormatRate(s.calls_per_second()),
                                    FormatLatency(s.p50_seconds()),
                                    FormatLatency(s.p99_seconds()),
                                    s.rows_known_calls() > 0 ? std::to_string(s.rows()) : "-",
                                    std::to_string(s.errors()),
                                    FormatLatency(s.total_seconds()),
                                    Busiest(s.routes()),
                                    Busiest(s.call_sites())};
    measure.AddRow(row);
    rows.push_back(std::move(row));
  }
  const size_t fp_width = FingerprintWidth(measure.Render(), options.width);
  TextTable table(columns(true));
  for (size_t i = 0; i < rows.size(); ++i) {
    const v1::QueryStats& s = q.queries(static_cast<int>(i));
    std::string text =
        s.unresolved() ? "(prepared before perfd attached) " + s.fingerprint() : s.fingerprint();
    rows[i].push_back(OneLine(text, fp_width));
    table.AddRow(std::move(rows[i]));
  }
  out += table.Render();
  if (total == 0) {
    out += "(no database calls in the last " + std::to_string(q.window_seconds()) + "s)\n";
  } else if (shown < total) {
    out += "(" + std::to_string(total - shown) + " more fingerprints; --limit 0 shows all)\n";
  }

  // Findings, whatever the limit: they are the point of the command.
  std::string findings;
  for (const auto& s : q.queries()) {
    for (const auto& f : s.n_plus_one()) {
      findings += "N+1  " + EscapeForTerminal(f.route()) + "  " + FormatCount(f.mean_count()) +
                  "x/request (max " + std::to_string(f.max_count()) + ", " +
                  std::to_string(f.requests()) + " requests)  at " +
                  EscapeForTerminal(f.call_site().empty() ? "(unknown)" : f.call_site()) + "  " +
                  EscapeForTerminal(OneLine(s.fingerprint(), 60)) + "  [" + s.id() + "]\n";
    }
    for (const auto& f : s.fan_out()) {
      findings += "fan-out  " + EscapeForTerminal(f.route()) + "  " + FormatCount(f.mean_count()) +
                  " concurrent/request (" + std::to_string(f.requests()) + " requests), not N+1  " +
                  EscapeForTerminal(OneLine(s.fingerprint(), 60)) + "  [" + s.id() + "]\n";
    }
  }
  if (!findings.empty()) out += "\n" + findings;
  return out;
}

}  // namespace perfd::cli
