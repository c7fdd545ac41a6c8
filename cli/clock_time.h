// The wall-clock time of a snapshot, for table headers.
#pragma once

#include <cstdint>
#include <string>

namespace perfd::cli {

// "HH:MM:SS" in local time; "" for 0 or negative (no timestamp).
std::string ClockTime(int64_t unix_nanos);

}  // namespace perfd::cli
