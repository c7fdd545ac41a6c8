#include "daemon/api/grpc_server.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include "daemon/api/grpc_service.h"
#include "perfd/v1/perfd.grpc.pb.h"
#include "proto/perfd/v1/limits.h"
#include "tests/unit/api/bind_spy.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

// Sets the umask for one test and restores it.
class UmaskForTest {
 public:
  explicit UmaskForTest(mode_t mask) : saved_(umask(mask)) {}
  ~UmaskForTest() { umask(saved_); }

 private:
  mode_t saved_;
};

mode_t CurrentUmask() {
  const mode_t mask = umask(0);
  umask(mask);
  return mask;
}

std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ApiServerError& e) {
    return e.what();
  }
  return "";
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest() : aggregator_(600), service_(aggregator_, workers_, 600) {
    char tmpl[] = "/tmp/perfd-api-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/run/perfd/perfd.sock";  // parent dirs do not exist yet
  }
  ~ApiServerTest() override { std::system(("rm -rf " + dir_).c_str()); }

  static std::unique_ptr<v1::Perfd::Stub> Client(const std::string& target) {
    return v1::Perfd::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  static grpc::Status ListServices(v1::Perfd::Stub& stub, v1::ListServicesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub.ListServices(&ctx, v1::ListServicesRequest(), out);
  }

  Aggregator aggregator_;
  FakeWorkerDirectory workers_;
  PerfdService service_;
  std::string dir_;
  std::string socket_;
};

TEST_F(ApiServerTest, UnixSocketRoundTripWithMode0600) {
  aggregator_.RecordComplete("api", "GET", "/health", 200, false, 1, 2);
  workers_.Set({MakeWorker(77, "api")});
  ApiServer server(service_);
  server.Start(socket_, "", "");
  EXPECT_TRUE(S_ISSOCK(ModeOf(socket_)));
  EXPECT_EQ(ModeOf(socket_) & 07777, 0600u);
  EXPECT_EQ(ModeOf(dir_ + "/run/perfd") & 07777, 0755u);
  EXPECT_EQ(server.tcp_port(), 0);

  auto stub = Client("unix://" + socket_);
  v1::ListServicesResponse list;
  grpc::Status status = ListServices(*stub, &list);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(list.services_size(), 1);
  EXPECT_EQ(list.services(0).name(), "api");
  EXPECT_EQ(list.services(0).requests_total(), 1u);
  EXPECT_EQ(list.services(0).workers(0).pid(), 77u);

  // Errors travel with their code and message.
  grpc::ClientContext ctx;
  v1::GetTopRequest request;
  request.set_service("nope");
  v1::GetTopResponse top;
  status = stub->GetTop(&ctx, request, &top);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "unknown service \"nope\"; known services: api");

  server.Shutdown();
  struct stat st {};
  EXPECT_NE(lstat(socket_.c_str(), &st), 0) << "socket file left behind";
}

TEST_F(ApiServerTest, GroupSocketIs0660WithThatGroup) {
  struct group* g = getgrgid(getegid());
  ASSERT_NE(g, nullptr);
  ApiServer server(service_);
  server.Start(socket_, g->gr_name, "");
  struct stat st {};
  ASSERT_EQ(lstat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, getegid());
}

TEST_F(ApiServerTest, UnknownGroupFailsBeforeListening) {
  ApiServer server(service_);
  std::string error = ErrorOf([&] { server.Start(socket_, "no-such-group-perfd", ""); });
  EXPECT_NE(error.find("no-such-group-perfd"), std::string::npos) << error;
  struct stat st {};
  EXPECT_NE(lstat(socket_.c_str(), &st), 0);
}

