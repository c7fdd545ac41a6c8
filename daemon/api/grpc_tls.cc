#include "daemon/api/grpc_tls.h"

#include <fcntl.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "daemon/config/config_file.h"

namespace perfd {
namespace {

// The largest PEM file perfd accepts (a long chain is a few KiB).
constexpr size_t kMaxPemBytes = 1 << 20;

// The file's bytes; a ConfigError naming the key when it cannot be read or
// is larger than kMaxPemBytes. Buffers are wiped (the key file is secret).
std::string ReadPemFile(const char* key, const std::string& path) {
  return ReadConfiguredFile(key, path, kMaxPemBytes, /*wipe=*/true);
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The first certificate of a PEM text; nullptr when there is none.
X509Ptr FirstCertificate(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

}  // namespace

bool GrpcTlsConfigured(const Config& config) { return !config.grpc_tls_cert.empty(); }

void CheckGrpcTlsFiles(const Config& config) {
  if (!GrpcTlsConfigured(config)) return;
  const std::string cert_pem = ReadPemFile("listen.grpc_tls_cert", config.grpc_tls_cert);
  const X509Ptr cert = FirstCertificate(cert_pem);
  if (!cert) {
    throw ConfigError("listen.grpc_tls_cert",
                      config.grpc_tls_cert + " holds no PEM certificate (-----BEGIN CERTIFICATE)");
  }
  std::string key_pem = ReadPemFile("listen.grpc_tls_key", config.grpc_tls_key);
  std::unique_ptr<EVP_PKEY, KeyFree> key;
  {
    std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  }
  // The key's bytes are wiped, not just dropped: they never reach a log.
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  ERR_clear_error();
  if (!key) {
    throw ConfigError("listen.grpc_tls_key", config.grpc_tls_key +
                                                 " holds no PEM private key (or it is encrypted: "
                                                 "perfd needs it unencrypted)");
  }
  // gRPC would start, then fail every handshake; say it now.
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw ConfigError(
        "listen.grpc_tls_key",
        config.grpc_tls_key + " is not the key of the certificate in " + config.grpc_tls_cert);
  }
  const std::string ca_pem = ReadPemFile("listen.grpc_tls_client_ca", config.grpc_tls_client_ca);
  if (!FirstCertificate(ca_pem)) {
    throw ConfigError(
        "listen.grpc_tls_client_ca",
        config.grpc_tls_client_ca + " holds no PEM certificate (-----BEGIN CERTIFICATE)");
  }
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
