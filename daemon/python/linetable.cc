#include "daemon/python/linetable.h"

#include <algorithm>
#include <limits>

namespace perfd::python {
namespace {

struct AddressRange {
  int64_t start = -1;  // bytes
  int64_t end = 0;
  int64_t line = -1;
};

// Mirrors CPython's PyCodeAddressRange iteration (advance /
// PyLineTable_NextAddressRange in Objects/codeobject.c of 3.10 and 3.11+),
// with bounds checks where CPython only asserts.
class RangeIter {
 public:
  RangeIter(LineTableFormat format, std::string_view table, int firstlineno)
      : format_(format),
        p_(reinterpret_cast<const uint8_t*>(table.data())),
        limit_(p_ + table.size()),
        computed_line_(firstlineno) {}

  // Moves to the next non-empty range; false at the end or on a malformed
  // entry (the rest of the table cannot be trusted then).
  bool Next() {
    if (p_ >= limit_) return false;
    if (format_ == LineTableFormat::kLnotab310) {
      if (!Advance310()) return false;
      // Zero-length pairs only carry line deltas > 127 or start deltas > 254.
      while (range_.start == range_.end) {
        if (p_ >= limit_ || !Advance310()) return false;
      }
      return true;
    }
    return Advance311();
  }

  const AddressRange& range() const { return range_; }

 private:
  bool Advance310() {
    if (limit_ - p_ < 2) return false;
    const int sdelta = p_[0];
    const int ldelta = static_cast<int8_t>(p_[1]);
    p_ += 2;
    range_.start = range_.end;
    range_.end += sdelta;
    if (ldelta == -128) {
      range_.line = -1;
    } else {
      computed_line_ += ldelta;
      range_.line = computed_line_;
    }
    return true;
  }

  // Unsigned varint: 6 value bits per byte, bit 6 = more follows.
  uint32_t ScanVarint(const uint8_t* q) const {
    if (q >= limit_) return 0;
    uint32_t read = *q++;
    uint32_t val = read & 63;
    uint32_t shift = 0;
    while ((read & 64) && q < limit_) {
      read = *q++;
      shift += 6;
      if (shift < 32) val |= (read & 63) << shift;
    }
    return val;
  }

  int64_t ScanSignedVarint(const uint8_t* q) const {
    const uint32_t u = ScanVarint(q);
    return (u & 1) ? -static_cast<int64_t>(u >> 1) : static_cast<int64_t>(u >> 1);
  }

  bool Advance311() {
    const uint8_t head = *p_;
    if (!(head & 0x80)) return false;  // not an entry start: garbage
    const int code = (head >> 3) & 15;
    int64_t delta = 0;
    switch (code) {
      case 13:  // no column info
      case 14:  // long form
        delta = ScanSignedVarint(p_ + 1);
        break;
      case 11:  // one-line forms: the code says the delta
        delta = 1;
        break;
      case 12:
        delta = 2;
        break;
      default:  // 15 (no location), 10 and 0-9 (same line)
        delta = 0;
    }
    computed_line_ += delta;
    range_.line = code == 15 ? -1 : computed_line_;
    range_.start = range_.end;
    range_.end += ((head & 7) + 1) * 2;
    // Payload bytes never have the top bit set; the next entry does.
    do {
      ++p_;
    } while (p_ < limit_ && !(*p_ & 0x80));
    return true;
  }

  LineTableFormat format_;
  const uint8_t* p_;
  const uint8_t* limit_;
  int64_t computed_line_;
  AddressRange range_;
};

int ClampLine(int64_t line) {
  if (line < 0 || line > std::numeric_limits<int32_t>::max()) return -1;
  return static_cast<int>(line);
}

}  // namespace

LineTableFormat LineTableFormatFor(int major, int minor) {
  return (major == 3 && minor <= 10) ? LineTableFormat::kLnotab310 : LineTableFormat::kLocations311;
}

InstrPointer InstrPointerFor(int /*major*/, int /*minor*/) { return InstrPointer::kCurrent; }

int64_t CurrentInstrIndex(InstrPointer kind, uint32_t raw) {
  const int64_t index = static_cast<int32_t>(raw);
  if (index < 0) return -1;
  return kind == InstrPointer::kNext ? index - 1 : index;
}

int LineForInstr(LineTableFormat format, std::string_view table, int firstlineno, int64_t instr) {
  if (instr < 0) return firstlineno;
  const int64_t lasti = instr * 2;
  RangeIter it(format, table, firstlineno);
  while (it.range().end <= lasti) {
    if (!it.Next()) return -1;
  }
  return ClampLine(it.range().line);
}

LineTable LineTable::Decode(LineTableFormat format, std::string_view table, int firstlineno) {
  LineTable out;
  out.firstlineno_ = firstlineno;
  RangeIter it(format, table, firstlineno);
  while (it.Next()) {
    const AddressRange& r = it.range();
    if (r.end > std::numeric_limits<uint32_t>::max()) break;
    const int32_t line = ClampLine(r.line);
    if (out.ranges_.empty() || out.ranges_.back().line != line) {
      out.ranges_.push_back({static_cast<uint32_t>(r.start), line});
    }
    out.end_ = static_cast<uint32_t>(r.end);
  }
  out.ranges_.shrink_to_fit();
  return out;
}

int LineTable::LineFor(int64_t instr) const {
  if (instr < 0) return firstlineno_;
  const int64_t lasti = instr * 2;
  if (lasti >= end_) return -1;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), lasti,
                             [](int64_t v, const Range& r) { return v < r.start; });
  return it == ranges_.begin() ? -1 : std::prev(it)->line;
}

}  // namespace perfd::python
