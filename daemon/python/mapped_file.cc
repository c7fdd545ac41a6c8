#include "daemon/python/mapped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace perfd::python {
namespace {

constexpr int kOpenFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
constexpr const char kDeleted[] = " (deleted)";

std::array<std::atomic<uint64_t>, static_cast<size_t>(OpenResult::kCount)> g_counts{};

const char* KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symlink";
  return "not a regular file";
}

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// "" when `st` is a regular file with the mapping's device and inode.
std::string Mismatch(const std::string& path, const struct stat& st, const MapEntry& m,
                     OpenResult* result) {
  if (!S_ISREG(st.st_mode)) {
    *result = OpenResult::kNotRegular;
    return path + " is " + KindOf(st.st_mode) + ", not a regular file";
  }
  if (major(st.st_dev) != m.dev_major || minor(st.st_dev) != m.dev_minor || st.st_ino != m.inode) {
    *result = OpenResult::kNotTheMappedFile;
    char buf[160];
    std::snprintf(buf, sizeof(buf), " is device %x:%x inode %llu, the mapping is %x:%x inode %llu",
                  major(st.st_dev), minor(st.st_dev), static_cast<unsigned long long>(st.st_ino),
                  m.dev_major, m.dev_minor, static_cast<unsigned long long>(m.inode));
    return path + buf;
  }
  return "";
}

// OpenIfMappedFile, also telling the errno of a failed stat.
FileOrReason Open(const std::string& path, const MapEntry& m, OpenResult* result, int* stat_errno) {
  *stat_errno = 0;
  struct stat st {};
  // stat follows the link without opening: a FIFO is refused before open().
  if (::stat(path.c_str(), &st) != 0) {
    *stat_errno = errno;
    *result = OpenResult::kUnopenable;
    return "stat " + path + ": " + std::strerror(errno);
  }
  if (std::string why = Mismatch(path, st, m, result); !why.empty()) return why;
  // O_NONBLOCK: should the path have become a FIFO since the stat, open()
  // returns at once and the fstat below refuses it.
  int fd = ::open(path.c_str(), kOpenFlags);
  if (fd < 0) {
    *result = OpenResult::kUnopenable;
    return "open " + path + ": " + std::strerror(errno);
  }
  std::string why;
  if (::fstat(fd, &st) != 0) {
    *result = OpenResult::kUnopenable;
    why = "fstat " + path + ": " + std::strerror(errno);
  } else if (why = Mismatch(path, st, m, result); !why.empty()) {
    why += " once opened";
  }
  if (!why.empty()) {
    ::close(fd);
    return why;
  }
  *result = OpenResult::kMapFiles;
  return std::make_shared<const MappedFile>(fd, static_cast<uint64_t>(st.st_size));
}

}  // namespace

MappedFile::~MappedFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool MappedFile::ReadAt(uint64_t off, void* out, size_t len) const {
  if (off > size_ || len > size_ - off) return false;
  auto* p = static_cast<char*>(out);
  while (len > 0) {
    ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // error, or the file shrank under us
    p += n;
    off += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::string MappedFile::SelfPath() const { return "/proc/self/fd/" + std::to_string(fd_); }

const char* OpenResultName(OpenResult r) {
  switch (r) {
    case OpenResult::kMapFiles:
      return "map_files";
    case OpenResult::kRootPath:
      return "root_path";
    case OpenResult::kNotRegular:
      return "not_regular";
    case OpenResult::kNotTheMappedFile:
      return "not_the_mapped_file";
    case OpenResult::kUnopenable:
      return "unopenable";
    case OpenResult::kCount:
      break;
  }
  return "unknown";
}

FileOrReason OpenIfMappedFile(const std::string& path, const MapEntry& m, OpenResult* result) {
  int stat_errno;
  return Open(path, m, result, &stat_errno);
}

FileOrReason OpenMappedFile(uint32_t pid, const MapEntry& m) {
  const std::string proc = "/proc/" + std::to_string(pid);
  OpenResult result = OpenResult::kUnopenable;
  FileOrReason out;
  if (m.inode == 0) {
    out = "mapping " + m.path + " is not backed by a file";
  } else {
    char range[48];
    std::snprintf(range, sizeof(range), "/map_files/%llx-%llx",
                  static_cast<unsigned long long>(m.start), static_cast<unsigned long long>(m.end));
    int stat_errno;
    out = Open(proc + range, m, &result, &stat_errno);
    // map_files needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE): without it,
    // the name under the process's root, held to the same inode.
    if ((stat_errno == EPERM || stat_errno == EACCES) && !m.path.empty() && m.path[0] == '/') {
      if (EndsWith(m.path, kDeleted)) {
        out = m.path +
              ": deleted, and /proc/<pid>/map_files needs CAP_SYS_ADMIN or "
              "CAP_CHECKPOINT_RESTORE";
      } else {
        out = Open(proc + "/root" + m.path, m, &result, &stat_errno);
        if (result == OpenResult::kMapFiles) result = OpenResult::kRootPath;
      }
    }
  }
  g_counts[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  return out;
}

std::array<uint64_t, static_cast<size_t>(OpenResult::kCount)> MappedFileOpenCounts() {
  std::array<uint64_t, static_cast<size_t>(OpenResult::kCount)> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = g_counts[i].load(std::memory_order_relaxed);
  return out;
}

FileOrReason OpenRegularFile(const std::string& path) {
  int fd = ::open(path.c_str(), kOpenFlags);
  if (fd < 0) return "open " + path + ": " + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = errno;
    ::close(fd);
    return path + ": " + (S_ISREG(st.st_mode) ? std::strerror(err) : "not a regular file");
  }
  return std::make_shared<const MappedFile>(fd, static_cast<uint64_t>(st.st_size));
}

}  // namespace perfd::python
