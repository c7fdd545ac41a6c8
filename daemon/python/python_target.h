// Decides whether a process runs a CPython perfd can walk, and if so fills
// the py_proc the BPF stack walker needs. Nothing from the generated table
// is trusted until the live process confirms it; anything unexpected is a
// refusal with a reason, never a guess.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "bpf/python.h"
#include "daemon/python/context_hook.h"
#include "daemon/python/mapped_file.h"
#include "daemon/python/offsets_table.h"

namespace perfd::python {

// A refusal that says the interpreter was caught where no thread's frame
// chain could be followed (starting up, forking, between frames): checked
// and found sound otherwise, so it is worth inspecting again later.
inline constexpr const char* kLiveWalkFailed = "live walk failed";
inline bool IsLiveWalkRefusal(const std::string& reason) {
  return reason.find(kLiveWalkFailed) != std::string::npos;
}

struct PythonTarget {
  int major = 0;
  int minor = 0;
  int micro = -1;      // -1 when a 3.10 build carries no readable PY_VERSION
  std::string binary;  // ELF holding the interpreter, as named in /proc/<pid>/maps
  // That ELF, opened as the inode the process maps (mapped_file.h). Its
  // SelfPath() is how the context hook's uprobe names it.
  std::shared_ptr<const MappedFile> binary_file;
  py_proc proc{};                  // run-time &_PyRuntime, &PyCode_Type and verified offsets
  uint64_t context_type_addr = 0;  // run-time &PyContext_Type
  // Where to hook context creation (request identity), or why not.
  std::variant<ContextHook, std::string> context_hook = std::string("not looked for");
  // File offset of PySet_Add in binary (0: not exported). uvloop queues a
  // transport write by adding the stream to a set; the probe there names the
  // request behind each database write (bpf/py_sampler.bpf.c).
  uint64_t set_add_offset = 0;
  // The interpreter has the python:gc__start and gc__done USDT probes
  // (built --with-dtrace, as Debian's is): GC pauses can be measured.
  bool gc_probes = false;
};

// Request identity needs PyThreadState.context and PyContext.ctx_vars: some
// thread's entered context must be an object of type PyContext_Type whose
// ctx_vars is set. Returns "" when verified, "pending: ..." while no thread
// has entered a context yet (a starting worker; check again later), else the
// reason it is refused.
std::string VerifyContextLayout(uint32_t pid, const PythonTarget& target);

// Finds the interpreter ELF of `pid` (the executable or a mapped
// libpython3.X.so, opened through /proc/<pid>/map_files), resolves
// _PyRuntime and PyCode_Type, reads the version (Py_Version on 3.11+, the
// PY_VERSION string in .rodata on 3.10) and verifies the offsets table
// against the process:
//   - PyCode_Type is named "code" and its tp_members give the table's
//     offsets of co_filename, co_name, co_qualname, co_firstlineno,
//     co_linetable;
//   - 3.13+: _Py_DebugOffsets at &_PyRuntime ("xdebugpy") agrees with the
//     table field by field;
//   - _PyRuntime -> interpreters.head -> threads.head is non-null, the
//     thread list ends within PY_MAX_THREADS nodes, some thread_id is set and
//     each set thread_id points into a writable mapping (it is pthread_self);
//   - some thread's frame chain reaches a frame whose code object has type
//     PyCode_Type and a co_filename of type str.
// Needs process_vm_readv on the pid (same uid, or CAP_SYS_PTRACE).
// Returns the target, or the reason it was refused.
std::variant<PythonTarget, std::string> InspectPython(uint32_t pid);

// Same, with the table lookup replaced (tests feed deliberately wrong rows
// to show that each verification step refuses them).
using RowLookup = std::function<const OffsetsRow*(int major, int minor)>;
std::variant<PythonTarget, std::string> InspectPython(uint32_t pid, const RowLookup& lookup);

// The version a 3.10-era build states in its .rodata: the NUL-terminated
// PY_VERSION tail ("3.10.13"; the linker may merge it into the end of a
// longer string). `name` is the ELF's soname or file name; when it carries
// "python3.X", only candidates of that minor count. Exposed for tests.
struct ElfPythonVersion {
  int major = 0;
  int minor = 0;
  int micro = -1;
};
std::variant<ElfPythonVersion, std::string> VersionFromRodata(std::string_view rodata,
                                                              std::string_view name);

}  // namespace perfd::python
