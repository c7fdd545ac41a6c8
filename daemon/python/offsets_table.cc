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

std::vector<uint16_t> DebugOffsetPositions(const PyVerifyLayout& v) {
  return {v.dbg_version,
          v.dbg_free_threaded,
          v.dbg_interpreters_head,
          v.dbg_threads_head,
          v.dbg_tstate_next,
          v.dbg_tstate_thread_id,
          v.dbg_tstate_current_frame,
          v.dbg_frame_previous,
          v.dbg_frame_executable,
          v.dbg_frame_instr_ptr,
          v.dbg_frame_owner,
          v.dbg_code_filename,
          v.dbg_code_name,
          v.dbg_code_qualname,
          v.dbg_code_linetable,
          v.dbg_code_firstlineno,
          v.dbg_code_adaptive,
          v.dbg_bytes_sval,
          v.dbg_unicode_ascii_size};
}

OffsetsRowRange AllOffsetsRows() { return {kRows, kRows + sizeof(kRows) / sizeof(kRows[0])}; }

}  // namespace perfd::python
