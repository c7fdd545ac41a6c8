// mTLS for the API's TCP listener (listen.grpc_tls_*): the server presents
// listen.grpc_tls_cert/key and requires every client to present a
// certificate that chains to listen.grpc_tls_client_ca. The three files are
// watched, not read once: a rotated certificate (a Kubernetes Secret update,
// cert-manager renewal) is served from the next check on, without a restart
// and without dropping open connections. The unix socket stays plaintext:
// its file mode is its access control.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "daemon/config/config.h"

namespace perfd {

// How often the files are re-read (gRPC's FileWatcherCertificateProvider).
// A new certificate is served at most this long after it lands on disk; a
// half-written update (key and certificate that do not match) is ignored and
// the previous pair kept until the next check.
inline constexpr unsigned kGrpcTlsRefreshSeconds = 5;

// Whether listen.grpc_tls_* are set (ParseConfig guarantees all or none).
bool GrpcTlsConfigured(const Config& config);

// At start: the three files must be readable, the certificate and client CA
// files hold a PEM certificate, the key file an unencrypted PEM private key
// that belongs to the certificate; otherwise a ConfigError naming the key and
// the path (perfd exits 2). The key's bytes are wiped after the check and
// never logged.
void CheckGrpcTlsFiles(const Config& config);

// Credentials for listen.grpc_tcp: mTLS when configured, else plaintext
// (CheckListenSecurity allowed it: loopback, or grpc_tcp_insecure).
std::shared_ptr<grpc::ServerCredentials> GrpcTcpCredentials(const Config& config);

}  // namespace perfd
