// ReadCode / ReadPyString over a fake address space whose bytes the fuzzer
// chooses (a target process can hold anything where we expect a code
// object). The input is one region at FakeMemory's first address, with the
// code object (or the str) at its start and the pointers inside it pointing
// anywhere: into the region, past it, or nowhere. Checks: a read never asks
// for more than the caps (no allocation sized by the target), names are
// valid UTF-8 within 2 * kMaxNameBytes, the line table within its cap, and
// a failure always says why.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/python/code_reader.h"
#include "daemon/python/offsets_table.h"
#include "fuzz/check.h"
#include "tests/unit/python_sym/fake_memory.h"

using namespace perfd::python;

namespace {

// FakeMemory that records the largest single read asked of it.
class WatchedMemory : public testing::FakeMemory {
 public:
  bool Read(uint64_t addr, void* buf, size_t len) override {
    largest = std::max(largest, len);
    return FakeMemory::Read(addr, buf, len);
  }
  size_t largest = 0;
};

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

void CheckName(const std::string& s) {
  FUZZ_CHECK(s.size() <= 2 * kMaxNameBytes);
  FUZZ_CHECK(ValidUtf8(s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<const OffsetsRow*> rows;
  for (const OffsetsRow& row : AllOffsetsRows()) rows.push_back(&row);
  const py_offsets& off = rows[in.ConsumeIntegralInRange<size_t>(0, rows.size() - 1)]->off;
  const bool just_a_str = in.ConsumeIntegralInRange(0, 3) == 0;

  WatchedMemory mem;
  const uint64_t base = mem.Add(in.ConsumeRemainingBytesAsString());
  ReadError error{};
  const size_t cap = std::max(kMaxNameBytes, kMaxLineTableBytes);
  if (just_a_str) {
    error = static_cast<ReadError>(-1);
    const auto s = ReadPyString(mem, off, base, &error);
    if (s) {
      CheckName(*s);
    } else {
      FUZZ_CHECK(error == ReadError::kUnreadable || error == ReadError::kImplausible);
    }
  } else {
    error = static_cast<ReadError>(-1);
    const auto code = ReadCode(mem, off, base, &error);
    if (code) {
      CheckName(code->qualname);
      CheckName(code->filename);
      FUZZ_CHECK(code->linetable.size() <= kMaxLineTableBytes);
      if (code->linetable_truncated) FUZZ_CHECK(code->linetable.empty());
    } else {
      FUZZ_CHECK(error == ReadError::kUnreadable || error == ReadError::kImplausible);
    }
  }
  FUZZ_CHECK(mem.largest <= cap);
  return 0;
}
