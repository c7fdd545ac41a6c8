// mTLS on the API's TCP listener, in-process: certificates made with the
// openssl CLI (scripts/install-deps.sh installs it), a real gRPC server and
// clients with and without a certificate the server trusts.
#include "daemon/api/grpc_tls.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "daemon/api/grpc_server.h"
#include "daemon/api/grpc_service.h"
#include "perfd/v1/perfd.grpc.pb.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class GrpcTlsTest : public ::testing::Test {
 protected:
  GrpcTlsTest() {
    char tmpl[] = "/tmp/perfd-tls-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~GrpcTlsTest() override { std::system(("rm -rf " + dir_).c_str()); }

  // openssl in dir_; false (the test skips) when the CLI is missing.
  bool Openssl(const std::string& args) {
    return std::system(("cd " + dir_ + " && openssl " + args + " >/dev/null 2>&1").c_str()) == 0;
  }
  bool MakeCa(const std::string& name) {
    return Openssl(
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=" +
        name + " -keyout " + name + ".key -out " + name +
        ".crt -addext basicConstraints=critical,CA:TRUE");
  }
  bool MakeCert(const std::string& name, const std::string& ca, bool server) {
    std::ofstream(dir_ + "/" + name + ".ext")
        << (server ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                   : "extendedKeyUsage=clientAuth\n");
    return Openssl("req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name +
                   " -keyout " + name + ".key -out " + name + ".csr") &&
           Openssl("x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
                   ".key -CAcreateserial -days 2 -out " + name + ".crt -extfile " + name + ".ext");
  }
  void SetUpCertificates() {
    if (!MakeCa("ca") || !MakeCert("server", "ca", true) || !MakeCert("client", "ca", false) ||
        !MakeCa("rogue") || !MakeCert("rogue-client", "rogue", false)) {
      GTEST_SKIP() << "openssl CLI missing or failing";
    }
    config_.grpc_tcp = "127.0.0.1:0";
    config_.grpc_tls_cert = dir_ + "/server.crt";
    config_.grpc_tls_key = dir_ + "/server.key";
    config_.grpc_tls_client_ca = dir_ + "/ca.crt";
  }
  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  // ListServices over TLS, trusting ca_name, presenting client_name ("" = no
  // client certificate).
  grpc::Status Call(int port, const std::string& ca_name, const std::string& client_name) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Slurp(File(ca_name + ".crt"));
    if (!client_name.empty()) {
      options.pem_cert_chain = Slurp(File(client_name + ".crt"));
      options.pem_private_key = Slurp(File(client_name + ".key"));
    }
    auto stub = v1::Perfd::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(options)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListServicesResponse out;
    return stub->ListServices(&ctx, v1::ListServicesRequest(), &out);
  }

  std::string ErrorOf(const Config& config) {
    try {
      CheckGrpcTlsFiles(config);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_;
  Config config_;
};

TEST_F(GrpcTlsTest, FilesAreCheckedAtStartNamingTheKey) {
  SetUpCertificates();
  EXPECT_EQ(ErrorOf(config_), "");
  EXPECT_EQ(ErrorOf(Config{}), "");  // no TLS configured: nothing to check

  Config c = config_;
  c.grpc_tls_key = File("missing.key");
  EXPECT_EQ(ErrorOf(c), "listen.grpc_tls_key: cannot open " + File("missing.key") +
                            ": No such file or directory");
  c = config_;
  c.grpc_tls_key = File("client.key");  // a key, but not the certificate's
  EXPECT_NE(ErrorOf(c).find("listen.grpc_tls_key: " + File("client.key") +
                            " is not the key of the certificate in " + File("server.crt")),
            std::string::npos)
      << ErrorOf(c);
  c = config_;
  c.grpc_tls_key = File("server.crt");
  EXPECT_NE(ErrorOf(c).find("holds no PEM private key"), std::string::npos) << ErrorOf(c);
  c = config_;
  c.grpc_tls_cert = File("server.key");
  EXPECT_NE(ErrorOf(c).find("listen.grpc_tls_cert: "), std::string::npos) << ErrorOf(c);
  c = config_;
  c.grpc_tls_client_ca = File("client.ext");
  EXPECT_NE(ErrorOf(c).find("listen.grpc_tls_client_ca: " + File("client.ext") + " holds no PEM"),
            std::string::npos)
      << ErrorOf(c);
}

TEST_F(GrpcTlsTest, OnlyClientsWithACertificateFromTheClientCaGetIn) {
  SetUpCertificates();
  Aggregator aggregator(600);
  FakeWorkerDirectory workers;
  PerfdService service(aggregator, workers, 600);
  ApiServer server(service);
  server.Start("", "", config_.grpc_tcp, GrpcTcpCredentials(config_));
  const int port = server.tcp_port();
  ASSERT_GT(port, 0);

  EXPECT_TRUE(Call(port, "ca", "client").ok());
  const grpc::Status no_cert = Call(port, "ca", "");
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();
  const grpc::Status rogue = Call(port, "ca", "rogue-client");
  EXPECT_EQ(rogue.error_code(), grpc::StatusCode::UNAVAILABLE) << rogue.error_message();
  // The client checks the server too: a client trusting another CA.
  EXPECT_EQ(Call(port, "rogue", "client").error_code(), grpc::StatusCode::UNAVAILABLE);
  // Plaintext is not served on a TLS port.
  auto plain = v1::Perfd::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListServicesResponse out;
  EXPECT_FALSE(plain->ListServices(&ctx, v1::ListServicesRequest(), &out).ok());
  server.Shutdown();
}

}  // namespace
}  // namespace perfd
