#include "cli/db_text.h"

#include <cmath>
#include <cstdio>

namespace perfd::cli {

std::string OneLine(const std::string& text, size_t width) {
  std::string flat;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !flat.empty();
      continue;
    }
    if (space) flat.push_back(' ');
    space = false;
    flat.push_back(c);
  }
  if (width == 0) return flat;
  size_t points = 0;
  for (size_t i = 0; i < flat.size(); ++i) {
    if ((static_cast<unsigned char>(flat[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (points == width - 1) {
      // Is there more than one code point left? Then cut here.
      size_t rest = 0;
      for (size_t j = i; j < flat.size(); ++j)
        rest += (static_cast<unsigned char>(flat[j]) & 0xC0) != 0x80;
      return rest > 1 ? flat.substr(0, i) + "…" : flat;
    }
    ++points;
  }
  return flat;
}

std::string FormatCount(double mean) {
  char buf[32];
  const double rounded = std::round(mean * 10) / 10;
  std::snprintf(buf, sizeof(buf), rounded == std::floor(rounded) ? "%.0f" : "%.1f", rounded);
  return buf;
}

}  // namespace perfd::cli
