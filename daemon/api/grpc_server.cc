#include "daemon/api/grpc_server.h"

#include <errno.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
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

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Whoever can write to the socket's directory can swap the socket (or put a
// symlink in its place) between the checks below and bind(), or replace it
// while perfd serves; so that directory must belong to root (or to perfd's
// own user, which is root in production and lets tests run unprivileged) and
// be writable by nobody else. Not fixed up silently: the administrator made
// it so and should know.
void CheckSocketDirectory(const std::string& socket_path) {
  const std::string dir = socket_path.substr(0, std::max<size_t>(socket_path.rfind('/'), 1));
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    throw ApiServerError("cannot stat directory " + dir + " of the API socket: " + Errno());
  }
  if (!S_ISDIR(st.st_mode)) {
    throw ApiServerError("parent of the API socket " + socket_path + ", " + dir +
                         ", is not a directory");
  }
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    throw ApiServerError("directory " + dir + " of the API socket is owned by uid " +
                         std::to_string(st.st_uid) +
                         ", not root; refusing to serve there (another user could replace the "
                         "socket): use a root-owned directory such as /run/perfd");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw ApiServerError("directory " + dir + " of the API socket is group- or world-writable (" +
                         OctalMode(st.st_mode) +
                         "); refusing to serve there (another user could replace the socket): "
                         "chmod go-w it or use a directory such as /run/perfd");
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
  if (S_ISLNK(st.st_mode)) {
    // Never followed nor removed: binding through it, or chmod'ing what it
    // points to, would let whoever planted it aim perfd at another file.
    throw ApiServerError("API socket path " + socket_path +
                         " is a symbolic link; refusing to use or replace it");
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

// Sets the umask for the lifetime of the object. The umask is per process,
// so other threads see it too; it is only ever made stricter here, for the
// few milliseconds of BuildAndStart at start-up, and no perfd thread creates
// files then (nor calls umask itself).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : saved_(umask(mask)) {}
  ~ScopedUmask() { umask(saved_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  const mode_t saved_;
};

// The socket was created 0600 (root only); with a group it now gets that
// group, and only then the group bits, so it is never wider than its final
// mode. The chmod also covers a default ACL on the directory (which
// overrides the umask; only root can have set one there, see
// CheckSocketDirectory): it caps the ACL mask to the mode.
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
                      const std::string& tcp_address,
                      std::shared_ptr<grpc::ServerCredentials> tcp_credentials) {
  if (server_) throw ApiServerError("API server already started");
  const bool use_unix = !unix_socket_path.empty();  // "" = unix socket disabled
  if (!use_unix && tcp_address.empty()) {
    throw ApiServerError("no API listener: listen.grpc_socket and listen.grpc_tcp are both empty");
  }
  if (!use_unix && !socket_group.empty()) {
    throw ApiServerError("listen.grpc_socket_group is set but listen.grpc_socket is empty");
  }
  if (use_unix && unix_socket_path[0] != '/') {
    throw ApiServerError("listen.grpc_socket must be an absolute path, got \"" + unix_socket_path +
                         "\"");
  }
  if (unix_socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw ApiServerError("API socket path " + unix_socket_path + " is longer than " +
                         std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  const bool has_group = !socket_group.empty();
  const gid_t gid = has_group ? ResolveGroup(socket_group) : 0;
  if (use_unix) {
    MakeParentDirs(unix_socket_path);
    CheckSocketDirectory(unix_socket_path);
    RemoveStaleSocket(unix_socket_path);
  }

  grpc::ServerBuilder builder;
  // Without this a second daemon could bind the same TCP port and split
  // traffic with the first instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // What perfctl accepts (proto/perfd/v1/limits.h): a larger answer fails
  // here with a clear RESOURCE_EXHAUSTED rather than in the client.
  builder.SetMaxSendMessageSize(kApiMaxResponseBytes);
  int unix_bound = 0;
  if (use_unix) {
    builder.AddListeningPort("unix:" + unix_socket_path, grpc::InsecureServerCredentials(),
                             &unix_bound);
  }
  int tcp_bound = 0;
  if (!tcp_address.empty()) {
    const bool tls = tcp_credentials != nullptr;
    builder.AddListeningPort(tcp_address,
                             tls ? std::move(tcp_credentials) : grpc::InsecureServerCredentials(),
                             &tcp_bound);
    tcp_security_ = tls ? "mTLS" : "plaintext";
  }
  builder.RegisterService(&service_);
  {
    // BuildAndStart binds and serves at once, so the socket must be born
    // with its final (or a stricter) mode: bind() creates it as 0777 minus
    // the umask, hence 0600 here whatever umask perfd was started with. A
    // chmod after the fact would leave a window in which any local user
    // could connect. (Binding in a private directory and renaming the socket
    // into place would not touch the process-wide umask, but needs a
    // temporary directory in the administrator's directory and gRPC's idea
    // of the bound path goes stale; ScopedUmask says why the umask is safe.)
    std::optional<ScopedUmask> owner_only;
    if (use_unix) owner_only.emplace(0177);
    server_ = builder.BuildAndStart();
  }
  if (!server_) {
    if (use_unix) RemoveOwnSocket(unix_socket_path);
    // Ports bind in order, so the first one left unset is the one that failed.
    if (use_unix && unix_bound == 0) {
      throw ApiServerError("cannot listen on unix:" + unix_socket_path +
                           " (listen.grpc_socket); see the gRPC error above");
    }
    throw ApiServerError("cannot listen on " + tcp_address +
                         " (listen.grpc_tcp): address in use, not permitted, or not "
                         "a valid host:port");
  }
  socket_path_ = unix_socket_path;
  tcp_port_ = tcp_bound;
  if (use_unix) {
    try {
      SetSocketPermissions(unix_socket_path, has_group, gid);
    } catch (...) {
      Shutdown();
      throw;
    }
  }
  const std::string tcp =
      tcp_address.empty()
          ? std::string()
          : tcp_address + " (port " + std::to_string(tcp_port_) + ", " + tcp_security_ + ")";
  if (use_unix) {
    spdlog::info("API listening on unix:{} (mode {}){}", unix_socket_path,
                 has_group ? "0660 group " + socket_group : std::string("0600"),
                 tcp.empty() ? std::string() : " and " + tcp);
  } else {
    spdlog::info("API listening on {} only (listen.grpc_socket is empty: no unix socket)", tcp);
  }
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
