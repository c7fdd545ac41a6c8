// CPython line tables over any bytes (co_linetable is read from a process
// that may be freeing the code object while we read it). Both decoders, the
// direct CPython scan (LineForInstr) and the cached ranges (LineTable), must
// agree on every instruction; ranges are sorted and within the table's end,
// lines are -1 or non-negative, and the cache never holds more ranges than
// the table has entries.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/python/linetable.h"
#include "fuzz/check.h"

using namespace perfd::python;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const LineTableFormat format =
      in.ConsumeBool() ? LineTableFormat::kLnotab310 : LineTableFormat::kLocations311;
  const InstrPointer kind = in.ConsumeBool() ? InstrPointer::kCurrent : InstrPointer::kNext;
  const int firstlineno = in.ConsumeIntegral<int32_t>();
  const std::string table = in.ConsumeRemainingBytesAsString();

  const LineTable decoded = LineTable::Decode(format, table, firstlineno);
  const auto& ranges = decoded.ranges();
  FUZZ_CHECK(ranges.size() <= table.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    FUZZ_CHECK(ranges[i].line >= -1);
    FUZZ_CHECK(ranges[i].start < decoded.end());
    if (i > 0) {
      FUZZ_CHECK(ranges[i - 1].start < ranges[i].start);
      FUZZ_CHECK(ranges[i - 1].line != ranges[i].line);  // merged otherwise
    }
  }

  // The first instructions one by one, then those around range
  // boundaries (where the two decoders could disagree), and a few past the
  // end, as the BPF walker reports them (raw u32 fields). LineForInstr is a
  // linear scan, so checking every instruction of a long table would make
  // each input quadratic and the fuzzer slow.
  auto same = [&](uint32_t raw) {
    const int64_t instr = CurrentInstrIndex(kind, raw);
    FUZZ_CHECK(decoded.LineFor(instr) == LineForInstr(format, table, firstlineno, instr));
  };
  for (uint32_t raw = 0; raw < 64; ++raw) same(raw);
  const size_t step = ranges.size() / 64 + 1;  // at most 64 ranges, spread out
  for (size_t i = 0; i < ranges.size(); i += step) {
    for (uint32_t d = 0; d < 3; ++d) same(ranges[i].start / 2 + d - 1);
  }
  for (uint32_t d = 0; d < 4; ++d) same(decoded.end() / 2 + d - 1);
  for (uint32_t raw : {0xffffffffu, 0x80000000u, 0x7fffffffu}) {
    const int64_t instr = CurrentInstrIndex(kind, raw);
    FUZZ_CHECK(decoded.LineFor(instr) == LineForInstr(format, table, firstlineno, instr));
  }
  return 0;
}
