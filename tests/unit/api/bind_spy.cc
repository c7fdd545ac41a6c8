#include "tests/unit/api/bind_spy.h"

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

namespace perfd::bind_spy {
namespace {

std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, mode_t>& Modes() {
  static std::map<std::string, mode_t> modes;
  return modes;
}

}  // namespace

std::optional<mode_t> ModeAtBind(const std::string& path) {
  std::lock_guard<std::mutex> lock(Mutex());
  const auto it = Modes().find(path);
  if (it == Modes().end()) return std::nullopt;
  return it->second;
}

}  // namespace perfd::bind_spy

extern "C" int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  using BindFn = int (*)(int, const struct sockaddr*, socklen_t);
  static const auto real_bind = reinterpret_cast<BindFn>(dlsym(RTLD_NEXT, "bind"));
  const int rc = real_bind(fd, addr, len);
  // Path sockets only (abstract ones start with a NUL and have no file).
  if (rc == 0 && addr != nullptr && addr->sa_family == AF_UNIX &&
      len > offsetof(sockaddr_un, sun_path)) {
    const int saved_errno = errno;
    const auto* un = reinterpret_cast<const sockaddr_un*>(addr);
    const size_t max = len - offsetof(sockaddr_un, sun_path);
    const std::string path(un->sun_path, strnlen(un->sun_path, max));
    struct stat st {};
    if (!path.empty() && lstat(path.c_str(), &st) == 0) {
      std::lock_guard<std::mutex> lock(perfd::bind_spy::Mutex());
      perfd::bind_spy::Modes()[path] = st.st_mode;
    }
    errno = saved_errno;
  }
  return rc;
}
