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

// --tls-ca / --tls-cert / --tls-key (PEM file paths) for TCP endpoints.
// With ca set, perfctl verifies the server against it and presents
// cert/key as its client certificate (perfd's mTLS needs both).
struct ClientTls {
  std::string ca;
  std::string cert;
  std::string key;
  bool enabled() const { return !ca.empty(); }
};

// "" when usable; else the usage error (a key without its certificate, a
// certificate without --tls-ca, an unreadable file; the message names the
// flag and path, never file contents).
std::string CheckClientTls(const ClientTls& tls);

// Whether an endpoint is a unix socket ("unix:..." or an absolute path),
// which is always plaintext (its file mode guards it).
bool IsUnixEndpoint(const std::string& endpoint);

// A channel to a gRPC target (ChannelTarget form) with PerfdChannelArguments:
// TLS when tls.enabled() and the target is TCP, else plaintext.
// tls_name: the name the server certificate must carry, when the target is
// an address the name resolved to (SSL target name override); "" = the
// target's own host. Reads the PEM files; a read failure is a channel whose
// calls fail (CheckClientTls reports it first).
std::shared_ptr<grpc::Channel> CreatePerfdChannel(const std::string& target, const ClientTls& tls,
                                                  const std::string& tls_name = "");

// Exit codes (docs/PERFCTL.md): 0 ok, 1 daemon/server error, 2 usage,
// 3 partial (some endpoints did not answer; what the others sent is shown).
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitPartial = 3;

// The one line perfctl prints for a failed RPC (without trailing newline),
// e.g. `perfctl: cannot reach perfd at <endpoint>: <reason> (is perfd
// running? see docs/PERFCTL.md)`; server errors print the server's message.
std::string DescribeRpcError(const grpc::Status& status, const std::string& endpoint);
// The same for a call of `rpc` ("GetBreakdown") that older perfd versions
// do not serve: UNIMPLEMENTED names it, e.g. `perfctl: <endpoint> does not
// serve GetBreakdown (an older perfd? this command needs a newer one)`.
std::string DescribeRpcError(const grpc::Status& status, const std::string& endpoint,
                             const std::string& rpc);

}  // namespace perfd::cli
