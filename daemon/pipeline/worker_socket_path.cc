#include "daemon/pipeline/worker_socket_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace perfd {

int OpenSocketInRoot(const std::string& root, const std::string& path, std::string* error,
                     bool* refused) {
  if (refused != nullptr) *refused = false;
  int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    *error = "cannot open " + root + ": " + std::strerror(errno);
    return -1;
  }
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;  // no O_NOFOLLOW: a final symlink is ELOOP too
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how)));
  const int open_errno = errno;
  close(root_fd);
  if (fd < 0) {
    if (refused != nullptr) *refused = open_errno == ELOOP;
    *error = path + (open_errno == ELOOP ? ": a symlink on the way, refused"
                                         : std::string(": ") + std::strerror(open_errno));
    return -1;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    if (refused != nullptr) *refused = true;
    *error = path + ": not a socket, refused";
    close(fd);
    return -1;
  }
  return fd;
}

int ConnectThroughPathFd(int sock, int path_fd) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d", path_fd);
  return connect(sock, reinterpret_cast<sockaddr*>(&a), sizeof(a));
}

}  // namespace perfd
