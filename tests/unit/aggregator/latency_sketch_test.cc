#include "daemon/aggregator/latency_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace perfd {
namespace {

const std::vector<double> kQuantiles = {0,    0.001, 0.01, 0.1,  0.25,  0.5,
                                        0.75, 0.9,   0.95, 0.99, 0.999, 1};

// The same rank definition the sketch documents, over exact data.
double ExactQuantile(std::vector<double> sorted, double q) {
  auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<size_t>(std::ceil(q * n));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectRelativeError(const std::vector<double>& values, double max_error) {
  LatencySketch sketch;
  for (double v : values) sketch.Add(v);
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_EQ(sketch.Count(), values.size());
  for (double q : kQuantiles) {
    double exact = ExactQuantile(sorted, q);
    double got = sketch.Quantile(q);
    EXPECT_LE(std::abs(got - exact), max_error * exact)
        << "q=" << q << " exact=" << exact << " got=" << got;
  }
}

TEST(LatencySketchTest, EmptySketchReadsZero) {
  LatencySketch sketch;
  EXPECT_EQ(sketch.Count(), 0u);
  EXPECT_TRUE(sketch.empty());
  EXPECT_EQ(sketch.Quantile(0.5), 0);
  EXPECT_EQ(sketch.Quantile(1), 0);
  EXPECT_TRUE(sketch.counts().empty());
  EXPECT_DOUBLE_EQ(sketch.relative_accuracy(), 0.01);
}

TEST(LatencySketchTest, RejectsBadAccuracy) {
  EXPECT_THROW(LatencySketch(0), std::invalid_argument);
  EXPECT_THROW(LatencySketch(1), std::invalid_argument);
  EXPECT_THROW(LatencySketch(-0.1), std::invalid_argument);
  EXPECT_THROW(LatencySketch(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_NO_THROW(LatencySketch(0.05));
}

TEST(LatencySketchTest, BucketsMatchProtoDefinition) {
  // Bucket i covers (gamma^(i-1), gamma^i]: just above a boundary moves up.
  LatencySketch sketch;
  double gamma = 1.01 / 0.99;
  EXPECT_EQ(sketch.BucketIndex(1.0), 0);
  EXPECT_EQ(sketch.BucketIndex(1.0005), 1);
  EXPECT_EQ(sketch.BucketIndex(gamma * 1.0001), 2);
  EXPECT_EQ(sketch.BucketIndex(0.9999), 0);
  EXPECT_EQ(sketch.BucketIndex(1.0 / gamma / 1.0001), -1);
  EXPECT_NEAR(sketch.BucketValue(0), 2.0 / (gamma + 1), 1e-12);
}

TEST(LatencySketchTest, RandomDistributionsWithinOnePercent) {
  std::mt19937_64 rng(20261101);
  const size_t n = 200000;
  std::vector<double> lognormal, uniform, exponential, pareto;
  std::lognormal_distribution<double> ln(std::log(0.02), 1.5);
  std::uniform_real_distribution<double> un(0.001, 10.0);
  std::exponential_distribution<double> ex(50.0);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  for (size_t i = 0; i < n; ++i) {
    lognormal.push_back(ln(rng));
    uniform.push_back(un(rng));
    exponential.push_back(ex(rng) + 1e-6);
    pareto.push_back(0.005 / std::pow(1.0 - u01(rng), 1.0 / 1.2));  // heavy tail
  }
  ExpectRelativeError(lognormal, 0.01 + 1e-9);
  ExpectRelativeError(uniform, 0.01 + 1e-9);
  ExpectRelativeError(exponential, 0.01 + 1e-9);
  ExpectRelativeError(pareto, 0.01 + 1e-9);
}

TEST(LatencySketchTest, AdversarialDistributionsWithinOnePercent) {
  double gamma = 1.01 / 0.99;
  // Values sitting exactly on bucket boundaries, where rounding of the log
  // can push a value into the neighbouring bucket.
  std::vector<double> boundaries;
  for (int i = -900; i <= 500; ++i) boundaries.push_back(std::pow(gamma, i));
  ExpectRelativeError(boundaries, 0.01 + 1e-9);

  // Log-uniform over the whole supported range, 1 ns .. 1 day.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exp10(-9, std::log10(86400.0));
  std::vector<double> wide;
  for (int i = 0; i < 100000; ++i) wide.push_back(std::pow(10.0, exp10(rng)));
  ExpectRelativeError(wide, 0.01 + 1e-9);

  // Two far-apart clusters: a quantile must not land between them.
  std::vector<double> clusters(50000, 1e-6);
  clusters.insert(clusters.end(), 50000, 1000.0);
  ExpectRelativeError(clusters, 0.01 + 1e-9);
  LatencySketch sketch;
  for (double v : clusters) sketch.Add(v);
  EXPECT_NEAR(sketch.Quantile(0.5), 1e-6, 1e-8);
  EXPECT_NEAR(sketch.Quantile(0.50001), 1000, 10);

  // One value repeated, and a single outlier at the top.
  std::vector<double> constant(1000, 0.123);
  constant.push_back(30.0);
  ExpectRelativeError(constant, 0.01 + 1e-9);
}

TEST(LatencySketchTest, RankSemanticsOnSmallInput) {
  LatencySketch sketch;
  for (double v : {0.001, 0.002, 0.003, 0.004}) sketch.Add(v);
  // ceil(q*4): q=0.25 -> 1st value, q=0.26 -> 2nd, q=0 -> 1st, q=1 -> 4th.
  EXPECT_NEAR(sketch.Quantile(0.25), 0.001, 0.00001);
  EXPECT_NEAR(sketch.Quantile(0.26), 0.002, 0.00002);
  EXPECT_NEAR(sketch.Quantile(0), 0.001, 0.00001);
  EXPECT_NEAR(sketch.Quantile(1), 0.004, 0.00004);
  EXPECT_NEAR(sketch.Quantile(-3), 0.001, 0.00001);  // clamped
  EXPECT_NEAR(sketch.Quantile(7), 0.004, 0.00004);   // clamped
}

TEST(LatencySketchTest, TinyAndNonPositiveValuesCountAsZero) {
  LatencySketch sketch;
  sketch.Add(0);
  sketch.Add(-1);
  sketch.Add(5e-10);
  sketch.Add(std::numeric_limits<double>::quiet_NaN());  // ignored
  sketch.Add(0.5);
  EXPECT_EQ(sketch.Count(), 4u);
  EXPECT_EQ(sketch.zero_count(), 3u);
  EXPECT_EQ(sketch.Quantile(0.75), 0);
  EXPECT_NEAR(sketch.Quantile(0.76), 0.5, 0.005);
}

TEST(LatencySketchTest, HugeValuesClampToOneDay) {
  LatencySketch sketch;
  sketch.Add(1e9);
  sketch.Add(std::numeric_limits<double>::infinity());
  EXPECT_EQ(sketch.Count(), 2u);
  EXPECT_EQ(sketch.counts().size(), 1u);
  EXPECT_NEAR(sketch.Quantile(1), 86400, 864);
}

TEST(LatencySketchTest, MemoryStaysBounded) {
  LatencySketch sketch;
  for (double e = -15; e <= 15; e += 0.001) sketch.Add(std::pow(10.0, e));
  EXPECT_LE(sketch.counts().size(),
            static_cast<size_t>(sketch.max_bucket_index() - sketch.min_bucket_index() + 1));
  EXPECT_LT(sketch.counts().size(), 1700u);
  EXPECT_EQ(sketch.min_index(), sketch.min_bucket_index());
}

TEST(LatencySketchTest, AddWithCountEqualsRepeatedAdds) {
  LatencySketch a, b;
  a.Add(0.25, 5);
  a.Add(0.0, 2);
  a.Add(0.1, 0);  // no-op
  for (int i = 0; i < 5; ++i) b.Add(0.25);
  b.Add(0.0);
  b.Add(0.0);
  EXPECT_EQ(a, b);
}

TEST(LatencySketchTest, MergeEqualsSketchOfUnion) {
  std::mt19937_64 rng(99);
  std::lognormal_distribution<double> slow(std::log(0.5), 0.7);
  std::lognormal_distribution<double> fast(std::log(0.0005), 0.5);
  std::bernoulli_distribution coin(0.3);
  LatencySketch a, b, all;
  for (int i = 0; i < 50000; ++i) {
    double v = coin(rng) ? slow(rng) : fast(rng);
    if (i % 1000 == 0) v = 0;  // zero bucket too
    (coin(rng) ? a : b).Add(v);
    all.Add(v);
  }
  LatencySketch merged = a;
  ASSERT_TRUE(merged.Merge(b));
  EXPECT_EQ(merged, all);
  EXPECT_EQ(merged.counts(), all.counts());
  EXPECT_EQ(merged.min_index(), all.min_index());
  EXPECT_EQ(merged.zero_count(), all.zero_count());
  // Merging is order independent.
  LatencySketch other_way = b;
  ASSERT_TRUE(other_way.Merge(a));
  EXPECT_EQ(other_way, all);
}

TEST(LatencySketchTest, MergeDisjointRangesAndEmpties) {
  LatencySketch low, high, empty;
  low.Add(0.001);
  high.Add(100);
  LatencySketch m1 = high;
  ASSERT_TRUE(m1.Merge(low));  // extends downwards
  LatencySketch m2 = low;
  ASSERT_TRUE(m2.Merge(high));  // extends upwards
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(m1.counts().front(), 1u);
  EXPECT_EQ(m1.counts().back(), 1u);

  LatencySketch m3 = empty;
  ASSERT_TRUE(m3.Merge(low));
  EXPECT_EQ(m3, low);
  ASSERT_TRUE(m3.Merge(empty));
  EXPECT_EQ(m3, low);
}

TEST(LatencySketchTest, MergeRejectsDifferentAccuracy) {
  LatencySketch a(0.01), b(0.02);
  a.Add(1);
  b.Add(2);
  EXPECT_FALSE(a.Merge(b));
  EXPECT_EQ(a.Count(), 1u);
}

TEST(LatencySketchTest, ExportRoundTrip) {
  LatencySketch sketch;
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> ex(3.0);
  for (int i = 0; i < 10000; ++i) sketch.Add(ex(rng));
  sketch.Add(0, 17);
  // Exported counts are trimmed: both ends are non-zero.
  ASSERT_FALSE(sketch.counts().empty());
  EXPECT_NE(sketch.counts().front(), 0u);
  EXPECT_NE(sketch.counts().back(), 0u);

  LatencySketch back = LatencySketch::FromBuckets(sketch.relative_accuracy(), sketch.min_index(),
                                                  sketch.counts(), sketch.zero_count());
  EXPECT_EQ(back, sketch);
  EXPECT_DOUBLE_EQ(back.Quantile(0.99), sketch.Quantile(0.99));

  uint64_t total = 0;
  int32_t prev = INT32_MIN;
  sketch.ForEachBucket([&](int32_t index, uint64_t count) {
    EXPECT_GT(index, prev);
    EXPECT_GT(count, 0u);
    prev = index;
    total += count;
  });
  EXPECT_EQ(total + sketch.zero_count(), sketch.Count());
}

TEST(LatencySketchTest, FromBucketsNormalizesForeignInput) {
  // Padding zeros are trimmed, and indices past the supported range fold
  // into the zero count (below) or the one-day bucket (above).
  LatencySketch sketch = LatencySketch::FromBuckets(0.01, 10, {0, 0, 3, 0, 4, 0}, 2);
  EXPECT_EQ(sketch.min_index(), 12);
  EXPECT_EQ(sketch.counts(), (std::vector<uint64_t>{3, 0, 4}));
  EXPECT_EQ(sketch.Count(), 9u);

  LatencySketch reference;
  int32_t lo = reference.min_bucket_index();
  int32_t hi = reference.max_bucket_index();
  LatencySketch folded = LatencySketch::FromBuckets(0.01, lo - 2, {5, 0, 1}, 0);
  EXPECT_EQ(folded.zero_count(), 5u);
  EXPECT_EQ(folded.min_index(), lo);
  LatencySketch top = LatencySketch::FromBuckets(0.01, INT32_MAX - 1, {2, 3}, 0);
  EXPECT_EQ(top.min_index(), hi);
  EXPECT_EQ(top.counts(), (std::vector<uint64_t>{5}));

  EXPECT_THROW(LatencySketch::FromBuckets(0, 0, {1}, 0), std::invalid_argument);
  EXPECT_THROW(LatencySketch::FromBuckets(1.5, 0, {1}, 0), std::invalid_argument);
}

TEST(LatencySketchTest, ClearKeepsAccuracyAndEmpties) {
  LatencySketch sketch(0.02);
  sketch.Add(1, 3);
  sketch.Clear();
  EXPECT_EQ(sketch, LatencySketch(0.02));
  sketch.Add(2);
  EXPECT_NEAR(sketch.Quantile(0.5), 2, 0.04);
}

}  // namespace
}  // namespace perfd
