#include "daemon/python/offsets_table.h"

namespace perfd::python {
namespace {

// -Wmissing-field-initializers (via -Wextra -Werror) rejects a row with too
// few values, so a generator/header mismatch cannot compile silently.
constexpr OffsetsRow kRows[] = {
#include "daemon/python/offsets_table.inc"
};

}  // namespace

const OffsetsRow* OffsetsRowFor(int major, int minor) {
  for (const OffsetsRow& row : kRows) {
    if (row.off.major == major && row.off.minor == minor) return &row;
  }
  return nullptr;
}

const py_offsets* OffsetsFor(int major, int minor) {
  const OffsetsRow* row = OffsetsRowFor(major, minor);
  return row ? &row->off : nullptr;
}

OffsetsRowRange AllOffsetsRows() { return {kRows, kRows + sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace perfd::python
