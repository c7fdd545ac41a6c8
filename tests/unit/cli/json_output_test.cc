#include "cli/json_output.h"

#include <gtest/gtest.h>

#include "perfd/v1/perfd.pb.h"

namespace perfd::cli {
namespace {

TEST(ToJson, CanonicalNamesZerosAndInt64AsStrings) {
  v1::GetTopResponse top;
  top.set_service("shop");
  top.set_window_seconds(60);
  top.set_timestamp_unix_nanos(1700000000000000000LL);
  v1::RouteStats* r = top.add_routes();
  r->set_method("GET");
  r->set_route("/users/{user_id}");
  r->set_requests(12);
  r->set_p99_seconds(0.25);
  r->mutable_latency()->set_relative_accuracy(0.01);
  r->mutable_latency()->set_min_index(-300);
  r->mutable_latency()->add_counts(12);
  (*r->mutable_status_codes())["200"] = 12;

  const std::string json = ToJson(top);
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "one line";
  for (const char* fragment :
       {"\"service\":\"shop\"", "\"windowSeconds\":60",
        "\"timestampUnixNanos\":\"1700000000000000000\"", "\"requests\":\"12\"", "\"errors\":\"0\"",
        "\"errorRatio\":0", "\"requestsPerSecond\":0", "\"p99Seconds\":0.25", "\"inFlight\":0",
        "\"minIndex\":-300", "\"counts\":[\"12\"]", "\"zeroCount\":\"0\"",
        "\"statusCodes\":{\"200\":\"12\"}"}) {
    EXPECT_NE(json.find(fragment), std::string::npos) << fragment << " in " << json;
  }
}

TEST(ToJson, EmptyListsArePrinted) {
  EXPECT_EQ(ToJson(v1::ListServicesResponse()), "{\"services\":[]}\n");
}

}  // namespace
}  // namespace perfd::cli
