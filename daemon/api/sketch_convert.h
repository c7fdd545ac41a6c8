// LatencySketch <-> perfd.v1.LatencySketch. A library of its own so perfctl
// merges the sketches several perfd instances send with the daemon's own
// sketch code (daemon/aggregator/latency_sketch.h), not a copy of it.
#pragma once

#include "daemon/aggregator/latency_sketch.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

void SketchToProto(const LatencySketch& sketch, v1::LatencySketch* out);
// Throws std::invalid_argument for an accuracy LatencySketch rejects (e.g. 0
// from a message that never set it); out-of-range indices are folded.
LatencySketch SketchFromProto(const v1::LatencySketch& proto);

}  // namespace perfd
