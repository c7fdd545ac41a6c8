// `perfctl services` rendering.
#pragma once

#include <string>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {

// SERVICE / WORKERS / REQUESTS / SERVER / APP / PIDS, one row per service in
// the server's (name) order; "(no services traced yet)" when empty.
std::string RenderServicesTable(const v1::ListServicesResponse& services);

}  // namespace perfd::cli
