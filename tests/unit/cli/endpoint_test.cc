#include "cli/endpoint.h"

#include <gtest/gtest.h>

#include "proto/perfd/v1/limits.h"

namespace perfd::cli {
namespace {

TEST(ChannelTarget, PathsBecomeUnixTargets) {
  EXPECT_EQ(ChannelTarget("unix:///run/perfd/perfd.sock"), "unix:///run/perfd/perfd.sock");
  EXPECT_EQ(ChannelTarget("/tmp/p.sock"), "unix:/tmp/p.sock");
  EXPECT_EQ(ChannelTarget("10.0.0.5:50051"), "10.0.0.5:50051");
  EXPECT_EQ(ChannelTarget("localhost:50051"), "localhost:50051");
}

TEST(PerfdChannelArguments, AcceptsResponsesUpTo256MiB) {
  grpc::ChannelArguments args = PerfdChannelArguments();
  grpc_channel_args c_args{};
  args.SetChannelArgs(&c_args);
  int max_receive = 0;  // absent: gRPC's 4 MiB default
  for (size_t i = 0; i < c_args.num_args; ++i) {
    if (std::string(c_args.args[i].key) == GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH) {
      ASSERT_EQ(c_args.args[i].type, GRPC_ARG_INTEGER);
      max_receive = c_args.args[i].value.integer;
    }
  }
  EXPECT_EQ(max_receive, 256 * 1024 * 1024);
  EXPECT_EQ(max_receive, kApiMaxResponseBytes);
}

TEST(DescribeRpcError, ServerMessagesAreEscaped) {
  EXPECT_EQ(DescribeRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no route \"/x\x1b[2J\""),
                             "unix:///run/perfd/perfd.sock"),
            "perfctl: no route \"/x\\x1b[2J\"");
}

TEST(DescribeRpcError, UnreachableDaemon) {
  // The message gRPC 1.51 gives for a missing socket file.
  grpc::Status status(grpc::StatusCode::UNAVAILABLE,
                      "failed to connect to all addresses; last error: UNKNOWN: "
                      "unix:/run/perfd/perfd.sock: No such file or directory");
  EXPECT_EQ(DescribeRpcError(status, "unix:///run/perfd/perfd.sock"),
            "perfctl: cannot reach perfd at unix:///run/perfd/perfd.sock: failed to connect "
            "to all addresses; last error: UNKNOWN: unix:/run/perfd/perfd.sock: No such file "
            "or directory (is perfd running? see docs/PERFCTL.md)");

  EXPECT_EQ(DescribeRpcError(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
                             "10.0.0.5:50051"),
            "perfctl: cannot reach perfd at 10.0.0.5:50051: no answer in time (is perfd "
            "running? see docs/PERFCTL.md)");
}

TEST(DescribeRpcError, PermissionDeniedPointsAtSudo) {
  grpc::Status status(grpc::StatusCode::UNAVAILABLE,
                      "failed to connect to all addresses; last error: UNKNOWN: "
                      "unix:/run/perfd/perfd.sock: Permission denied");
  const std::string line = DescribeRpcError(status, "unix:///run/perfd/perfd.sock");
  EXPECT_EQ(line.find("perfctl: cannot reach perfd at unix:///run/perfd/perfd.sock: "), 0u);
  EXPECT_NE(line.find("use sudo, or set listen.grpc_socket_group"), std::string::npos) << line;
}

TEST(DescribeRpcError, ServerErrorsPrintTheServerMessage) {
  grpc::Status status(grpc::StatusCode::NOT_FOUND,
                      "unknown service \"nope\"; known services: api, billing");
  EXPECT_EQ(DescribeRpcError(status, "x"),
            "perfctl: unknown service \"nope\"; known services: api, billing");
  EXPECT_NE(DescribeRpcError(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""), "h:1")
                .find("h:1 does not serve the perfd API"),
            std::string::npos);
}

// A perfd from before an RPC was added answers UNIMPLEMENTED: the line says
// which call, not that the endpoint is no perfd at all.
TEST(DescribeRpcError, AnRpcAnOlderPerfdLacksIsNamed) {
  EXPECT_EQ(
      DescribeRpcError(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""), "h:1", "GetBreakdown"),
      "perfctl: h:1 does not serve GetBreakdown (an older perfd? this command needs a newer "
      "one)");
  // Other errors as without the name.
  grpc::Status status(grpc::StatusCode::NOT_FOUND, "unknown service \"nope\"; known services: api");
  EXPECT_EQ(DescribeRpcError(status, "h:1", "GetBreakdown"), DescribeRpcError(status, "h:1"));
}

}  // namespace
}  // namespace perfd::cli
