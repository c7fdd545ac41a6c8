#include "cli/endpoint.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "cli/terminal_text.h"
#include "proto/perfd/v1/limits.h"

namespace perfd::cli {

std::string ChannelTarget(const std::string& endpoint) {
  if (!endpoint.empty() && endpoint[0] == '/') return "unix:" + endpoint;
  return endpoint;
}

grpc::ChannelArguments PerfdChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kApiMaxResponseBytes);
  return args;
}

std::shared_ptr<grpc::Channel> CreatePerfdChannel(const std::string& endpoint) {
  return grpc::CreateCustomChannel(ChannelTarget(endpoint), grpc::InsecureChannelCredentials(),
                                   PerfdChannelArguments());
}

std::string DescribeRpcError(const grpc::Status& status, const std::string& endpoint) {
  // A server message may quote names that came from a traced application.
  const std::string message = EscapeForTerminal(status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: {
      const std::string reason = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                                     ? "no answer in time"
                                     : message;
      // The socket is root-only by default; that is the usual first failure.
      const bool denied = message.find("Permission denied") != std::string::npos;
      return "perfctl: cannot reach perfd at " + endpoint + ": " + reason +
             (denied ? " (the socket is root-only: use sudo, or set listen.grpc_socket_group; "
                       "see docs/PERFCTL.md)"
                     : " (is perfd running? see docs/PERFCTL.md)");
    }
    case grpc::StatusCode::UNIMPLEMENTED:
      return "perfctl: " + endpoint + " does not serve the perfd API (" + message + ")";
    default:
      return "perfctl: " + message;
  }
}

}  // namespace perfd::cli
