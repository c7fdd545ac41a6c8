// A DDSketch-style latency sketch: log-spaced buckets with a fixed relative
// accuracy, so sketches recorded on different workers or nodes merge exactly
// by adding counts bucket by bucket (the layout mirrors perfd.v1.LatencySketch).
//
// Bucket i covers (gamma^(i-1), gamma^i] seconds with gamma = (1+a)/(1-a); it
// reports 2*gamma^i/(gamma+1), which is within a relative error `a` of any
// value in the bucket. Values below 1 ns (or <= 0) go to zero_count and read
// back as 0; values above one day are clamped into the one-day bucket, so a
// sketch never holds more than ~1,600 buckets at the default accuracy.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace perfd {

class LatencySketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  static constexpr double kMinSeconds = 1e-9;           // smaller values count as zero
  static constexpr double kMaxSeconds = 86400.0;        // larger values are clamped
  static constexpr double kMinRelativeAccuracy = 1e-4;  // bounds the index range

  // Throws std::invalid_argument unless kMinRelativeAccuracy <= accuracy < 1.
  explicit LatencySketch(double relative_accuracy = kDefaultRelativeAccuracy);

  // Rebuilds a sketch from its exported form (counts[k] is bucket
  // min_index + k). Indices outside this accuracy's range are folded into the
  // edge buckets (below: zero_count). Throws std::invalid_argument for an
  // accuracy the constructor rejects.
  static LatencySketch FromBuckets(double relative_accuracy, int32_t min_index,
                                   const std::vector<uint64_t>& counts, uint64_t zero_count);

  // NaN is ignored; count 0 is a no-op.
  void Add(double seconds, uint64_t count = 1);
  // Adds `other` bucket by bucket. Returns false (and changes nothing) when
  // the accuracies differ, because their buckets do not line up.
  bool Merge(const LatencySketch& other);
  void Clear();  // keeps the allocated storage for reuse

  // Rank semantics: with n = Count() and r = max(1, ceil(q*n)), returns the
  // value of the smallest bucket b such that at least r recorded values are
  // in buckets <= b (the zero bucket reads as 0). So q=0 gives the minimum's
  // bucket and q=1 the maximum's. q is clamped to [0, 1]; 0 when empty.
  double Quantile(double q) const;

  uint64_t Count() const { return total_; }
  bool empty() const { return total_ == 0; }
  double relative_accuracy() const { return relative_accuracy_; }

  // Exported form: dense counts from min_index() with no zero at either end
  // (empty vector when only zero_count is non-zero), so equal contents give
  // equal exports.
  int32_t min_index() const { return counts_.empty() ? 0 : min_index_; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t zero_count() const { return zero_count_; }
  // Non-zero buckets in increasing index order (zero_count excluded).
  void ForEachBucket(const std::function<void(int32_t index, uint64_t count)>& fn) const;

  // Value reported for bucket `index` and the bucket a value falls into.
  double BucketValue(int32_t index) const;
  int32_t BucketIndex(double seconds) const;  // seconds >= kMinSeconds
  int32_t min_bucket_index() const { return index_lo_; }
  int32_t max_bucket_index() const { return index_hi_; }

  // Same accuracy and same counts in every bucket.
  bool operator==(const LatencySketch& other) const;
  bool operator!=(const LatencySketch& other) const { return !(*this == other); }

 private:
  void AddToBucket(int32_t index, uint64_t count);

  double relative_accuracy_;
  double gamma_;
  double inv_log_gamma_;
  int32_t index_lo_;  // bucket of kMinSeconds
  int32_t index_hi_;  // bucket of kMaxSeconds
  int32_t min_index_ = 0;
  std::vector<uint64_t> counts_;  // counts_[k] is bucket min_index_ + k
  uint64_t zero_count_ = 0;
  uint64_t total_ = 0;
};

}  // namespace perfd
