#include "daemon/config/config_file.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/config/config.h"

namespace perfd {

std::string ReadConfiguredFile(const std::string& key, const std::string& path, size_t max_bytes,
                               bool wipe) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(key, "cannot open " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[8192];
  auto fail = [&](const std::string& message) {
    ::close(fd);
    if (wipe) {
      explicit_bzero(buf, sizeof buf);
      explicit_bzero(text.data(), text.size());
    }
    throw ConfigError(key, message);
  };
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read " + path + ": " + std::strerror(errno));
    }
    if (text.size() + static_cast<size_t>(n) > max_bytes)
      fail(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    text.append(buf, static_cast<size_t>(n));
  }
  if (wipe) explicit_bzero(buf, sizeof buf);
  ::close(fd);
  return text;
}

}  // namespace perfd
