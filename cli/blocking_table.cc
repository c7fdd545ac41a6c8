#include "cli/blocking_table.h"

#include <cstddef>
#include <utility>
#include <vector>

#include "cli/frame_label.h"
#include "cli/terminal_text.h"
#include "cli/text_table.h"
#include "cli/top_table.h"

namespace perfd::cli {
namespace {

constexpr const char* kStackIndent = "    ";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The site's stack under its row: leaf first, as the server sends it.
std::string StackLines(const v1::BlockingSite& site) {
  if (site.stack_size() == 0) return std::string(kStackIndent) + "(no stack)\n";
  std::string out;
  for (const auto& f : site.stack()) {
    out += kStackIndent + EscapeForTerminal(FrameLabel(f.function(), f.file(), f.line())) + "\n";
  }
  if (site.stack_truncated()) out += std::string(kStackIndent) + "… (outermost frames missing)\n";
  return out;
}

}  // namespace

std::string KindLabel(const v1::BlockingSite& site) {
  if (site.kind() != "offcpu") return site.kind();
  const std::pair<const char*, double> reasons[] = {{"sleep", site.blocked_sleep_seconds()},
                                                    {"lock", site.blocked_lock_seconds()},
                                                    {"io", site.blocked_io_seconds()},
                                                    {"other", site.blocked_other_seconds()}};
  const char* main = nullptr;
  double most = 0;
  for (const auto& [name, seconds] : reasons) {
    if (seconds > most) {
      main = name;
      most = seconds;
    }
  }
  return main == nullptr ? "offcpu" : std::string("offcpu:") + main;
}

std::string RenderBlockingTable(const v1::GetBlockingResponse& b,
                                const BlockingTableOptions& options) {
  std::string out = "service " + EscapeForTerminal(b.service()) + "   window " +
                    std::to_string(b.window_seconds()) + "s";
  if (!b.traced()) {
    return out +
           "\n\nevent-loop tracing is off in this perfd (event_loop.enabled in its config, or not "
           "supported on this host; see perfd's start-up log)\n";
  }
  const std::string threshold = FormatLatency(b.blocking_threshold_seconds());
  out += "   route " + (options.route.empty() ? "all" : EscapeForTerminal(options.route)) +
         "   threshold " + threshold + "   events " + std::to_string(b.events()) + "   total " +
         FormatLatency(b.total_seconds()) + "\n";
  if (!b.stacks()) {
    out +=
        "stacks need Python sampling, which is off in this perfd (python.sampling): sites are "
        "unknown\n";
  }
  out += "\n";
  if (b.sites_size() == 0) {
    return out + "(no blocking events over " + threshold +
           (options.route.empty() ? "" : " of " + EscapeForTerminal(options.route)) +
           " in the last " + std::to_string(b.window_seconds()) + "s)\n";
  }

  using A = TextTable::Align;
  TextTable table({{"ROUTE", A::kLeft},
                   {"KIND", A::kLeft},
                   {"EVENTS", A::kRight},
                   {"TOTAL", A::kRight},
                   {"MAX", A::kRight},
                   {"VICTIMS", A::kRight},
                   {"ADDED WAIT", A::kRight},
                   {"SITE", A::kLeft}});
  for (const auto& s : b.sites()) {
    table.AddRow({s.route(), KindLabel(s), std::to_string(s.events()),
                  FormatLatency(s.total_seconds()), FormatLatency(s.max_seconds()),
                  std::to_string(s.victims()), FormatLatency(s.victim_wait_seconds()),
                  s.site().empty() ? "(no stack)" : s.site()});
  }
  const std::string rendered = table.Render();
  if (!options.stacks) return out + rendered;
  // TextTable escapes every cell, so its only newlines end its lines: line
  // 0 is the header, line i + 1 the row of site i.
  const std::vector<std::string> lines = Lines(rendered);
  out += lines[0] + "\n";
  for (int i = 0; i < b.sites_size(); ++i) {
    out += lines[static_cast<size_t>(i) + 1] + "\n" + StackLines(b.sites(i));
  }
  return out;
}

}  // namespace perfd::cli
