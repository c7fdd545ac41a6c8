// CPython layout per supported minor version (3.10-3.13), generated from the
// interpreters' headers by tools/pyoffsets into offsets_table.inc.
#pragma once

#include <cstdint>
#include <vector>

#include "bpf/python.h"

namespace perfd::python {

// Where the facts used to verify a live process sit. Measured by the same
// generator as py_offsets so verification never relies on a hand copy.
struct PyVerifyLayout {
  uint16_t ob_type;        // PyObject.ob_type
  uint16_t type_name;      // PyTypeObject.tp_name
  uint16_t type_members;   // PyTypeObject.tp_members
  uint16_t member_size;    // sizeof(PyMemberDef)
  uint16_t member_name;    // PyMemberDef.name
  uint16_t member_type;    // PyMemberDef.type
  uint16_t member_offset;  // PyMemberDef.offset
  // _Py_DebugOffsets (3.13+) sits at &_PyRuntime; the dbg_* fields are the
  // positions of its members (PY_OFF_NONE when has_debug_offsets is 0).
  uint16_t has_debug_offsets;
  uint16_t dbg_version;
  uint16_t dbg_free_threaded;
  uint16_t dbg_interpreters_head;
  uint16_t dbg_threads_head;
  uint16_t dbg_tstate_next;
  uint16_t dbg_tstate_thread_id;
  uint16_t dbg_tstate_current_frame;
  uint16_t dbg_frame_previous;
  uint16_t dbg_frame_executable;
  uint16_t dbg_frame_instr_ptr;
  uint16_t dbg_frame_owner;
  uint16_t dbg_code_filename;
  uint16_t dbg_code_name;
  uint16_t dbg_code_qualname;
  uint16_t dbg_code_linetable;
  uint16_t dbg_code_firstlineno;
  uint16_t dbg_code_adaptive;
  uint16_t dbg_bytes_sval;
  uint16_t dbg_unicode_ascii_size;
};

struct OffsetsRow {
  const char* source_version;  // PY_VERSION of the headers the row came from
  py_offsets off;
  PyVerifyLayout verify;
};

// Row for major.minor, or nullptr if that version is not supported.
const OffsetsRow* OffsetsRowFor(int major, int minor);

// Offsets for major.minor, or nullptr if that version is not supported.
const py_offsets* OffsetsFor(int major, int minor);

// Every row, oldest first (for tests and diagnostics).
struct OffsetsRowRange {
  const OffsetsRow* first;
  const OffsetsRow* last;  // one past the end
  const OffsetsRow* begin() const { return first; }
  const OffsetsRow* end() const { return last; }
};
OffsetsRowRange AllOffsetsRows();

// Where each _Py_DebugOffsets field perfd verifies sits (3.13+ rows), in
// one list so the verifier and its tests cannot drift apart.
std::vector<uint16_t> DebugOffsetPositions(const PyVerifyLayout& v);

}  // namespace perfd::python
