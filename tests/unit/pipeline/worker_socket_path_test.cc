// OpenSocketInRoot: a worker's unix socket path is resolved inside the
// worker's root (here a temp dir standing in for /proc/<pid>/root), refusing
// a symlink at any component, ".." out of the root and anything that is not
// a socket; the descriptor it returns connects to that very socket.
#include "daemon/pipeline/worker_socket_path.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace perfd {
namespace {

// A temp dir as the worker's root, with a listening socket at <root>/run/app.sock.
class WorkerRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/perfd-sockpath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_EQ(mkdir((root_ + "/run").c_str(), 0755), 0);
    listener_ = Listen(root_ + "/run/app.sock");
  }
  void TearDown() override {
    if (listener_ >= 0) close(listener_);
    std::system(("rm -rf '" + root_ + "'").c_str());
  }

  static int Listen(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 8) != 0)
      throw std::runtime_error("cannot listen on " + path);
    return fd;
  }

  // Refused (or with refused=false: failed): -1 and a reason.
  void ExpectRefused(const std::string& path, const std::string& why, bool refused = true) {
    std::string error;
    bool was_refused = !refused;
    int fd = OpenSocketInRoot(root_, path, &error, &was_refused);
    EXPECT_EQ(fd, -1) << path;
    EXPECT_EQ(was_refused, refused) << path;
    if (fd >= 0) close(fd);
    EXPECT_NE(error.find(why), std::string::npos) << path << ": " << error;
  }

  std::string root_;
  int listener_ = -1;
};

TEST_F(WorkerRoot, SocketInTheRootConnects) {
  std::string error;
  int fd = OpenSocketInRoot(root_, "/run/app.sock", &error);
  ASSERT_GE(fd, 0) << error;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(ConnectThroughPathFd(s, fd), 0) << std::strerror(errno);
  int accepted = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_GE(accepted, 0);  // the connection reached this very listener
  close(accepted);
  close(s);
  close(fd);
}

TEST_F(WorkerRoot, SymlinkedSocketIsRefused) {
  ASSERT_EQ(symlink("app.sock", (root_ + "/run/link.sock").c_str()), 0);
  ExpectRefused("/run/link.sock", "symlink");
}

TEST_F(WorkerRoot, SymlinkedDirectoryIsRefused) {
  ASSERT_EQ(symlink("run", (root_ + "/var-run").c_str()), 0);
  ExpectRefused("/var-run/app.sock", "symlink");
}

TEST_F(WorkerRoot, AbsoluteSymlinkOutOfTheRootIsRefused) {
  // What a worker would plant to point root-owned perfd at a host socket.
  ASSERT_EQ(symlink("/run/host.sock", (root_ + "/run/evil.sock").c_str()), 0);
  ExpectRefused("/run/evil.sock", "symlink");
}

TEST_F(WorkerRoot, DotDotStaysInTheRoot) {
  // "/../../<root>/run/app.sock" from the root is "/<root>/run/app.sock"
  // inside it, which does not exist: the host's file is never reached.
  ExpectRefused("/../.." + root_ + "/run/app.sock", "No such file", /*refused=*/false);
  // A path through ".." that stays inside is fine.
  std::string error;
  int fd = OpenSocketInRoot(root_, "/run/../run/app.sock", &error);
  EXPECT_GE(fd, 0) << error;
  if (fd >= 0) close(fd);
}

TEST_F(WorkerRoot, AbsolutePathsAreTheWorkersNotOurs) {
  // The same path on the host is a different file: only the root's counts.
  std::string error;
  int fd = OpenSocketInRoot(root_, root_ + "/run/app.sock", &error);
  EXPECT_EQ(fd, -1);
  if (fd >= 0) close(fd);
}

TEST_F(WorkerRoot, RegularFileIsRefused) {
  std::ofstream(root_ + "/run/plain") << "not a socket";
  ExpectRefused("/run/plain", "not a socket");
}

TEST_F(WorkerRoot, MissingRootIsAnError) {
  std::string error;
  EXPECT_EQ(OpenSocketInRoot(root_ + "/nope", "/run/app.sock", &error), -1);
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

}  // namespace
}  // namespace perfd
