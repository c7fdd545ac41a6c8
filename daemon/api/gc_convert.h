// GetTop's gc: a service's GC pauses over the window (GcWindows) and the
// probe state of each of its current workers, as v1::GcStats.
#pragma once

#include <vector>

#include "daemon/aggregator/gc_windows.h"
#include "daemon/api/gc_probe_directory.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

// Workers are counted by state; generations without pauses are left out,
// the others named "0", "1", "2", "_OTHER" in that order.
void GcToProto(const GcWindowSnapshot& window, const std::vector<GcProbeState>& workers,
               v1::GcStats* out);

}  // namespace perfd
