// Whether perfd can measure a worker's GC pauses: GetTop says "this
// service's workers have no GC probes" instead of reporting zero pauses.
// The worker loader owns the per-pid state; this interface lets the API
// read it without depending on the loader (and lets tests hand in a map).
#pragma once

#include <cstdint>

namespace perfd {

enum class GcProbeState {
  kAttached,    // gc__start/gc__done attached: pauses are measured
  kNoUsdt,      // the interpreter has no such USDT probes (built without --with-dtrace)
  kFailed,      // the probes would not attach (logged)
  kNotSampled,  // not sampled: Python sampling off, interpreter refused, or not yet started
};

class GcProbeDirectory {
 public:
  virtual ~GcProbeDirectory() = default;
  // Called from gRPC threads.
  virtual GcProbeState GcProbeOf(uint32_t pid) const = 0;
};

}  // namespace perfd