TEST_F(ApiServerTest, ReplacesStaleSocketButNotARegularFile) {
  ASSERT_EQ(system(("mkdir -p " + dir_ + "/run/perfd").c_str()), 0);
  // A socket file nobody listens on, as a crashed perfd leaves behind.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  {
    ApiServer server(service_);
    server.Start(socket_, "", "");
    v1::ListServicesResponse list;
    EXPECT_TRUE(ListServices(*Client("unix:" + socket_), &list).ok());
  }

  { std::ofstream(socket_) << "precious"; }
  ApiServer server(service_);
  std::string error = ErrorOf([&] { server.Start(socket_, "", ""); });
  EXPECT_NE(error.find(socket_), std::string::npos) << error;
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  std::ifstream in(socket_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ApiServerTest, SecondServerOnALiveSocketFails) {
  ApiServer first(service_);
  first.Start(socket_, "", "");
  PerfdService other(aggregator_, workers_, 600);
  ApiServer second(other);
  std::string error = ErrorOf([&] { second.Start(socket_, "", ""); });
  EXPECT_NE(error.find("already serving on " + socket_), std::string::npos) << error;
  // The first server still answers.
  v1::ListServicesResponse list;
  EXPECT_TRUE(ListServices(*Client("unix:" + socket_), &list).ok());
}

TEST_F(ApiServerTest, TcpListenerOnEphemeralPort) {
  ApiServer server(service_);
  server.Start(socket_, "", "127.0.0.1:0");
  ASSERT_GT(server.tcp_port(), 0);
  v1::ListServicesResponse list;
  grpc::Status status =
      ListServices(*Client("127.0.0.1:" + std::to_string(server.tcp_port())), &list);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ApiServerTest, TcpBindFailureNamesTheAddressAndCleansUp) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string taken = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  ApiServer server(service_);
  std::string error = ErrorOf([&] { server.Start(socket_, "", taken); });
  close(fd);
  EXPECT_NE(error.find(taken), std::string::npos) << error;
  struct stat st {};
  EXPECT_NE(lstat(socket_.c_str(), &st), 0) << "unix socket left behind";
}

TEST_F(ApiServerTest, RejectsRelativeAndTooLongPaths) {
  ApiServer server(service_);
  EXPECT_NE(ErrorOf([&] { server.Start("perfd.sock", "", ""); }).find("absolute"),
            std::string::npos);
  const std::string long_path = dir_ + "/" + std::string(120, 'x') + ".sock";
  EXPECT_NE(ErrorOf([&] { server.Start(long_path, "", ""); }).find(long_path), std::string::npos);
}

}  // namespace
}  // namespace perfd

