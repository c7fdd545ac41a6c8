#include "cli/duration.h"

#include <cctype>
#include <cstdint>

namespace perfd::cli {

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  // Bounded so sums below cannot overflow: a week is far beyond any window.
  constexpr uint64_t kMaxMs = 7ULL * 24 * 3600 * 1000;
  uint64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    uint64_t number = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      number = number * 10 + static_cast<uint64_t>(text[i] - '0');
      if (number > kMaxMs) return std::nullopt;
      ++i;
    }
    size_t unit_end = i;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    const std::string unit = text.substr(i, unit_end - i);
    i = unit_end;
    uint64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s" || (unit.empty() && i == text.size())) {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 3600 * 1000;
    } else {
      return std::nullopt;  // includes a bare number in the middle ("1 30s")
    }
    total_ms += number * scale;
    if (total_ms > kMaxMs) return std::nullopt;
  }
  return std::chrono::milliseconds(total_ms);
}

std::string CheckWindow(const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) return "not a duration (e.g. 30s, 5m): " + text;
  if (d->count() % 1000 != 0) return "window must be whole seconds: " + text;
  if (d->count() < 1000) return "window must be at least 1s: " + text;
  return "";
}

std::string CheckProfileDuration(const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) return "not a duration (e.g. 30s, 2m): " + text;
  if (d->count() % 1000 != 0) return "duration must be whole seconds: " + text;
  if (d->count() < 1000) return "duration must be at least 1s: " + text;
  return "";
}

std::string CheckInterval(const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) return "not a duration (e.g. 1s, 500ms): " + text;
  if (d->count() < 100) return "interval must be at least 100ms: " + text;
  return "";
}

std::string CheckTimeout(const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) return "not a duration (e.g. 3s, 500ms): " + text;
  if (d->count() < 100) return "timeout must be at least 100ms: " + text;
  if (d->count() > 600 * 1000) return "timeout must be at most 10m: " + text;
  return "";
}

}  // namespace perfd::cli
