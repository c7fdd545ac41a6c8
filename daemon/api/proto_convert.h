// Conversions between the aggregator's in-memory types and perfd.v1 messages.
#pragma once

#include "daemon/aggregator/aggregator.h"
#include "daemon/aggregator/latency_sketch.h"
#include "daemon/api/sketch_convert.h"  // SketchToProto, SketchFromProto
#include "daemon/discovery/worker.h"
#include "perfd/v1/perfd.pb.h"

namespace perfd {

// Fills every RouteStats field: quantiles come from the sketch, error_ratio
// is errors / requests (0 with no requests).
void RouteToProto(const RouteSnapshot& route, v1::RouteStats* out);

// cmdline is argv joined by single spaces (as discovery matches it).
void WorkerToProto(const Worker& worker, v1::Worker* out);

}  // namespace perfd
