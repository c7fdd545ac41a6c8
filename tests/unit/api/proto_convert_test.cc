#include "daemon/api/proto_convert.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace perfd {
namespace {

TEST(SketchProto, RoundTripKeepsEveryBucketAndQuantile) {
  LatencySketch sketch(0.01);
  for (int i = 1; i <= 1000; ++i) sketch.Add(i * 1e-4);  // 0.1 ms .. 100 ms
  sketch.Add(0.0, 7);                                    // zero bucket
  sketch.Add(2.5, 3);

  v1::LatencySketch proto;
  SketchToProto(sketch, &proto);
  EXPECT_DOUBLE_EQ(proto.relative_accuracy(), 0.01);
  EXPECT_EQ(proto.zero_count(), 7u);
  uint64_t total = proto.zero_count();
  for (uint64_t c : proto.counts()) total += c;
  EXPECT_EQ(total, 1010u);
  // Dense export: no zero padding at either end.
  ASSERT_GT(proto.counts_size(), 0);
  EXPECT_NE(proto.counts(0), 0u);
  EXPECT_NE(proto.counts(proto.counts_size() - 1), 0u);

  // Through the wire format too, as perfctl and other nodes see it.
  v1::LatencySketch parsed;
  ASSERT_TRUE(parsed.ParseFromString(proto.SerializeAsString()));
  LatencySketch back = SketchFromProto(parsed);
  EXPECT_TRUE(back == sketch);
  for (double q : {0.0, 0.01, 0.5, 0.9, 0.99, 1.0}) {
    EXPECT_DOUBLE_EQ(back.Quantile(q), sketch.Quantile(q)) << q;
  }
}

TEST(SketchProto, EmptyAndZeroOnlySketches) {
  v1::LatencySketch proto;
  SketchToProto(LatencySketch(0.02), &proto);
  EXPECT_EQ(proto.counts_size(), 0);
  EXPECT_EQ(proto.zero_count(), 0u);
  EXPECT_EQ(SketchFromProto(proto).Count(), 0u);

  LatencySketch zeros(0.02);
  zeros.Add(0.0, 4);
  SketchToProto(zeros, &proto);
  EXPECT_EQ(proto.counts_size(), 0);
  LatencySketch back = SketchFromProto(proto);
  EXPECT_EQ(back.Count(), 4u);
  EXPECT_EQ(back.Quantile(0.99), 0.0);
}

TEST(SketchProto, NegativeMinIndexSurvivesSint32) {
  LatencySketch sketch(0.01);
  sketch.Add(50e-6);  // sub-second latencies have negative bucket indices
  v1::LatencySketch proto;
  SketchToProto(sketch, &proto);
  EXPECT_LT(proto.min_index(), 0);
  v1::LatencySketch parsed;
  ASSERT_TRUE(parsed.ParseFromString(proto.SerializeAsString()));
  EXPECT_EQ(parsed.min_index(), proto.min_index());
  EXPECT_NEAR(SketchFromProto(parsed).Quantile(0.5), 50e-6, 50e-6 * 0.01);
}

TEST(SketchProto, UnsetAccuracyIsRejected) {
  v1::LatencySketch proto;  // a message that never set relative_accuracy
  proto.add_counts(3);
  EXPECT_THROW(SketchFromProto(proto), std::invalid_argument);
}

TEST(RouteProto, FillsAllFields) {
  RouteSnapshot route;
  route.method = "GET";
  route.route = "/users/{user_id}";
  route.requests = 40;
  route.errors = 10;
  route.aborted = 2;
  route.requests_per_second = 40.0 / 60;
  route.latency = LatencySketch(0.01);
  for (int i = 1; i <= 40; ++i) route.latency.Add(i * 0.01);  // 10 ms .. 400 ms
  route.queue = LatencySketch(0.01);
  for (int i = 1; i <= 40; ++i) route.queue.Add(i <= 20 ? 0 : 0.005);  // half waited 5 ms
  route.max_seconds = 0.4;
  route.in_flight = 3;
  route.status_codes = {{"200", 30}, {"503", 8}, {"aborted", 2}};

  v1::RouteStats out;
  RouteToProto(route, &out);
  EXPECT_EQ(out.method(), "GET");
  EXPECT_EQ(out.route(), "/users/{user_id}");
  EXPECT_EQ(out.requests(), 40u);
  EXPECT_EQ(out.errors(), 10u);
  EXPECT_EQ(out.aborted(), 2u);
  EXPECT_DOUBLE_EQ(out.requests_per_second(), 40.0 / 60);
  EXPECT_DOUBLE_EQ(out.error_ratio(), 0.25);
  EXPECT_NEAR(out.p50_seconds(), 0.20, 0.20 * 0.01);  // rank 20 of 40
  EXPECT_NEAR(out.p90_seconds(), 0.36, 0.36 * 0.01);  // rank 36
  EXPECT_NEAR(out.p99_seconds(), 0.40, 0.40 * 0.01);  // rank ceil(39.6) = 40
  EXPECT_DOUBLE_EQ(out.max_seconds(), 0.4);
  EXPECT_EQ(out.in_flight(), 3u);
  EXPECT_EQ(out.latency().relative_accuracy(), 0.01);
  EXPECT_EQ(SketchFromProto(out.latency()).Count(), 40u);
  EXPECT_EQ(out.queue_p50_seconds(), 0.0);  // rank 20 is a zero
  EXPECT_NEAR(out.queue_p90_seconds(), 0.005, 0.005 * 0.01);
  EXPECT_NEAR(out.queue_p99_seconds(), 0.005, 0.005 * 0.01);
  EXPECT_EQ(SketchFromProto(out.queue()).Count(), 40u);
  EXPECT_EQ(out.queue().zero_count(), 20u);
  ASSERT_EQ(out.status_codes_size(), 3);
  EXPECT_EQ(out.status_codes().at("200"), 30u);
  EXPECT_EQ(out.status_codes().at("503"), 8u);
  EXPECT_EQ(out.status_codes().at("aborted"), 2u);
}

TEST(RouteProto, OnlyInFlightHasNoRatioOrQuantiles) {
  RouteSnapshot route;
  route.method = "POST";
  route.route = "/orders";
  route.in_flight = 5;
  v1::RouteStats out;
  RouteToProto(route, &out);
  EXPECT_EQ(out.requests(), 0u);
  EXPECT_EQ(out.error_ratio(), 0.0);  // not NaN
  EXPECT_EQ(out.p50_seconds(), 0.0);
  EXPECT_EQ(out.p99_seconds(), 0.0);
  EXPECT_EQ(out.queue_p50_seconds(), 0.0);
  EXPECT_EQ(out.in_flight(), 5u);
}

TEST(WorkerProto, JoinsArgvWithSingleSpaces) {
  Worker worker;
  worker.pid = 4242;
  worker.service = "shop";
  worker.app_spec = "shop.main:app";
  worker.server = "uvicorn";
  worker.argv = {"/usr/bin/python3", "-m", "uvicorn", "shop.main:app", "--port", "8000"};
  v1::Worker out;
  WorkerToProto(worker, &out);
  EXPECT_EQ(out.pid(), 4242u);
  EXPECT_EQ(out.app_spec(), "shop.main:app");
  EXPECT_EQ(out.server(), "uvicorn");
  EXPECT_EQ(out.cmdline(), "/usr/bin/python3 -m uvicorn shop.main:app --port 8000");
}

}  // namespace
}  // namespace perfd
