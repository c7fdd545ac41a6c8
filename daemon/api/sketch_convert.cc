#include "daemon/api/sketch_convert.h"

#include <vector>

namespace perfd {

void SketchToProto(const LatencySketch& sketch, v1::LatencySketch* out) {
  out->Clear();
  out->set_relative_accuracy(sketch.relative_accuracy());
  out->set_min_index(sketch.min_index());
  for (uint64_t c : sketch.counts()) out->add_counts(c);
  out->set_zero_count(sketch.zero_count());
}

LatencySketch SketchFromProto(const v1::LatencySketch& proto) {
  std::vector<uint64_t> counts(proto.counts().begin(), proto.counts().end());
  return LatencySketch::FromBuckets(proto.relative_accuracy(), proto.min_index(), counts,
                                    proto.zero_count());
}

}  // namespace perfd
