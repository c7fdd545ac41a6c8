#include "cli/folded.h"

#include <map>

#include "cli/frame_label.h"
#include "cli/terminal_text.h"

namespace perfd::cli {
namespace {

// ';' separates frames and a line break ends the stack, so those become
// ',' and ' '; any other control character is escaped: folded output goes to
// stdout, often a terminal, and frame names come from the traced process.
std::string Sanitize(std::string label) {
  for (char& c : label) {
    if (c == ';') c = ',';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return EscapeForTerminal(label);
}

}  // namespace

std::string ToFolded(const v1::GetProfileResponse& profile) {
  std::map<std::string, uint64_t> lines;
  for (const v1::Stack& stack : profile.stacks()) {
    if (stack.samples() == 0) continue;
    std::string line = stack.truncated() ? kTruncatedFrame : "";
    // Frames are leaf first; folded stacks read root first.
    for (int i = stack.frames_size() - 1; i >= 0; --i) {
      const uint32_t index = stack.frames(i);
      std::string label = "?";
      if (index < static_cast<uint32_t>(profile.frames_size())) {
        const v1::Frame& f = profile.frames(static_cast<int>(index));
        label = Sanitize(FrameLabel(f.function(), f.file(), f.line()));
      }
      if (!line.empty()) line += ';';
      line += label;
    }
    if (line.empty()) line = "?";  // a sample with no Python frame at all
    lines[line] += stack.samples();
  }
  std::string out;
  for (const auto& [stack, count] : lines) out += stack + " " + std::to_string(count) + "\n";
  return out;
}

}  // namespace perfd::cli
