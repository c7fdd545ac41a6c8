#include "daemon/python/code_reader.h"

#include <sys/uio.h>

#include <cstring>

namespace perfd::python {
namespace {

// PyASCIIObject, identical in 3.10-3.13 up to the state word:
// ob_refcnt @0, ob_type @8, length @16, hash @24, state @32.
constexpr uint64_t kStrLength = 16;
constexpr uint64_t kStrState = 32;
// state bitfield: interned:2, kind:3, compact:1, ascii:1 (then ready /
// statically_allocated, which we do not need).
constexpr uint32_t StateKind(uint32_t s) { return (s >> 2) & 7; }
constexpr bool StateCompact(uint32_t s) { return (s >> 5) & 1; }
constexpr bool StateAscii(uint32_t s) { return (s >> 6) & 1; }

// Compact non-ASCII data follows PyCompactUnicodeObject, which adds
// utf8_length and utf8 (and, before 3.12, wstr_length) to PyASCIIObject,
// whose size is off.unicode_data.
uint64_t NonAsciiDataOffset(const py_offsets& off) {
  const bool has_wstr = off.major == 3 && off.minor <= 11;
  return off.unicode_data + (has_wstr ? 24 : 16);
}

template <typename T>
bool ReadValue(MemoryReader& mem, uint64_t addr, T* out) {
  return mem.Read(addr, out, sizeof(T));
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool ValidOffsets(const py_offsets& off) {
  return off.code_firstlineno != PY_OFF_NONE && off.code_filename != PY_OFF_NONE &&
         off.code_name != PY_OFF_NONE && off.code_linetable != PY_OFF_NONE &&
         off.unicode_data != PY_OFF_NONE && off.bytes_data != PY_OFF_NONE &&
         off.var_size != PY_OFF_NONE;
}

}  // namespace

bool ProcessMemoryReader::Read(uint64_t addr, void* buf, size_t len) {
  if (len == 0) return true;
  iovec local{buf, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  const ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(len);
}

std::optional<std::string> ReadPyString(MemoryReader& mem, const py_offsets& off, uint64_t addr) {
  if (addr == 0) return std::nullopt;
  int64_t length = 0;
  uint32_t state = 0;
  if (!ReadValue(mem, addr + kStrLength, &length) || !ReadValue(mem, addr + kStrState, &state)) {
    return std::nullopt;
  }
  const uint32_t kind = StateKind(state);
  if (!StateCompact(state) || (kind != 1 && kind != 2 && kind != 4)) return std::nullopt;
  if (StateAscii(state) && kind != 1) return std::nullopt;
  if (length < 0 || static_cast<uint64_t>(length) * kind > kMaxNameBytes) return std::nullopt;

  const uint64_t data = addr + (StateAscii(state) ? off.unicode_data : NonAsciiDataOffset(off));
  std::string raw(static_cast<size_t>(length) * kind, '\0');
  if (!mem.Read(data, raw.data(), raw.size())) return std::nullopt;
  if (StateAscii(state)) {
    // Pure ASCII by construction; a byte >= 0x80 means we read something else.
    for (char c : raw) {
      if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
    }
    return raw;
  }
  std::string out;
  out.reserve(raw.size() * 2);
  for (int64_t i = 0; i < length; ++i) {
    uint32_t cp = 0;
    if (kind == 1) {
      cp = static_cast<uint8_t>(raw[i]);
    } else if (kind == 2) {
      uint16_t u;
      std::memcpy(&u, raw.data() + i * 2, 2);
      cp = u;
    } else {
      std::memcpy(&cp, raw.data() + i * 4, 4);
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

std::optional<CodeInfo> ReadCode(MemoryReader& mem, const py_offsets& off, uint64_t code_addr) {
  if (code_addr == 0 || !ValidOffsets(off)) return std::nullopt;
  CodeInfo info;
  int32_t firstlineno = 0;
  uint64_t name_ptr = 0, filename_ptr = 0, linetable_ptr = 0;
  const uint16_t name_off = off.code_qualname != PY_OFF_NONE ? off.code_qualname : off.code_name;
  if (!ReadValue(mem, code_addr + off.code_firstlineno, &firstlineno) ||
      !ReadValue(mem, code_addr + name_off, &name_ptr) ||
      !ReadValue(mem, code_addr + off.code_filename, &filename_ptr) ||
      !ReadValue(mem, code_addr + off.code_linetable, &linetable_ptr)) {
    return std::nullopt;
  }
  info.firstlineno = firstlineno;

  auto name = ReadPyString(mem, off, name_ptr);
  auto filename = ReadPyString(mem, off, filename_ptr);
  if (!name || !filename) return std::nullopt;
  info.qualname = std::move(*name);
  info.filename = std::move(*filename);

  int64_t table_len = 0;
  if (linetable_ptr == 0 || !ReadValue(mem, linetable_ptr + off.var_size, &table_len) ||
      table_len < 0) {
    return std::nullopt;
  }
  if (static_cast<uint64_t>(table_len) > kMaxLineTableBytes) {
    info.linetable_truncated = true;
    return info;
  }
  info.linetable.resize(static_cast<size_t>(table_len));
  if (!mem.Read(linetable_ptr + off.bytes_data, info.linetable.data(), info.linetable.size())) {
    return std::nullopt;
  }
  return info;
}

}  // namespace perfd::python
