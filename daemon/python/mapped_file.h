// Opening a file a target process maps, without trusting its name.
//
// perfd runs as root and reads the ELF that holds a worker's interpreter.
// The name in /proc/<pid>/maps is only a label: after the file is deleted it
// reads "<path> (deleted)", and whoever can write to the directory may have
// put a FIFO there (open() blocks forever, and discovery and SIGTERM with it)
// or a symlink (perfd would read any host file). So the file is opened
// through /proc/<pid>/map_files/<start>-<end>, the kernel's link to the very
// inode mapped, and accepted only if it is a regular file whose device and
// inode are the maps line's. Without CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE
// map_files is closed to perfd; then the name is tried under
// /proc/<pid>/root with the same checks (so a deleted file is refused).
// Files are read with bounded preads, never mapped: a mapped file that a
// target truncates would SIGBUS perfd.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "daemon/python/proc_maps.h"

namespace perfd::python {

// A regular file opened read-only (O_NONBLOCK, O_CLOEXEC).
class MappedFile {
 public:
  MappedFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // st_size when opened
  // Exactly `len` bytes at `off`; false past the end (offsets are
  // overflow-checked), on a short read (the file shrank) or an error.
  bool ReadAt(uint64_t off, void* out, size_t len) const;
  // "/proc/self/fd/<fd>": this very inode by path, for interfaces that only
  // take a path (uprobe attach). Valid while this object lives.
  std::string SelfPath() const;

 private:
  int fd_;
  uint64_t size_;
};

using FileOrReason = std::variant<std::shared_ptr<const MappedFile>, std::string>;

// How opening a mapped file ended; the labels of
// perfd_python_interpreter_opens_total{result}.
enum class OpenResult {
  kMapFiles,          // opened through /proc/<pid>/map_files
  kRootPath,          // opened by name under /proc/<pid>/root, same inode
  kNotRegular,        // refused: a FIFO, directory, device, ...
  kNotTheMappedFile,  // refused: another device/inode than the mapping's
  kUnopenable,        // refused: gone, no access, anonymous mapping
  kCount,
};
const char* OpenResultName(OpenResult r);

// The file of mapping `m` of process `pid` (see above), or why not. Counted.
FileOrReason OpenMappedFile(uint32_t pid, const MapEntry& m);

// Process-wide counts of OpenMappedFile's results, indexed by OpenResult.
std::array<uint64_t, static_cast<size_t>(OpenResult::kCount)> MappedFileOpenCounts();

// The check itself, on any path: stat first (a FIFO is never opened), then
// open and fstat again (the path may change in between). `result` says how
// it ended (kMapFiles on success). Exposed for tests, which point it at
// temp files described by made-up maps lines.
FileOrReason OpenIfMappedFile(const std::string& path, const MapEntry& m, OpenResult* result);

// A regular file at a path perfd chose itself (tests, its own binaries): the
// same open flags and bounded reads, no identity to check against.
FileOrReason OpenRegularFile(const std::string& path);

}  // namespace perfd::python
