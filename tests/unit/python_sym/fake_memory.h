// An address space for code_reader/symbolizer tests: CPython objects laid
// out byte by byte with the real per-version offsets, at fake addresses.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bpf/python.h"
#include "daemon/python/code_reader.h"

namespace perfd::python::testing {

class FakeMemory : public MemoryReader {
 public:
  bool Read(uint64_t addr, void* buf, size_t len) override;

  // Places bytes at a fresh 16-byte aligned address and returns it.
  uint64_t Add(std::string bytes);
  // Overwrites bytes inside an existing region (to free/reuse objects).
  void Poke(uint64_t addr, const void* data, size_t len);
  void Remove(uint64_t region_addr);

  // str objects: kind 1 ASCII, or compact 1/2/4-byte kinds from UTF-32.
  uint64_t AddAsciiStr(const py_offsets& off, const std::string& s);
  uint64_t AddCompactStr(const py_offsets& off, const std::u32string& s, int kind);
  uint64_t AddBytes(const py_offsets& off, const std::string& data);
  // A PyCodeObject with the fields ReadCode looks at; name goes to
  // co_qualname on 3.11+ (co_name then holds "wrong").
  uint64_t AddCode(const py_offsets& off, const std::string& qualname, const std::string& filename,
                   int firstlineno, const std::string& linetable);

  int reads = 0;

 private:
  std::map<uint64_t, std::string> regions_;
  uint64_t next_ = 0x7f0000001000;
};

}  // namespace perfd::python::testing
