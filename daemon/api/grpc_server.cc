#include "daemon/api/grpc_server.h"

#include <errno.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "proto/perfd/v1/limits.h"

namespace perfd {
namespace {

std::string Errno() { return std::strerror(errno); }

gid_t ResolveGroup(const std::string& group) {
  std::vector<char> buf(16384);
  struct group entry {};
  struct group* found = nullptr;
  int rc;
  // Large groups need a bigger buffer than the usual 16 KiB.
  while ((rc = getgrnam_r(group.c_str(), &entry, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 22)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 || found == nullptr) {
    throw ApiServerError("listen.grpc_socket_group: unknown group \"" + group + "\"");
  }
  return found->gr_gid;
}

// mkdir -p with 0755 for the directories it creates; existing ones are kept
// as the administrator set them.
void MakeParentDirs(const std::string& socket_path) {
  for (size_t pos = socket_path.find('/', 1); pos != std::string::npos;
       pos = socket_path.find('/', pos + 1)) {
    const std::string dir = socket_path.substr(0, pos);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw ApiServerError("cannot create directory " + dir + " for the API socket " + socket_path +
                           ": " + Errno());
    }
  }
}

bool SomeoneListensOn(const std::string& socket_path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return connected;
}

// gRPC unlinks whatever is at the path before binding; check first so a
// second perfd cannot silently steal a live socket and a regular file that
// happens to be there is never deleted.
void RemoveStaleSocket(const std::string& socket_path) {
  struct stat st {};
  if (lstat(socket_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw ApiServerError("cannot stat API socket " + socket_path + ": " + Errno());
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw ApiServerError("API socket path " + socket_path +
                         " exists and is not a socket; refusing to replace it");
  }
  if (SomeoneListensOn(socket_path)) {
    throw ApiServerError("another process is already serving on " + socket_path +
                         " (is another perfd running?)");
  }
  if (unlink(socket_path.c_str()) != 0) {
    throw ApiServerError("cannot remove stale API socket " + socket_path + ": " + Errno());
  }
}

void SetSocketPermissions(const std::string& socket_path, bool has_group, gid_t gid) {
  // Owner stays the daemon's user (root in production).
  if (has_group && chown(socket_path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    throw ApiServerError("cannot chown API socket " + socket_path + ": " + Errno());
  }
  if (chmod(socket_path.c_str(), has_group ? 0660 : 0600) != 0) {
    throw ApiServerError("cannot chmod API socket " + socket_path + ": " + Errno());
  }
}

// Only ever a socket: the path was checked before binding, but an
// administrator may have put something else there since.
void RemoveOwnSocket(const std::string& socket_path) {
  struct stat st {};
  if (lstat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(socket_path.c_str());
}

}  // namespace

ApiServer::ApiServer(grpc::Service& service) : service_(service) {}

ApiServer::~ApiServer() { Shutdown(); }

void ApiServer::Start(const std::string& unix_socket_path, const std::string& socket_group,
                      const std::string& tcp_address) {
  if (server_) throw ApiServerError("API server already started");
  if (unix_socket_path.empty() || unix_socket_path[0] != '/') {
    throw ApiServerError("listen.grpc_socket must be an absolute path, got \"" + unix_socket_path +
                         "\"");
  }
  if (unix_socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw ApiServerError("API socket path " + unix_socket_path + " is longer than " +
                         std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  const bool has_group = !socket_group.empty();
  const gid_t gid = has_group ? ResolveGroup(socket_group) : 0;
  MakeParentDirs(unix_socket_path);
  RemoveStaleSocket(unix_socket_path);

  grpc::ServerBuilder builder;
  // Without this a second daemon could bind the same TCP port and split
  // traffic with the first instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // What perfctl accepts (proto/perfd/v1/limits.h): a larger answer fails
  // here with a clear RESOURCE_EXHAUSTED rather than in the client.
  builder.SetMaxSendMessageSize(kApiMaxResponseBytes);
  int unix_bound = 0;
  builder.AddListeningPort("unix:" + unix_socket_path, grpc::InsecureServerCredentials(),
                           &unix_bound);
  int tcp_bound = 0;
  if (!tcp_address.empty()) {
    builder.AddListeningPort(tcp_address, grpc::InsecureServerCredentials(), &tcp_bound);
  }
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (!server_) {
    RemoveOwnSocket(unix_socket_path);
    // Ports bind in order, so the first one left unset is the one that failed.
    if (unix_bound == 0) {
      throw ApiServerError("cannot listen on unix:" + unix_socket_path +
                           " (listen.grpc_socket); see the gRPC error above");
    }
    throw ApiServerError("cannot listen on " + tcp_address +
                         " (listen.grpc_tcp): address in use, not permitted, or not "
                         "a valid host:port");
  }
  socket_path_ = unix_socket_path;
  tcp_port_ = tcp_bound;
  try {
    SetSocketPermissions(unix_socket_path, has_group, gid);
  } catch (...) {
    Shutdown();
    throw;
  }
  spdlog::info("API listening on unix:{} (mode {}){}", unix_socket_path,
               has_group ? "0660 group " + socket_group : std::string("0600"),
               tcp_address.empty()
                   ? std::string()
                   : " and " + tcp_address + " (port " + std::to_string(tcp_port_) + ")");
}

void ApiServer::Shutdown() {
  if (!server_) return;
  // Give in-flight calls a moment, then cancel them: perfctl calls are short.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
  RemoveOwnSocket(socket_path_);
  socket_path_.clear();
  tcp_port_ = 0;
}

}  // namespace perfd
