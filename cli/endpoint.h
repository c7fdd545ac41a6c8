// Where perfctl finds perfd, and how it explains not finding it.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>

namespace perfd::cli {

constexpr const char* kDefaultEndpoint = "unix:///run/perfd/perfd.sock";

// gRPC target for --endpoint: "unix:..." and "host:port" pass through; a
// bare absolute path is taken as a unix socket.
std::string ChannelTarget(const std::string& endpoint);

// perfctl's channel arguments: responses up to kApiMaxResponseBytes
// (proto/perfd/v1/limits.h, 256 MiB) instead of gRPC's 4 MiB, so
// `perfctl profile` of a large service does not fail with RESOURCE_EXHAUSTED.
grpc::ChannelArguments PerfdChannelArguments();

// An insecure channel to the endpoint (ChannelTarget) with those arguments.
std::shared_ptr<grpc::Channel> CreatePerfdChannel(const std::string& endpoint);

// Exit codes (docs/PERFCTL.md): 0 ok, 1 daemon/server error, 2 usage.
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// The one line perfctl prints for a failed RPC (without trailing newline),
// e.g. `perfctl: cannot reach perfd at <endpoint>: <reason> (is perfd
// running? see docs/PERFCTL.md)`; server errors print the server's message.
std::string DescribeRpcError(const grpc::Status& status, const std::string& endpoint);

}  // namespace perfd::cli
