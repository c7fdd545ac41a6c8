#include "tests/unit/python_sym/fake_memory.h"

#include <cstring>

namespace perfd::python::testing {
namespace {

template <typename T>
void Put(std::string* s, size_t at, T v) {
  if (s->size() < at + sizeof(T)) s->resize(at + sizeof(T));
  std::memcpy(s->data() + at, &v, sizeof(T));
}

uint32_t State(int kind, bool ascii) {
  // interned:2 (1 = interned, as code names are), kind:3, compact:1, ascii:1
  return 1u | (static_cast<uint32_t>(kind) << 2) | (1u << 5) | ((ascii ? 1u : 0u) << 6);
}

}  // namespace

bool FakeMemory::Read(uint64_t addr, void* buf, size_t len) {
  ++reads;
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return false;
  --it;
  const uint64_t off = addr - it->first;
  if (off > it->second.size() || it->second.size() - off < len) return false;
  std::memcpy(buf, it->second.data() + off, len);
  return true;
}

uint64_t FakeMemory::Add(std::string bytes) {
  const uint64_t addr = next_;
  next_ += (bytes.size() + 0x40) & ~uint64_t{0xf};
  regions_[addr] = std::move(bytes);
  return addr;
}

void FakeMemory::Poke(uint64_t addr, const void* data, size_t len) {
  auto it = std::prev(regions_.upper_bound(addr));
  std::memcpy(it->second.data() + (addr - it->first), data, len);
}

void FakeMemory::Remove(uint64_t region_addr) { regions_.erase(region_addr); }

uint64_t FakeMemory::AddAsciiStr(const py_offsets& off, const std::string& s) {
  std::string obj(off.unicode_data, '\0');
  Put<int64_t>(&obj, 16, static_cast<int64_t>(s.size()));
  Put<uint32_t>(&obj, 32, State(1, true));
  obj += s;
  obj.push_back('\0');
  return Add(obj);
}

uint64_t FakeMemory::AddCompactStr(const py_offsets& off, const std::u32string& s, int kind) {
  const size_t header = off.unicode_data + (off.minor <= 11 ? 24 : 16);
  std::string obj(header, '\0');
  Put<int64_t>(&obj, 16, static_cast<int64_t>(s.size()));
  Put<uint32_t>(&obj, 32, State(kind, false));
  for (char32_t c : s) {
    if (kind == 1) obj.push_back(static_cast<char>(c));
    if (kind == 2) Put<uint16_t>(&obj, obj.size(), static_cast<uint16_t>(c));
    if (kind == 4) Put<uint32_t>(&obj, obj.size(), static_cast<uint32_t>(c));
  }
  obj.append(4, '\0');
  return Add(obj);
}

uint64_t FakeMemory::AddBytes(const py_offsets& off, const std::string& data) {
  std::string obj(off.bytes_data, '\0');
  Put<int64_t>(&obj, off.var_size, static_cast<int64_t>(data.size()));
  obj += data;
  obj.push_back('\0');
  return Add(obj);
}

uint64_t FakeMemory::AddCode(const py_offsets& off, const std::string& qualname,
                             const std::string& filename, int firstlineno,
                             const std::string& linetable) {
  std::string code(256, '\0');
  Put<int32_t>(&code, off.code_firstlineno, firstlineno);
  Put<uint64_t>(&code, off.code_filename, AddAsciiStr(off, filename));
  Put<uint64_t>(&code, off.code_linetable, AddBytes(off, linetable));
  if (off.code_qualname != PY_OFF_NONE) {
    Put<uint64_t>(&code, off.code_name, AddAsciiStr(off, "wrong"));
    Put<uint64_t>(&code, off.code_qualname, AddAsciiStr(off, qualname));
  } else {
    Put<uint64_t>(&code, off.code_name, AddAsciiStr(off, qualname));
  }
  return Add(code);
}

}  // namespace perfd::python::testing
