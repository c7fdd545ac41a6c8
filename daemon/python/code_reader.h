// Reads what the symbolizer needs from a PyCodeObject in another process:
// qualified name, filename, first line and the raw line table. Every pointer
// and length comes from a process that may be mutating or freeing the object
// while we read, so each length is bounded and each string header checked;
// anything implausible is a failed read, never a crash or a huge allocation.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "bpf/python.h"

namespace perfd::python {

class MemoryReader {
 public:
  virtual ~MemoryReader() = default;
  // All of [addr, addr+len) or false: a partial read is a failure.
  virtual bool Read(uint64_t addr, void* buf, size_t len) = 0;
};

// process_vm_readv on a live pid (needs CAP_SYS_PTRACE or ptrace rights).
class ProcessMemoryReader : public MemoryReader {
 public:
  explicit ProcessMemoryReader(pid_t pid) : pid_(pid) {}
  bool Read(uint64_t addr, void* buf, size_t len) override;

 private:
  pid_t pid_;
};

// Longest name / filename accepted, in bytes of the str's storage (length
// times kind, computed without overflow). 4 KiB is Linux's PATH_MAX, so every
// real filename fits; a longer length means the object is not what we think
// (or the process is lying), and the read is refused before allocating.
inline constexpr size_t kMaxNameBytes = 4096;
// Largest co_linetable read. Only functions of many thousand lines exceed
// it; those keep their name and lose line numbers (linetable_truncated).
inline constexpr size_t kMaxLineTableBytes = 64 * 1024;

// Why a read failed. Unreadable memory is normal (the object was freed under
// us); implausible headers are not, so the symbolizer counts them apart.
enum class ReadError {
  kUnreadable,   // process_vm_readv failed or returned short, or a NULL pointer
  kImplausible,  // a length, kind, size or byte out of range: refused unread
};

struct CodeInfo {
  std::string qualname;  // co_qualname (3.11+) or co_name (3.10), UTF-8
  std::string filename;  // co_filename, UTF-8
  int firstlineno = 0;
  std::string linetable;  // raw co_linetable bytes; empty if over the limit
  bool linetable_truncated = false;
};

// On failure *error (if given) says why.
std::optional<CodeInfo> ReadCode(MemoryReader& mem, const py_offsets& off, uint64_t code_addr,
                                 ReadError* error = nullptr);

// Reads a str object as UTF-8 (exposed for tests). Handles compact ASCII and
// compact 1/2/4-byte kinds; lone surrogates (e.g. surrogateescape'd
// filenames) and invalid code points become U+FFFD so the result is valid
// UTF-8 for protobuf. Non-compact (legacy) strings are refused: code objects
// never hold them. Kinds other than 1/2/4, negative lengths and storage over
// kMaxNameBytes are refused as kImplausible.
std::optional<std::string> ReadPyString(MemoryReader& mem, const py_offsets& off, uint64_t addr,
                                        ReadError* error = nullptr);

}  // namespace perfd::python
