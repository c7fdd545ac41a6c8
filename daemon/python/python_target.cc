#include "daemon/python/python_target.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "daemon/python/elf_symbols.h"
#include "daemon/python/usdt_notes.h"

namespace perfd::python {
namespace {

constexpr uint64_t kPage = 4096;
// structmember.h type codes (stable public ABI): T_INT, T_OBJECT, T_OBJECT_EX.
constexpr int kMemberInt = 1;
constexpr int kMemberObject = 6;
constexpr int kMemberObjectEx = 16;
constexpr int kMaxMembers = 128;
constexpr int kFrameAttempts = 3;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// process_vm_readv of the target; every read is all-or-nothing.
class Remote {
 public:
  explicit Remote(uint32_t pid) : pid_(static_cast<pid_t>(pid)) {}

  bool Read(uint64_t addr, void* out, size_t len) const {
    if (addr == 0) return false;
    iovec local{out, len};
    iovec remote{reinterpret_cast<void*>(addr), len};
    return ::process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
  }
  template <typename T>
  std::optional<T> Get(uint64_t addr) const {
    T v{};
    if (!Read(addr, &v, sizeof(v))) return std::nullopt;
    return v;
  }
  // Reads page by page so a short string near the end of a mapping works.
  std::optional<std::string> CString(uint64_t addr, size_t max) const {
    std::string out;
    while (out.size() < max) {
      size_t chunk = std::min<size_t>(max - out.size(), kPage - (addr % kPage));
      std::string buf(chunk, '\0');
      if (!Read(addr, buf.data(), chunk)) return std::nullopt;
      size_t nul = buf.find('\0');
      if (nul != std::string::npos) return out + buf.substr(0, nul);
      out += buf;
      addr += chunk;
    }
    return std::nullopt;  // unterminated within max: not a name
  }

