#include "cli/endpoint.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

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

bool IsUnixEndpoint(const std::string& endpoint) {
  return ChannelTarget(endpoint).rfind("unix:", 0) == 0;
}

namespace {

// nullopt when unreadable; errno is kept for the message.
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

}  // namespace

std::string CheckClientTls(const ClientTls& tls) {
  if (tls.cert.empty() != tls.key.empty()) {
    return tls.cert.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key";
  }
  if (!tls.enabled() && !tls.cert.empty()) {
    return "--tls-cert/--tls-key need --tls-ca (the CA that signed perfd's certificate)";
  }
  const std::pair<const char*, const std::string*> files[] = {
      {"--tls-ca", &tls.ca}, {"--tls-cert", &tls.cert}, {"--tls-key", &tls.key}};
  for (const auto& [flag, path] : files) {
    if (path->empty()) continue;
    std::ifstream in(*path);
    if (!in) return std::string(flag) + ": cannot read " + *path + ": " + std::strerror(errno);
  }
  return "";
}

std::shared_ptr<grpc::Channel> CreatePerfdChannel(const std::string& target, const ClientTls& tls,
                                                  const std::string& tls_name) {
  grpc::ChannelArguments args = PerfdChannelArguments();
  const std::string channel_target = ChannelTarget(target);
  if (!tls.enabled() || IsUnixEndpoint(target)) {
    return grpc::CreateCustomChannel(channel_target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(tls.ca).value_or("");
  if (!tls.cert.empty()) {
    options.pem_cert_chain = ReadFile(tls.cert).value_or("");
    options.pem_private_key = ReadFile(tls.key).value_or("");
  }
  // Dialled by address, checked by name: the certificate names the DNS
  // name (or Service), not each node's IP.
  if (!tls_name.empty()) args.SetSslTargetNameOverride(tls_name);
  return grpc::CreateCustomChannel(channel_target, grpc::SslCredentials(options), args);
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

std::string DescribeRpcError(const grpc::Status& status, const std::string& endpoint,
                             const std::string& rpc) {
  if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
    return DescribeRpcError(status, endpoint);
  }
  return "perfctl: " + endpoint + " does not serve " + rpc +
         " (an older perfd? this command needs a newer one)";
}

}  // namespace perfd::cli
