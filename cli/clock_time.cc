#include "cli/clock_time.h"

#include <ctime>

namespace perfd::cli {

std::string ClockTime(int64_t unix_nanos) {
  if (unix_nanos <= 0) return "";
  const time_t seconds = static_cast<time_t>(unix_nanos / 1000000000);
  struct tm local {};
  localtime_r(&seconds, &local);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &local);
  return buf;
}

}  // namespace perfd::cli
