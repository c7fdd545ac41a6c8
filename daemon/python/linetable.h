// Line numbers from a CPython code object's co_linetable, decoded exactly as
// CPython's own _PyCode_CheckLineNumber / co_lines() do, so a sampled frame
// gets the line that frame.f_lineno would report.
//
// Two formats exist in the versions perfd supports:
//  - 3.10 (PEP 626): (start-delta bytes, signed line-delta) byte pairs; a line
//    delta of -128 means "no line" and does not move the running line.
//  - 3.11+ (PEP 657 location table): entries headed by a byte 1cccclll (code
//    c, length l+1 code units) followed by varint payloads; only the line is
//    used here, columns are skipped.
// Pure: no I/O, bounded by the table length, never reads past the end even
// when the table is garbage (a code object freed under us).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace perfd::python {

enum class LineTableFormat {
  kLnotab310,    // CPython 3.10
  kLocations311  // CPython 3.11, 3.12, 3.13
};

LineTableFormat LineTableFormatFor(int major, int minor);

// What the frame's instruction field points at when it is sampled.
// Measured on 3.10-3.13 (frames suspended in a call, read with ctypes):
// f_lasti (3.10), prev_instr (3.11/3.12) and instr_ptr (3.13) all hold the
// instruction being executed (for a call on 3.11: its last inline cache
// entry), and CPython computes f_lineno from that index unadjusted. The one
// exception is a 3.13 generator suspended at a yield, whose instr_ptr is
// already on the following RESUME; that instruction carries the yield's line,
// so no adjustment is needed there either. kNext exists for interpreters
// where the field is one past the current instruction. Checked per version
// against live f_lineno by tests/unit/python_sym/live_code_reader_test.cc
// (kNext fails it on 3.10 and 3.13).
enum class InstrPointer { kCurrent, kNext };

InstrPointer InstrPointerFor(int major, int minor);

// Code-unit index of the executing instruction from the raw field the BPF
// walker copies (a u32 that is -1 for a frame that has not started yet).
int64_t CurrentInstrIndex(InstrPointer kind, uint32_t raw);

// Line of the instruction at code-unit index `instr` (not bytes), or -1 when
// the table gives it none (co_lines() says None) or instr is past the end.
// A negative instr means "not started" and yields firstlineno, as
// PyCode_Addr2Line does. This is the direct CPython algorithm: a linear scan.
int LineForInstr(LineTableFormat format, std::string_view table, int firstlineno, int64_t instr);

// The same mapping decoded once into sorted ranges, for the symbolizer
// cache: LineFor is a binary search.
class LineTable {
 public:
  LineTable() = default;
  static LineTable Decode(LineTableFormat format, std::string_view table, int firstlineno);

  // Same contract as LineForInstr.
  int LineFor(int64_t instr) const;

  // Bytes, like co_lines(): CPython keeps byte offsets even though frames
  // hold code-unit indexes, and so do we, so garbage with odd deltas maps
  // exactly as in LineForInstr. Adjacent ranges with one line are merged.
  struct Range {
    uint32_t start;  // inclusive; the range ends where the next one starts
    int32_t line;    // -1: no line
  };
  const std::vector<Range>& ranges() const { return ranges_; }
  uint32_t end() const { return end_; }
  size_t MemoryBytes() const { return ranges_.capacity() * sizeof(Range); }

 private:
  std::vector<Range> ranges_;
  uint32_t end_ = 0;  // one past the last byte covered
  int firstlineno_ = 0;
};

}  // namespace perfd::python