 private:
  pid_t pid_;
};

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "python3.10" inside a soname or file name, if any.
std::optional<std::pair<int, int>> NameVersion(std::string_view name) {
  for (size_t at = name.find("python"); at != std::string_view::npos;
       at = name.find("python", at + 1)) {
    int major = 0, minor = 0;
    if (at + 6 < name.size() && std::isdigit(static_cast<unsigned char>(name[at + 6])) &&
        std::sscanf(std::string(name.substr(at + 6)).c_str(), "%d.%d", &major, &minor) == 2) {
      return std::make_pair(major, minor);
    }
  }
  return std::nullopt;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses up to `max` digits at s[*i]; false if none.
bool Digits(std::string_view s, size_t* i, int max, int* out) {
  size_t start = *i;
  int v = 0;
  while (*i < s.size() && IsDigit(s[*i]) && *i - start < static_cast<size_t>(max)) {
    v = v * 10 + (s[*i] - '0');
    ++*i;
  }
  *out = v;
  return *i > start && (*i >= s.size() || !IsDigit(s[*i]));
}

struct Opened {
  std::string path;  // as in /proc/<pid>/maps
  ElfFile elf;
  uint64_t runtime_sym;
};

// The ELF defining _PyRuntime: the executable itself (static or Debian's
// non-PIE build) or a libpython*.so it maps. Each candidate is opened as the
// inode the process maps, never by its name (mapped_file.h): that also
// resolves a process's own files in another mount namespace.
std::variant<Opened, std::string> FindInterpreter(uint32_t pid, const std::vector<MapEntry>& maps) {
  std::string proc = "/proc/" + std::to_string(pid);
  char buf[4096];
  ssize_t n = ::readlink((proc + "/exe").c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "cannot read " + proc + "/exe: " + std::strerror(errno);
  std::string exe(buf, static_cast<size_t>(n));

  // One mapping per candidate file, the executable first.
  std::vector<const MapEntry*> candidates;
  std::set<std::string> seen;
  auto add = [&](const MapEntry& m) {
    if (m.inode != 0 && seen.insert(m.path).second) candidates.push_back(&m);
  };
  for (const MapEntry& m : maps) {
    if (m.path == exe) add(m);
  }
  for (const MapEntry& m : maps) {
    if (!m.path.empty() && m.path[0] == '/' && Basename(m.path).rfind("libpython", 0) == 0) add(m);
  }
  std::string tried;
  if (!seen.count(exe)) tried = "; " + exe + " is not in /proc/" + std::to_string(pid) + "/maps";
  for (const MapEntry* m : candidates) {
    auto file = OpenMappedFile(pid, *m);
    if (auto* err = std::get_if<std::string>(&file)) {
      tried += "; " + *err;
      continue;
    }
    auto elf = ElfFile::Open(std::get<std::shared_ptr<const MappedFile>>(file), m->path);
    if (auto* err = std::get_if<std::string>(&elf)) {
      tried += "; " + *err;
      continue;
    }
    auto& f = std::get<ElfFile>(elf);
    if (auto sym = f.FindSymbol("_PyRuntime")) return Opened{m->path, std::move(f), *sym};
    tried += "; " + m->path + " has no _PyRuntime";
  }
  // _PyRuntime exists since 3.7; older interpreters end up here too.
  return "no CPython 3.7+ interpreter: no _PyRuntime in the executable or a mapped libpython" +
         tried;
}

void Compare(const char* what, uint64_t process, uint64_t table, std::string* errors) {
  if (process == table) return;
  *errors += std::string(errors->empty() ? "" : "; ") + what + " is " + std::to_string(process) +
             " in the process, table says " + std::to_string(table);
}

// (a) PyCode_Type.tp_members against the code-object offsets.
std::string VerifyCodeMembers(const Remote& mem, uint64_t code_type, const OffsetsRow& row) {
  const PyVerifyLayout& v = row.verify;
  const py_offsets& off = row.off;
  auto name_ptr = mem.Get<uint64_t>(code_type + v.type_name);
  auto name = name_ptr ? mem.CString(*name_ptr, 64) : std::nullopt;
  if (!name || *name != "code") {
    return "PyCode_Type at " + Hex(code_type) + " is not the type named \"code\"";
  }
  auto members = mem.Get<uint64_t>(code_type + v.type_members);
  if (!members || *members == 0) return "PyCode_Type.tp_members is unreadable or NULL";

  struct Expect {
    const char* name;
    uint16_t offset;
    bool is_int;
    bool found;
  };
  std::vector<Expect> expect = {{"co_filename", off.code_filename, false, false},
                                {"co_name", off.code_name, false, false},
                                {"co_firstlineno", off.code_firstlineno, true, false},
                                {"co_linetable", off.code_linetable, false, false}};
  if (off.code_qualname != PY_OFF_NONE) {
    expect.push_back({"co_qualname", off.code_qualname, false, false});
  }
  std::string errors;
  std::vector<char> def(v.member_size);
  int i = 0;
  for (; i < kMaxMembers; ++i) {
    if (!mem.Read(*members + uint64_t(i) * v.member_size, def.data(), def.size())) {
      return "PyCode_Type.tp_members[" + std::to_string(i) + "] is unreadable";
    }
    uint64_t np;
    int32_t type;
    int64_t offset;
    std::memcpy(&np, def.data() + v.member_name, sizeof(np));
    std::memcpy(&type, def.data() + v.member_type, sizeof(type));
    std::memcpy(&offset, def.data() + v.member_offset, sizeof(offset));
    if (np == 0) break;
    auto member = mem.CString(np, 64);
    if (!member) continue;
    for (Expect& e : expect) {
      if (*member != e.name) continue;
      e.found = true;
      std::string what = "PyCode_Type member " + *member + " offset";
      Compare(what.c_str(), static_cast<uint64_t>(offset), e.offset, &errors);
      bool type_ok =
          e.is_int ? type == kMemberInt : (type == kMemberObject || type == kMemberObjectEx);
      if (!type_ok) {
        errors += std::string(errors.empty() ? "" : "; ") + "PyCode_Type member " + *member +
                  " has member type " + std::to_string(type);
      }
    }
  }
  if (i == kMaxMembers) return "PyCode_Type.tp_members has no terminator";
  for (const Expect& e : expect) {
    if (!e.found) {
      errors += std::string(errors.empty() ? "" : "; ") + "PyCode_Type has no member " + e.name;
    }
  }
  return errors;
}

// (b) 3.13+: the interpreter's own _Py_DebugOffsets at &_PyRuntime.
std::string VerifyDebugOffsets(const Remote& mem, uint64_t runtime, uint64_t hexversion,
                               const OffsetsRow& row) {
  const PyVerifyLayout& v = row.verify;
  if (!v.has_debug_offsets) return "";
  const py_offsets& off = row.off;
  const std::vector<uint16_t> positions = DebugOffsetPositions(v);
  size_t size = *std::max_element(positions.begin(), positions.end()) + sizeof(uint64_t);
  std::vector<char> buf(size);
  if (!mem.Read(runtime, buf.data(), buf.size())) return "_Py_DebugOffsets is unreadable";
  if (std::memcmp(buf.data(), "xdebugpy", 8) != 0) {
    return "_Py_DebugOffsets cookie is not \"xdebugpy\"";
  }
  auto at = [&buf](uint16_t pos) {
    uint64_t x;
    std::memcpy(&x, buf.data() + pos, sizeof(x));
    return x;
  };
  std::string errors;
  if (at(v.dbg_version) != hexversion) {
    errors =
        "_Py_DebugOffsets.version " + Hex(at(v.dbg_version)) + " != Py_Version " + Hex(hexversion);
  }
  if (at(v.dbg_free_threaded) != 0) {
    errors += std::string(errors.empty() ? "" : "; ") +
              "free-threaded build (the table describes the default build)";
  }
  const std::vector<std::tuple<const char*, uint16_t, uint16_t>> pairs = {
      {"debug runtime_state.interpreters_head", v.dbg_interpreters_head, off.runtime_interp_head},
      {"debug interpreter_state.threads_head", v.dbg_threads_head, off.interp_tstate_head},
      {"debug thread_state.next", v.dbg_tstate_next, off.tstate_next},
      {"debug thread_state.thread_id", v.dbg_tstate_thread_id, off.tstate_thread_id},
      {"debug thread_state.current_frame", v.dbg_tstate_current_frame, off.tstate_frame},
      {"debug interpreter_frame.previous", v.dbg_frame_previous, off.frame_previous},
      {"debug interpreter_frame.executable", v.dbg_frame_executable, off.frame_code},
      {"debug interpreter_frame.instr_ptr", v.dbg_frame_instr_ptr, off.frame_instr},
      {"debug interpreter_frame.owner", v.dbg_frame_owner, off.frame_owner},
      {"debug code_object.filename", v.dbg_code_filename, off.code_filename},
      {"debug code_object.name", v.dbg_code_name, off.code_name},
      {"debug code_object.qualname", v.dbg_code_qualname, off.code_qualname},
      {"debug code_object.linetable", v.dbg_code_linetable, off.code_linetable},
      {"debug code_object.firstlineno", v.dbg_code_firstlineno, off.code_firstlineno},
      {"debug code_object.co_code_adaptive", v.dbg_code_adaptive, off.code_adaptive},
      {"debug bytes_object.ob_sval", v.dbg_bytes_sval, off.bytes_data},
      {"debug unicode_object.asciiobject_size", v.dbg_unicode_ascii_size, off.unicode_data},
  };
  for (const auto& [what, pos, table] : pairs) Compare(what, at(pos), table, &errors);
  return errors;
}

bool InWritableMapping(const std::vector<MapEntry>& maps, uint64_t addr) {
  for (const MapEntry& m : maps) {
    if (addr >= m.start && addr < m.end) return m.perms.size() > 1 && m.perms[1] == 'w';
  }
  return false;
}

// (c) _PyRuntime -> interpreters.head -> threads: the thread states, or why not.
std::variant<std::vector<uint64_t>, std::string> ThreadStates(const Remote& mem, uint64_t runtime,
                                                              const py_offsets& off,
                                                              const std::vector<MapEntry>& maps) {
  auto interp = mem.Get<uint64_t>(runtime + off.runtime_interp_head);
  if (!interp) return "_PyRuntime at " + Hex(runtime) + " is unreadable";
  if (*interp == 0) return "_PyRuntime.interpreters.head is NULL (not initialized or finalized)";
  auto tstate = mem.Get<uint64_t>(*interp + off.interp_tstate_head);
  if (!tstate) return "interpreter state at " + Hex(*interp) + " is unreadable";
  if (*tstate == 0) return "the main interpreter has no thread state (threads head is NULL)";
  std::vector<uint64_t> out;
  bool any_id = false;
  for (uint64_t t = *tstate; t != 0;) {
    if (out.size() == PY_MAX_THREADS) {
      return "thread-state list does not end within " + std::to_string(PY_MAX_THREADS) + " nodes";
    }
    auto id = mem.Get<uint64_t>(t + off.tstate_thread_id);
    auto next = mem.Get<uint64_t>(t + off.tstate_next);
    if (!id || !next) return "thread state at " + Hex(t) + " is unreadable";
    // thread_id is pthread_self(), the address of the thread's TCB.
    if (*id != 0 && !InWritableMapping(maps, *id)) {
      return "thread_id " + Hex(*id) + " of thread state " + Hex(t) +
             " is not inside a writable mapping (not a pthread_t)";
    }
    any_id |= *id != 0;
    out.push_back(t);
    t = *next;
  }
  if (!any_id) return "no thread state has a thread_id";
  return out;
}

// (c) Some thread's frame chain must reach a code object whose filename is a
// str: this is the only check of the frame offsets on 3.10-3.12.
bool SomeFrameHasCode(const Remote& mem, const std::vector<uint64_t>& tstates,
                      const py_offsets& off, uint64_t code_type, uint64_t unicode_type,
                      uint16_t ob_type) {
  for (uint64_t t : tstates) {
    auto frame = mem.Get<uint64_t>(t + off.tstate_frame);
    if (frame && *frame && off.cframe_current != PY_OFF_NONE) {
      frame = mem.Get<uint64_t>(*frame + off.cframe_current);
    }
    for (int depth = 0; frame && *frame && depth < PY_MAX_FRAMES; ++depth) {
      uint64_t f = *frame;
      frame = mem.Get<uint64_t>(f + off.frame_previous);
      if (off.frame_owner != PY_OFF_NONE) {
        auto owner = mem.Get<uint8_t>(f + off.frame_owner);
        if (!owner || *owner == off.owner_cstack) continue;
      }
      auto code = mem.Get<uint64_t>(f + off.frame_code);
      auto type = code && *code ? mem.Get<uint64_t>(*code + ob_type) : std::nullopt;
      if (!type || *type != code_type) continue;
      auto filename = mem.Get<uint64_t>(*code + off.code_filename);
      auto ftype = filename && *filename ? mem.Get<uint64_t>(*filename + ob_type) : std::nullopt;
      if (ftype && *ftype == unicode_type) return true;
    }
  }
  return false;
}

}  // namespace

std::string VerifyContextLayout(uint32_t pid, const PythonTarget& target) {
  const py_offsets& off = target.proc.off;
  const OffsetsRow* row = OffsetsRowFor(target.major, target.minor);
  if (!row || off.tstate_context == PY_OFF_NONE || target.context_type_addr == 0)
    return "no context layout for this version";
  auto maps = ReadMaps(pid);
  if (auto* err = std::get_if<std::string>(&maps)) return "pending: " + *err;
  Remote mem(pid);
  auto tstates =
      ThreadStates(mem, target.proc.runtime_addr, off, std::get<std::vector<MapEntry>>(maps));
  if (auto* err = std::get_if<std::string>(&tstates)) return "pending: " + *err;
  for (uint64_t t : std::get<std::vector<uint64_t>>(tstates)) {
    auto ctx = mem.Get<uint64_t>(t + off.tstate_context);
    if (!ctx || *ctx == 0) continue;
    auto type = mem.Get<uint64_t>(*ctx + row->verify.ob_type);
    if (!type || *type != target.context_type_addr) {
      return "PyThreadState.context of thread state " + Hex(t) + " points to " + Hex(*ctx) +
             ", not a PyContext (offset " + std::to_string(off.tstate_context) + " is wrong)";
    }
    auto vars = mem.Get<uint64_t>(*ctx + off.context_vars);
    if (!vars || *vars == 0)
      return "PyContext.ctx_vars at offset " + std::to_string(off.context_vars) + " is not set";
    return "";
  }
  return "pending: no thread has entered a context yet";
}

std::variant<ElfPythonVersion, std::string> VersionFromRodata(std::string_view rodata,
                                                              std::string_view name) {
  std::set<std::tuple<int, int, int>> found;
  for (size_t i = 0; i + 1 < rodata.size(); ++i) {
    if (rodata[i] != '3' || (i > 0 && (IsDigit(rodata[i - 1]) || rodata[i - 1] == '.'))) continue;
    // 3.<minor>.<micro>[a|b|rc<n>][+] followed by NUL.
    size_t j = i + 1;
    int minor, micro, serial;
    if (j >= rodata.size() || rodata[j++] != '.' || !Digits(rodata, &j, 2, &minor)) continue;
    if (j >= rodata.size() || rodata[j++] != '.' || !Digits(rodata, &j, 2, &micro)) continue;
    if (rodata.substr(j, 2) == "rc") {
      j += 2;
      if (!Digits(rodata, &j, 2, &serial)) continue;
    } else if (j < rodata.size() && (rodata[j] == 'a' || rodata[j] == 'b')) {
      ++j;
      if (!Digits(rodata, &j, 2, &serial)) continue;
    }
    if (j < rodata.size() && rodata[j] == '+') ++j;
    if (j < rodata.size() && rodata[j] == '\0') found.emplace(3, minor, micro);
  }
  auto named = NameVersion(name);
  std::set<std::tuple<int, int, int>> matching;
  for (const auto& v : found) {
    if (!named || (std::get<0>(v) == named->first && std::get<1>(v) == named->second)) {
      matching.insert(v);
    }
  }
  if (matching.size() == 1) {
    auto [major, minor, micro] = *matching.begin();
    return ElfPythonVersion{major, minor, micro};
  }
  if (matching.empty() && named) return ElfPythonVersion{named->first, named->second, -1};
  std::string list;
  for (const auto& [major, minor, micro] : matching) {
    list += " " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(micro);
  }
  return "cannot tell the CPython version: no Py_Version symbol, " +
         std::string(matching.empty() ? "no version string in .rodata" : "several:" + list) +
         " and no python3.X in the name \"" + std::string(name) + "\"";
}

std::variant<PythonTarget, std::string> InspectPython(uint32_t pid) {
  return InspectPython(pid, OffsetsRowFor);
}

std::variant<PythonTarget, std::string> InspectPython(uint32_t pid, const RowLookup& lookup) {
  const std::string who = "pid " + std::to_string(pid);
  auto maps_or = ReadMaps(pid);
  if (auto* err = std::get_if<std::string>(&maps_or)) return who + ": " + *err;
  const auto& maps = std::get<std::vector<MapEntry>>(maps_or);

  auto found = FindInterpreter(pid, maps);
  if (auto* err = std::get_if<std::string>(&found)) return who + ": " + *err;
  Opened& interp = std::get<Opened>(found);
  PythonTarget target;
  target.binary = interp.path;
  target.binary_file = interp.elf.file();
  std::string where = who + " (" + interp.path + ")";

  std::vector<MapEntry> file_maps;
  for (const MapEntry& m : maps) {
    if (m.path == interp.path) file_maps.push_back(m);
  }
  auto bias = LoadBias(interp.elf.LoadSegments(), file_maps);
  if (!bias)
    return where + ": cannot work out the load bias from /proc/" + std::to_string(pid) + "/maps";
  auto code_sym = interp.elf.FindSymbol("PyCode_Type");
  auto unicode_sym = interp.elf.FindSymbol("PyUnicode_Type");
  if (!code_sym || !unicode_sym) return where + ": no PyCode_Type/PyUnicode_Type symbol";
  uint64_t runtime = *bias + interp.runtime_sym;
  uint64_t code_type = *bias + *code_sym;
  Remote mem(pid);

  // Version: Py_Version (3.11+) is PY_VERSION_HEX as read from the process;
  // older builds only state it in .rodata.
  uint64_t hexversion = 0;
  std::string name = interp.elf.Soname().empty() ? Basename(interp.path) : interp.elf.Soname();
  if (auto sym = interp.elf.FindSymbol("Py_Version")) {
    auto v = mem.Get<uint32_t>(*bias + *sym);
    if (!v)
      return where + ": cannot read Py_Version (process_vm_readv: " + std::strerror(errno) + ")";
    hexversion = *v;
    target.major = (hexversion >> 24) & 0xff;
    target.minor = (hexversion >> 16) & 0xff;
    target.micro = (hexversion >> 8) & 0xff;
    auto named = NameVersion(name);
    if (named && (named->first != target.major || named->second != target.minor)) {
      return where + ": Py_Version says " + std::to_string(target.major) + "." +
             std::to_string(target.minor) + " but the file is named " + name;
    }
  } else {
    auto v = VersionFromRodata(interp.elf.SectionData(".rodata"), name);
    if (auto* err = std::get_if<std::string>(&v)) return where + ": " + *err;
    const auto& ev = std::get<ElfPythonVersion>(v);
    target.major = ev.major;
    target.minor = ev.minor;
    target.micro = ev.micro;
  }
  std::string version = std::to_string(target.major) + "." + std::to_string(target.minor) +
                        (target.micro >= 0 ? "." + std::to_string(target.micro) : "");
  where = who + " (" + interp.path + ", CPython " + version + ")";

  const OffsetsRow* row = lookup(target.major, target.minor);
  if (!row) return where + ": version not supported (perfd has offsets for 3.10 to 3.13)";
  if (row->verify.has_debug_offsets && hexversion == 0) {
    return where + ": no Py_Version symbol in a version that must export it";
  }

  if (std::string err = VerifyCodeMembers(mem, code_type, *row); !err.empty()) {
    return where + ": offsets not verified: " + err;
  }
  if (std::string err = VerifyDebugOffsets(mem, runtime, hexversion, *row); !err.empty()) {
    return where + ": offsets not verified: " + err;
  }
  // Threads and frames move under us; retry briefly before refusing.
  std::string walk_error;
  for (int attempt = 0; attempt < kFrameAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto tstates = ThreadStates(mem, runtime, row->off, maps);
    if (auto* err = std::get_if<std::string>(&tstates)) {
      walk_error = *err;
      continue;
    }
    if (SomeFrameHasCode(mem, std::get<std::vector<uint64_t>>(tstates), row->off, code_type,
                         *bias + *unicode_sym, row->verify.ob_type)) {
      target.proc.runtime_addr = runtime;
      target.proc.code_type_addr = code_type;
      target.proc.off = row->off;
      if (auto ctx_type = interp.elf.FindSymbol("PyContext_Type"))
        target.context_type_addr = *bias + *ctx_type;
      target.context_hook = FindContextHook(interp.elf, row->off.context_vars);
      if (auto set_add = interp.elf.FindSymbol("PySet_Add"))
        target.set_add_offset = interp.elf.FileOffset(*set_add, /*code=*/true).value_or(0);
      target.gc_probes = HasUsdtProbes(interp.elf, "python", {"gc__start", "gc__done"});
      return target;
    }
    walk_error = "no thread's frame chain reaches a code object with a str co_filename";
  }
  return where + ": " + kLiveWalkFailed + ": " + walk_error;
}

}  // namespace perfd::python
