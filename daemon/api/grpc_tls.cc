#include "daemon/api/grpc_tls.h"

#include <fcntl.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace perfd {
namespace {

// The largest PEM file perfd accepts (a long chain is a few KiB).
constexpr size_t kMaxPemBytes = 1 << 20;

void CheckPemFile(const char* key, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(key, "cannot open " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw ConfigError(key, "cannot read " + path + ": " + std::strerror(err));
    }
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxPemBytes) break;
  }
  ::close(fd);
  const bool pem = text.find("-----BEGIN ") != std::string::npos;
  // The key's bytes are wiped, not just dropped: they never reach a log.
  std::fill(text.begin(), text.end(), '\0');
  if (!pem) throw ConfigError(key, path + " holds no PEM block (-----BEGIN ...)");
}

}  // namespace

bool GrpcTlsConfigured(const Config& config) { return !config.grpc_tls_cert.empty(); }

void CheckGrpcTlsFiles(const Config& config) {
  if (!GrpcTlsConfigured(config)) return;
  CheckPemFile("listen.grpc_tls_cert", config.grpc_tls_cert);
  CheckPemFile("listen.grpc_tls_key", config.grpc_tls_key);
  CheckPemFile("listen.grpc_tls_client_ca", config.grpc_tls_client_ca);
}

std::shared_ptr<grpc::ServerCredentials> GrpcTcpCredentials(const Config& config) {
  if (!GrpcTlsConfigured(config)) return grpc::InsecureServerCredentials();
  namespace tls = grpc::experimental;
  auto provider = std::make_shared<tls::FileWatcherCertificateProvider>(
      config.grpc_tls_key, config.grpc_tls_cert, config.grpc_tls_client_ca, kGrpcTlsRefreshSeconds);
  tls::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // No certificate, or one that does not chain to the client CA: the
  // handshake fails before any RPC.
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return tls::TlsServerCredentials(options);
}

}  // namespace perfd
