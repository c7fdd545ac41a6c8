// BreakdownWindow views → GetBreakdownResponse routes (pure).
#pragma once

#include <vector>

#include "daemon/breakdown/breakdown_window.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

void BreakdownToProto(const std::vector<breakdown::RouteBreakdownView>& routes,
                      v1::GetBreakdownResponse* response);

}  // namespace perfd
