/* Prints one row of daemon/python/offsets_table.inc for the CPython whose
 * headers it is compiled against (see generate.sh). Every number comes from
 * offsetof()/sizeof() on the interpreter's own structs, never from a hand
 * copy, so a new micro release is re-measured by re-running generate.sh.
 *
 * Build: cc -std=c11 -DPy_BUILD_CORE -I<repo> -I<prefix>/include/pythonX.Y
 *           -I<prefix>/include/pythonX.Y/internal pyoffsets.c
 * C, not C++: the 3.11+ internal headers use C11 atomics. */
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <structmember.h>

#if PY_VERSION_HEX < 0x030A0000 || PY_VERSION_HEX >= 0x030E0000
#error "perfd supports CPython 3.10 to 3.13"
#endif

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#include <internal/pycore_context.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#else
#include <internal/pycore_code.h>
#include <internal/pycore_context.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#endif

#include "bpf/python.h"

#define NONE PY_OFF_NONE

/* The row is printed positionally; these asserts make the print order below
 * the declaration order of bpf/python.h, so a reordered header fails here
 * instead of producing a silently shifted table. */
#define AT(field, index) \
  _Static_assert(offsetof(struct py_offsets, field) == 2 * (index), #field " moved")
AT(runtime_interp_head, 0);
AT(interp_tstate_head, 1);
AT(tstate_next, 2);
AT(tstate_thread_id, 3);
AT(tstate_frame, 4);
AT(cframe_current, 5);
AT(frame_code, 6);
AT(frame_previous, 7);
AT(frame_instr, 8);
AT(frame_owner, 9);
AT(frame_gen, 10);
AT(code_adaptive, 11);
AT(code_firstlineno, 12);
AT(code_filename, 13);
AT(code_name, 14);
AT(code_qualname, 15);
AT(code_linetable, 16);
AT(unicode_data, 17);
AT(bytes_data, 18);
AT(var_size, 19);
AT(tstate_context, 20);
AT(context_vars, 21);
_Static_assert(offsetof(struct py_offsets, major) == 44, "major moved");
_Static_assert(offsetof(struct py_offsets, minor) == 45, "minor moved");
_Static_assert(offsetof(struct py_offsets, owner_generator) == 46, "owner_generator moved");
_Static_assert(offsetof(struct py_offsets, owner_cstack) == 47, "owner_cstack moved");

static int failed;

/* Every measured value must fit the __u16 fields without colliding with
 * NONE; absent fields are passed as NONE on purpose. */
static void put(size_t v, int last) {
  const char* sep = last ? "" : ", ";
  if (v == NONE) {
    printf("0xffff%s", sep);
    return;
  }
  if (v > NONE) {
    fprintf(stderr, "pyoffsets: value %zu does not fit a __u16 offset\n", v);
    failed = 1;
  }
  printf("%zu%s", v, sep);
}

int main(void) {
  size_t runtime_interp_head = offsetof(_PyRuntimeState, interpreters.head);
  size_t code_firstlineno = offsetof(PyCodeObject, co_firstlineno);
  size_t code_filename = offsetof(PyCodeObject, co_filename);
  size_t code_name = offsetof(PyCodeObject, co_name);
  size_t code_linetable = offsetof(PyCodeObject, co_linetable);
  size_t unicode_data = sizeof(PyASCIIObject); /* compact ASCII data follows */
  size_t bytes_data = offsetof(PyBytesObject, ob_sval);
  size_t var_size = offsetof(PyVarObject, ob_size);
  size_t tstate_next = offsetof(PyThreadState, next);
  size_t tstate_thread_id = offsetof(PyThreadState, thread_id);
  size_t tstate_context = offsetof(PyThreadState, context);
  size_t context_vars = offsetof(PyContext, ctx_vars);
#if PY_VERSION_HEX < 0x030B0000
  size_t interp_tstate_head = offsetof(PyInterpreterState, tstate_head);
  size_t tstate_frame = offsetof(PyThreadState, frame);
  size_t cframe_current = NONE;
  size_t frame_code = offsetof(PyFrameObject, f_code);
  size_t frame_previous = offsetof(PyFrameObject, f_back);
  size_t frame_instr = offsetof(PyFrameObject, f_lasti);
  size_t frame_owner = NONE;
  size_t frame_gen = offsetof(PyFrameObject, f_gen);
  size_t code_adaptive = NONE;
  size_t code_qualname = NONE;
  unsigned owner_generator = 0xff, owner_cstack = 0xff;
#else
  size_t interp_tstate_head = offsetof(PyInterpreterState, threads.head);
  size_t frame_previous = offsetof(_PyInterpreterFrame, previous);
  size_t frame_owner = offsetof(_PyInterpreterFrame, owner);
  size_t frame_gen = NONE;
  size_t code_adaptive = offsetof(PyCodeObject, co_code_adaptive);
  size_t code_qualname = offsetof(PyCodeObject, co_qualname);
  unsigned owner_generator = FRAME_OWNED_BY_GENERATOR;
#if PY_VERSION_HEX < 0x030D0000
  size_t tstate_frame = offsetof(PyThreadState, cframe);
  size_t cframe_current = offsetof(_PyCFrame, current_frame);
  size_t frame_code = offsetof(_PyInterpreterFrame, f_code);
  size_t frame_instr = offsetof(_PyInterpreterFrame, prev_instr);
#else
  size_t tstate_frame = offsetof(PyThreadState, current_frame);
  size_t cframe_current = NONE;
  size_t frame_code = offsetof(_PyInterpreterFrame, f_executable);
  size_t frame_instr = offsetof(_PyInterpreterFrame, instr_ptr);
#endif
#if PY_VERSION_HEX < 0x030C0000
  unsigned owner_cstack = 0xff; /* 3.11 marks entry frames with is_entry */
#else
  unsigned owner_cstack = FRAME_OWNED_BY_CSTACK;
#endif
#endif

  printf("{\"%s\", {", PY_VERSION);
  put(runtime_interp_head, 0);
  put(interp_tstate_head, 0);
  put(tstate_next, 0);
  put(tstate_thread_id, 0);
  put(tstate_frame, 0);
  put(cframe_current, 0);
  put(frame_code, 0);
  put(frame_previous, 0);
  put(frame_instr, 0);
  put(frame_owner, 0);
  put(frame_gen, 0);
  put(code_adaptive, 0);
  put(code_firstlineno, 0);
  put(code_filename, 0);
  put(code_name, 0);
  put(code_qualname, 0);
  put(code_linetable, 0);
  put(unicode_data, 0);
  put(bytes_data, 0);
  put(var_size, 0);
  put(tstate_context, 0);
  put(context_vars, 0);
  printf("%d, %d, %u, %u}, {", PY_MAJOR_VERSION, PY_MINOR_VERSION, owner_generator, owner_cstack);

  /* Layout used to verify a live process (struct PyVerifyLayout). */
  put(offsetof(PyObject, ob_type), 0);
  put(offsetof(PyTypeObject, tp_name), 0);
  put(offsetof(PyTypeObject, tp_members), 0);
  put(sizeof(PyMemberDef), 0);
  put(offsetof(PyMemberDef, name), 0);
  put(offsetof(PyMemberDef, type), 0);
  put(offsetof(PyMemberDef, offset), 0);
#if PY_VERSION_HEX >= 0x030D0000
  /* _Py_DebugOffsets: where each field sits inside the copy at &_PyRuntime. */
  _Static_assert(offsetof(_PyRuntimeState, debug_offsets) == 0, "debug_offsets first");
  put(1, 0);
  put(offsetof(_Py_DebugOffsets, version), 0);
  put(offsetof(_Py_DebugOffsets, free_threaded), 0);
  put(offsetof(_Py_DebugOffsets, runtime_state.interpreters_head), 0);
  put(offsetof(_Py_DebugOffsets, interpreter_state.threads_head), 0);
  put(offsetof(_Py_DebugOffsets, thread_state.next), 0);
  put(offsetof(_Py_DebugOffsets, thread_state.thread_id), 0);
  put(offsetof(_Py_DebugOffsets, thread_state.current_frame), 0);
  put(offsetof(_Py_DebugOffsets, interpreter_frame.previous), 0);
  put(offsetof(_Py_DebugOffsets, interpreter_frame.executable), 0);
  put(offsetof(_Py_DebugOffsets, interpreter_frame.instr_ptr), 0);
  put(offsetof(_Py_DebugOffsets, interpreter_frame.owner), 0);
  put(offsetof(_Py_DebugOffsets, code_object.filename), 0);
  put(offsetof(_Py_DebugOffsets, code_object.name), 0);
  put(offsetof(_Py_DebugOffsets, code_object.qualname), 0);
  put(offsetof(_Py_DebugOffsets, code_object.linetable), 0);
  put(offsetof(_Py_DebugOffsets, code_object.firstlineno), 0);
  put(offsetof(_Py_DebugOffsets, code_object.co_code_adaptive), 0);
  put(offsetof(_Py_DebugOffsets, bytes_object.ob_sval), 0);
  put(offsetof(_Py_DebugOffsets, unicode_object.asciiobject_size), 1);
#else
  put(0, 0);
  for (int i = 0; i < 19; i++) put(NONE, i == 18);
#endif
  printf("}},\n");
  return failed;
}
