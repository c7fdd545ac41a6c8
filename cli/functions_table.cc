#include "cli/functions_table.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "cli/frame_label.h"
#include "cli/terminal_text.h"
#include "cli/text_table.h"
#include "cli/top_table.h"

namespace perfd::cli {
namespace {

// "45.0%"; a non-zero share never shows as 0.
std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0 || part == 0) return "0.0%";
  const double percent = static_cast<double>(part) * 100 / static_cast<double>(whole);
  if (percent < 0.05) return "<0.1%";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", percent);
  return buf;
}

}  // namespace

std::optional<FunctionSortKey> ParseFunctionSortKey(const std::string& name) {
  if (name == "own") return FunctionSortKey::kOwn;
  if (name == "total") return FunctionSortKey::kTotal;
  return std::nullopt;
}

std::vector<std::string> FunctionSortKeyNames() { return {"own", "total"}; }

std::vector<v1::FunctionStats> SortFunctions(const v1::GetFunctionsResponse& functions,
                                             FunctionSortKey key) {
  std::vector<v1::FunctionStats> sorted(functions.functions().begin(), functions.functions().end());
  const bool own = key == FunctionSortKey::kOwn;
  std::stable_sort(sorted.begin(), sorted.end(), [own](const auto& a, const auto& b) {
    const auto ka = own ? std::make_tuple(a.own_samples(), a.total_samples())
                        : std::make_tuple(a.total_samples(), a.own_samples());
    const auto kb = own ? std::make_tuple(b.own_samples(), b.total_samples())
                        : std::make_tuple(b.total_samples(), b.own_samples());
    if (ka != kb) return ka > kb;
    return std::forward_as_tuple(a.function(), a.file(), a.line()) <
           std::forward_as_tuple(b.function(), b.file(), b.line());
  });
  return sorted;
}

std::string RenderFunctionsTable(const v1::GetFunctionsResponse& functions,
                                 const FunctionsTableOptions& options) {
  const uint64_t total = functions.total_samples();
  std::string out = "service " + EscapeForTerminal(functions.service()) + "   window " +
                    std::to_string(functions.window_seconds()) + "s   route " +
                    (options.route.empty() ? "all" : EscapeForTerminal(options.route)) + "   " +
                    std::to_string(total) + " samples (" +
                    FormatLatency(static_cast<double>(total) * functions.sample_period_seconds()) +
                    " CPU)\n\n";

  using A = TextTable::Align;
  TextTable table({{"%OWN", A::kRight},
                   {"%TOTAL", A::kRight},
                   {"OWNTIME", A::kRight},
                   {"TOTALTIME", A::kRight},
                   {"FUNCTION", A::kLeft}});
  const std::vector<v1::FunctionStats> sorted = SortFunctions(functions, options.sort);
  const size_t shown = options.limit == 0 ? sorted.size() : std::min(options.limit, sorted.size());
  for (size_t i = 0; i < shown; ++i) {
    const v1::FunctionStats& f = sorted[i];
    table.AddRow({Percent(f.own_samples(), total), Percent(f.total_samples(), total),
                  FormatLatency(f.own_seconds()), FormatLatency(f.total_seconds()),
                  FrameLabel(f.function(), f.file(), f.line())});
  }
  out += table.Render();
  if (sorted.empty()) {
    out += "(no Python samples in the last " + std::to_string(functions.window_seconds()) + "s)\n";
  } else if (shown < sorted.size()) {
    out += "(" + std::to_string(sorted.size() - shown) + " more functions; --limit 0 shows all)\n";
  }
  return out;
}

}  // namespace perfd::cli
