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
#include <string>

#include "daemon/api/grpc_service.h"
#include "perfd/v1/perfd.grpc.pb.h"
#include "tests/unit/api/fake_worker_directory.h"

namespace perfd {
namespace {

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
