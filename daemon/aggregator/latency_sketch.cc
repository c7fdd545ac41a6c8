#include "daemon/aggregator/latency_sketch.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace perfd {

LatencySketch::LatencySketch(double relative_accuracy) : relative_accuracy_(relative_accuracy) {
  // The lower bound keeps the index range (and so the dense store) small;
  // NaN fails both comparisons.
  if (!(relative_accuracy >= kMinRelativeAccuracy && relative_accuracy < 1.0)) {
    throw std::invalid_argument("LatencySketch: relative accuracy out of range: " +
                                std::to_string(relative_accuracy));
  }
  gamma_ = (1.0 + relative_accuracy) / (1.0 - relative_accuracy);
  inv_log_gamma_ = 1.0 / std::log(gamma_);
  index_lo_ = static_cast<int32_t>(std::ceil(std::log(kMinSeconds) * inv_log_gamma_));
  index_hi_ = static_cast<int32_t>(std::ceil(std::log(kMaxSeconds) * inv_log_gamma_));
}

LatencySketch LatencySketch::FromBuckets(double relative_accuracy, int32_t min_index,
                                         const std::vector<uint64_t>& counts, uint64_t zero_count) {
  LatencySketch sketch(relative_accuracy);
  sketch.zero_count_ = zero_count;
  sketch.total_ = zero_count;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] == 0) continue;
    // 64-bit so a hostile min_index near INT32_MAX cannot overflow.
    int64_t index = static_cast<int64_t>(min_index) + static_cast<int64_t>(k);
    if (index < sketch.index_lo_) {
      sketch.zero_count_ += counts[k];
      sketch.total_ += counts[k];
    } else {
      sketch.AddToBucket(static_cast<int32_t>(std::min<int64_t>(index, sketch.index_hi_)),
                         counts[k]);
    }
  }
  return sketch;
}

int32_t LatencySketch::BucketIndex(double seconds) const {
  if (!(seconds >= kMinSeconds)) return index_lo_;
  if (seconds >= kMaxSeconds) return index_hi_;
  auto index = static_cast<int32_t>(std::ceil(std::log(seconds) * inv_log_gamma_));
  return std::clamp(index, index_lo_, index_hi_);
}

double LatencySketch::BucketValue(int32_t index) const {
  return 2.0 * std::exp(static_cast<double>(index) / inv_log_gamma_) / (gamma_ + 1.0);
}

void LatencySketch::Add(double seconds, uint64_t count) {
  if (count == 0 || std::isnan(seconds)) return;
  if (seconds < kMinSeconds) {
    zero_count_ += count;
    total_ += count;
    return;
  }
  AddToBucket(BucketIndex(seconds), count);
}

void LatencySketch::AddToBucket(int32_t index, uint64_t count) {
  total_ += count;
  if (counts_.empty()) {
    min_index_ = index;
    counts_.push_back(count);
    return;
  }
  if (index < min_index_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(min_index_ - index), 0);
    min_index_ = index;
  } else if (static_cast<size_t>(index - min_index_) >= counts_.size()) {
    counts_.resize(static_cast<size_t>(index - min_index_) + 1, 0);
  }
  counts_[static_cast<size_t>(index - min_index_)] += count;
}

bool LatencySketch::Merge(const LatencySketch& other) {
  if (other.relative_accuracy_ != relative_accuracy_) return false;
  zero_count_ += other.zero_count_;
  total_ += other.total_;
  if (other.counts_.empty()) return true;
  if (counts_.empty()) {
    min_index_ = other.min_index_;
    counts_ = other.counts_;
    return true;
  }
  // Grow once to the union of both ranges, then add index by index.
  int32_t lo = std::min(min_index_, other.min_index_);
  int32_t hi = std::max(min_index_ + static_cast<int32_t>(counts_.size()),
                        other.min_index_ + static_cast<int32_t>(other.counts_.size()));
  if (lo < min_index_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(min_index_ - lo), 0);
    min_index_ = lo;
  }
  counts_.resize(static_cast<size_t>(hi - lo), 0);
  size_t offset = static_cast<size_t>(other.min_index_ - min_index_);
  for (size_t k = 0; k < other.counts_.size(); ++k) counts_[offset + k] += other.counts_[k];
  return true;
}

void LatencySketch::Clear() {
  counts_.clear();
  min_index_ = 0;
  zero_count_ = 0;
  total_ = 0;
}

double LatencySketch::Quantile(double q) const {
  if (total_ == 0) return 0;
  if (!(q > 0)) q = 0;  // also maps NaN to 0
  if (q > 1) q = 1;
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = zero_count_;
  if (seen >= rank) return 0;
  for (size_t k = 0; k < counts_.size(); ++k) {
    seen += counts_[k];
    if (seen >= rank) return BucketValue(min_index_ + static_cast<int32_t>(k));
  }
  // Unreachable while total_ equals the sum of the counts.
  return BucketValue(min_index_ + static_cast<int32_t>(counts_.size()) - 1);
}

void LatencySketch::ForEachBucket(
    const std::function<void(int32_t index, uint64_t count)>& fn) const {
  for (size_t k = 0; k < counts_.size(); ++k) {
    if (counts_[k] != 0) fn(min_index_ + static_cast<int32_t>(k), counts_[k]);
  }
}

bool LatencySketch::operator==(const LatencySketch& other) const {
  return relative_accuracy_ == other.relative_accuracy_ && zero_count_ == other.zero_count_ &&
         total_ == other.total_ && min_index() == other.min_index() && counts_ == other.counts_;
}

}  // namespace perfd
