#include "cli/frame_label.h"

namespace perfd::cli {

std::string FrameLabel(const std::string& function, const std::string& file, uint32_t line) {
  std::string label = function.empty() ? "?" : function;
  if (file.empty()) return label;
  label += " (" + file;
  if (line > 0) label += ":" + std::to_string(line);
  return label + ")";
}

}  // namespace perfd::cli
