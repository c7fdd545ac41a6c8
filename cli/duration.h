// Human durations for perfctl flags: "500ms", "30s", "2m", "1h", "1m30s"; a
// bare number means seconds.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace perfd::cli {

// nullopt for anything else (empty, negative, unknown unit, overflow).
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text);

// Flag validators in CLI11's convention: "" when valid, else the reason.
// --window: whole seconds, at least 1 s.
std::string CheckWindow(const std::string& text);
// profile --duration: whole seconds, at least 1 s (perfd caps it at its
// window maximum).
std::string CheckProfileDuration(const std::string& text);
// --interval: at least 100 ms, so live mode cannot hammer the daemon.
std::string CheckInterval(const std::string& text);
// --timeout: 100ms to 10m, per endpoint.
std::string CheckTimeout(const std::string& text);

}  // namespace perfd::cli