namespace perfd {
namespace {

TEST_F(ApiServerTest, SocketIsBornWithItsFinalModeWhateverTheUmask) {
  // A permissive umask (as a daemon started from a careless unit might
  // have): bind() alone would create the socket 0777, and gRPC serves from
  // that moment on, before any chmod.
  UmaskForTest permissive(0);
  {
    ApiServer server(service_);
    server.Start(socket_, "", "");
    const std::optional<mode_t> at_bind = bind_spy::ModeAtBind(socket_);
    ASSERT_TRUE(at_bind.has_value()) << "the bind() spy did not see gRPC's bind";
    EXPECT_TRUE(S_ISSOCK(*at_bind));
    EXPECT_EQ(*at_bind & 07777, 0600u);
    EXPECT_EQ(ModeOf(socket_) & 07777, 0600u);
    EXPECT_EQ(CurrentUmask(), 0u) << "the process umask was not restored";
  }

  // With a group: 0600 at bind, and group access only once the group is set.
  struct group* g = getgrgid(getegid());
  ASSERT_NE(g, nullptr);
  ApiServer server(service_);
  server.Start(socket_, g->gr_name, "");
  const std::optional<mode_t> at_bind = bind_spy::ModeAtBind(socket_);
  ASSERT_TRUE(at_bind.has_value());
  EXPECT_EQ(*at_bind & 07777, 0600u);
  EXPECT_EQ(ModeOf(socket_) & 07777, 0660u);
}

TEST_F(ApiServerTest, RefusesASymlinkAtTheSocketPath) {
  ASSERT_EQ(system(("mkdir -p " + dir_ + "/run/perfd").c_str()), 0);
  const std::string target = dir_ + "/target";
  { std::ofstream(target) << "precious"; }
  const mode_t target_mode = ModeOf(target);
  ASSERT_EQ(symlink(target.c_str(), socket_.c_str()), 0);
  ApiServer server(service_);
  std::string error = ErrorOf([&] { server.Start(socket_, "", ""); });
  EXPECT_NE(error.find(socket_), std::string::npos) << error;
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  EXPECT_TRUE(S_ISLNK(ModeOf(socket_))) << "the symlink was replaced";
  EXPECT_EQ(ModeOf(target), target_mode) << "the symlink's target was touched";
  std::string content;
  std::ifstream(target) >> content;
  EXPECT_EQ(content, "precious");

  // A dangling one (where perfd would create a file through it) too.
  ASSERT_EQ(unlink(socket_.c_str()), 0);
  ASSERT_EQ(symlink((dir_ + "/nowhere").c_str(), socket_.c_str()), 0);
  error = ErrorOf([&] { server.Start(socket_, "", ""); });
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  struct stat st {};
  EXPECT_NE(lstat((dir_ + "/nowhere").c_str(), &st), 0);
}

TEST_F(ApiServerTest, RefusesADirectoryOthersCanWriteTo) {
  const std::string parent = dir_ + "/run/perfd";
  ASSERT_EQ(system(("mkdir -p " + parent).c_str()), 0);
  for (const mode_t mode : {0777, 01777, 0775, 0757}) {
    ASSERT_EQ(chmod(parent.c_str(), mode), 0);
    ApiServer server(service_);
    const std::string error = ErrorOf([&] { server.Start(socket_, "", ""); });
    EXPECT_NE(error.find("directory " + parent + " "), std::string::npos) << error;
    EXPECT_NE(error.find("group- or world-writable"), std::string::npos) << error;
    struct stat st {};
    EXPECT_NE(lstat(socket_.c_str(), &st), 0) << "listened anyway with mode " << mode;
  }
  ASSERT_EQ(chmod(parent.c_str(), 0750), 0);  // not writable by others: fine
  ApiServer server(service_);
  server.Start(socket_, "", "");
  server.Shutdown();

  if (geteuid() == 0) {
    ASSERT_EQ(chown(parent.c_str(), 65534, static_cast<gid_t>(-1)), 0);
    const std::string error = ErrorOf([&] { server.Start(socket_, "", ""); });
    EXPECT_NE(error.find("directory " + parent + " "), std::string::npos) << error;
    EXPECT_NE(error.find("owned by uid 65534"), std::string::npos) << error;
  }
}

TEST_F(ApiServerTest, EmptySocketPathMeansTcpOnly) {
  ApiServer server(service_);
  server.Start("", "", "127.0.0.1:0");
  ASSERT_GT(server.tcp_port(), 0);
  v1::ListServicesResponse list;
  grpc::Status status =
      ListServices(*Client("127.0.0.1:" + std::to_string(server.tcp_port())), &list);
  EXPECT_TRUE(status.ok()) << status.error_message();
  struct stat st {};
  EXPECT_NE(lstat((dir_ + "/run").c_str(), &st), 0) << "created directories for no socket";
  server.Shutdown();

  EXPECT_NE(ErrorOf([&] { server.Start("", "", ""); }).find("no API listener"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { server.Start("", "adm", "127.0.0.1:0"); }).find("grpc_socket_group"),
            std::string::npos);
}

TEST_F(ApiServerTest, SendsResponsesUpToTheApiLimit) {
  // A ListServices answer over gRPC's default 4 MiB (argv is untrusted and
  // long); a client that accepts kApiMaxResponseBytes, as perfctl does, gets it.
  Worker big = MakeWorker(77, "api");
  big.argv.push_back(std::string(6 << 20, 'a'));
  workers_.Set({big});
  ApiServer server(service_);
  server.Start(socket_, "", "");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kApiMaxResponseBytes);
  auto stub = v1::Perfd::NewStub(
      grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args));
  v1::ListServicesResponse list;
  grpc::Status status = ListServices(*stub, &list);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(list.services_size(), 1);
  EXPECT_GT(list.services(0).workers(0).cmdline().size(), 6u << 20);
  // gRPC's default client limit would refuse it.
  EXPECT_EQ(ListServices(*Client("unix:" + socket_), &list).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace perfd
