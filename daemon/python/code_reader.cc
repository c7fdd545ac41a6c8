#include "daemon/python/code_reader.h"

#include <sys/uio.h>

#include <cstring>
#include <optional>

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

// Bytes of storage for `length` code units of `kind` bytes, if the length is
// non-negative and the product neither overflows nor exceeds `max`. Both
// factors come from the target: a plain multiplication can wrap (2^62 + 1
// four-byte units is 4 bytes mod 2^64) and pass a naive bound check.
std::optional<size_t> StorageBytes(int64_t length, uint32_t kind, size_t max) {
  if (length < 0) return std::nullopt;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(length), uint64_t{kind}, &bytes)) {
    return std::nullopt;
  }
  if (bytes > max) return std::nullopt;
  return static_cast<size_t>(bytes);
}

template <typename T>
std::optional<T> Fail(ReadError* error, ReadError why) {
  if (error != nullptr) *error = why;
  return std::nullopt;
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

std::optional<std::string> ReadPyString(MemoryReader& mem, const py_offsets& off, uint64_t addr,
                                        ReadError* error) {
  using Result = std::string;
  if (addr == 0) return Fail<Result>(error, ReadError::kUnreadable);
  int64_t length = 0;
  uint32_t state = 0;
  if (!ReadValue(mem, addr + kStrLength, &length) || !ReadValue(mem, addr + kStrState, &state)) {
    return Fail<Result>(error, ReadError::kUnreadable);
  }
  const uint32_t kind = StateKind(state);
  const bool ascii = StateAscii(state);
  if (!StateCompact(state) || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1)) {
    return Fail<Result>(error, ReadError::kImplausible);
  }
  const std::optional<size_t> bytes = StorageBytes(length, kind, kMaxNameBytes);
  if (!bytes) return Fail<Result>(error, ReadError::kImplausible);

  // Allocated only now, from the checked size; every loop below is bounded by
  // this buffer, never by the remote length again.
  const uint64_t data = addr + (ascii ? off.unicode_data : NonAsciiDataOffset(off));
  std::string raw(*bytes, '\0');
  if (!mem.Read(data, raw.data(), raw.size())) return Fail<Result>(error, ReadError::kUnreadable);
  if (ascii) {
    // Pure ASCII by construction; a byte >= 0x80 means we read something else.
    for (char c : raw) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        return Fail<Result>(error, ReadError::kImplausible);
      }
    }
    return raw;
  }
  std::string out;
  out.reserve(raw.size() * 2);  // <= 2 * kMaxNameBytes: UTF-8 never needs more
  for (size_t i = 0; i + kind <= raw.size(); i += kind) {
    uint32_t cp = 0;
    if (kind == 1) {
      cp = static_cast<uint8_t>(raw[i]);
    } else if (kind == 2) {
      uint16_t u;
      std::memcpy(&u, raw.data() + i, 2);
      cp = u;
    } else {
      std::memcpy(&cp, raw.data() + i, 4);
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

std::optional<CodeInfo> ReadCode(MemoryReader& mem, const py_offsets& off, uint64_t code_addr,
                                 ReadError* error) {
  using Result = CodeInfo;
  if (code_addr == 0) return Fail<Result>(error, ReadError::kUnreadable);
  if (!ValidOffsets(off)) return Fail<Result>(error, ReadError::kImplausible);
  CodeInfo info;
  int32_t firstlineno = 0;
  uint64_t name_ptr = 0, filename_ptr = 0, linetable_ptr = 0;
  const uint16_t name_off = off.code_qualname != PY_OFF_NONE ? off.code_qualname : off.code_name;
  if (!ReadValue(mem, code_addr + off.code_firstlineno, &firstlineno) ||
      !ReadValue(mem, code_addr + name_off, &name_ptr) ||
      !ReadValue(mem, code_addr + off.code_filename, &filename_ptr) ||
      !ReadValue(mem, code_addr + off.code_linetable, &linetable_ptr)) {
    return Fail<Result>(error, ReadError::kUnreadable);
  }
  info.firstlineno = firstlineno;

  auto name = ReadPyString(mem, off, name_ptr, error);
  if (!name) return std::nullopt;
  auto filename = ReadPyString(mem, off, filename_ptr, error);
  if (!filename) return std::nullopt;
  info.qualname = std::move(*name);
  info.filename = std::move(*filename);

  // co_linetable is a bytes object: ob_size is its length, signed.
  if (linetable_ptr == 0) return Fail<Result>(error, ReadError::kUnreadable);
  int64_t table_len = 0;
  if (!ReadValue(mem, linetable_ptr + off.var_size, &table_len)) {
    return Fail<Result>(error, ReadError::kUnreadable);
  }
  if (table_len < 0) return Fail<Result>(error, ReadError::kImplausible);
  const std::optional<size_t> table_bytes = StorageBytes(table_len, 1, kMaxLineTableBytes);
  if (!table_bytes) {
    // Over the cap (however far): keep the name, give up the lines.
    info.linetable_truncated = true;
    return info;
  }
  info.linetable.resize(*table_bytes);
  if (!mem.Read(linetable_ptr + off.bytes_data, info.linetable.data(), info.linetable.size())) {
    return Fail<Result>(error, ReadError::kUnreadable);
  }
  return info;
}

}  // namespace perfd::python
