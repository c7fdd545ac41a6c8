#include "daemon/python/offsets_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

namespace perfd::python {
namespace {

TEST(OffsetsTable, CoversExactly310To313) {
  for (int minor = 10; minor <= 13; ++minor) {
    const py_offsets* off = OffsetsFor(3, minor);
    ASSERT_NE(off, nullptr) << "3." << minor;
    EXPECT_EQ(off->major, 3);
    EXPECT_EQ(off->minor, minor);
  }
  EXPECT_EQ(OffsetsFor(3, 9), nullptr);
  EXPECT_EQ(OffsetsFor(3, 14), nullptr);
  EXPECT_EQ(OffsetsFor(2, 7), nullptr);
  EXPECT_EQ(OffsetsFor(4, 10), nullptr);
}

TEST(OffsetsTable, RowMatchesTheHeadersItCameFrom) {
  for (const OffsetsRow& row : AllOffsetsRows()) {
    int major = 0, minor = 0, micro = 0;
    ASSERT_EQ(std::sscanf(row.source_version, "%d.%d.%d", &major, &minor, &micro), 3)
        << row.source_version;
    EXPECT_EQ(row.off.major, major) << row.source_version;
    EXPECT_EQ(row.off.minor, minor) << row.source_version;
  }
}

// Values measured independently for DESIGN.md ("CPython: what works and what
// does not"), with offsetof and live walks. A regeneration that moves any of
// them must be looked at, not just committed.
TEST(OffsetsTable, AgreesWithTheDesignTable) {
  struct Design {
    int minor;
    uint16_t interp_head, threads_head, next, thread_id, top, cframe_current, code, previous, instr,
        owner, filename, name, qualname, firstlineno, linetable, str_data;
  };
  const uint16_t N = PY_OFF_NONE;
  const Design kDesign[] = {
      {10, 32, 8, 8, 176, 24, N, 32, 24, 96, N, 104, 112, N, 40, 120, 48},
      {11, 40, 16, 8, 152, 56, 8, 32, 48, 56, 69, 112, 120, 128, 72, 136, 48},
      {12, 40, 72, 8, 136, 56, 0, 0, 8, 56, 70, 112, 120, 128, 68, 136, 40},
      {13, 632, 7344, 8, 152, 72, N, 0, 8, 56, 70, 112, 120, 128, 68, 136, 40},
  };
  for (const Design& d : kDesign) {
    SCOPED_TRACE("3." + std::to_string(d.minor));
    const py_offsets* o = OffsetsFor(3, d.minor);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->runtime_interp_head, d.interp_head);
    EXPECT_EQ(o->interp_tstate_head, d.threads_head);
    EXPECT_EQ(o->tstate_next, d.next);
    EXPECT_EQ(o->tstate_thread_id, d.thread_id);
    EXPECT_EQ(o->tstate_frame, d.top);
    EXPECT_EQ(o->cframe_current, d.cframe_current);
    EXPECT_EQ(o->frame_code, d.code);
    EXPECT_EQ(o->frame_previous, d.previous);
    EXPECT_EQ(o->frame_instr, d.instr);
    EXPECT_EQ(o->frame_owner, d.owner);
    EXPECT_EQ(o->code_filename, d.filename);
    EXPECT_EQ(o->code_name, d.name);
    EXPECT_EQ(o->code_qualname, d.qualname);
    EXPECT_EQ(o->code_firstlineno, d.firstlineno);
    EXPECT_EQ(o->code_linetable, d.linetable);
    EXPECT_EQ(o->unicode_data, d.str_data);
  }
}

// Which fields exist per version is part of the BPF walker's contract
// (bpf/python.h comments): NONE exactly where the version lacks the field.
TEST(OffsetsTable, FieldPresenceFollowsTheVersion) {
  for (const OffsetsRow& row : AllOffsetsRows()) {
    const py_offsets& o = row.off;
    SCOPED_TRACE(row.source_version);
    const bool v310 = o.minor == 10;
    EXPECT_EQ(o.frame_owner == PY_OFF_NONE, v310);
    EXPECT_EQ(o.frame_gen != PY_OFF_NONE, v310);
    EXPECT_EQ(o.code_adaptive == PY_OFF_NONE, v310);
    EXPECT_EQ(o.code_qualname == PY_OFF_NONE, v310);
    EXPECT_EQ(o.cframe_current != PY_OFF_NONE, o.minor == 11 || o.minor == 12);
    // 3.11 marks C entry frames with is_entry, not an owner value.
    EXPECT_EQ(o.owner_cstack, o.minor >= 12 ? 3 : 0xff);
    EXPECT_EQ(o.owner_generator, v310 ? 0xff : 1);
    EXPECT_EQ(row.verify.has_debug_offsets, o.minor >= 13 ? 1 : 0);
  }
}

// Layout facts that hold for every CPython object header, whatever the
// version: catches a generator that measured the wrong struct.
TEST(OffsetsTable, ObjectHeaderFacts) {
  for (const OffsetsRow& row : AllOffsetsRows()) {
    const py_offsets& o = row.off;
    SCOPED_TRACE(row.source_version);
    EXPECT_EQ(o.var_size, 16);    // after ob_refcnt and ob_type
    EXPECT_EQ(o.bytes_data, 32);  // after ob_size and ob_shash
    EXPECT_EQ(row.verify.ob_type, 8);
    // co_filename and co_name are adjacent pointers; co_qualname follows on 3.11+.
    EXPECT_EQ(o.code_name, o.code_filename + 8);
    if (o.code_qualname != PY_OFF_NONE) {
      EXPECT_EQ(o.code_qualname, o.code_name + 8);
    }
    // Pointer fields are 8-aligned.
    for (uint16_t p : {o.runtime_interp_head, o.interp_tstate_head, o.tstate_next,
                       o.tstate_thread_id, o.tstate_frame, o.frame_code, o.frame_previous,
                       o.frame_instr, o.code_filename, o.code_name, o.code_linetable}) {
      EXPECT_EQ(p % 8, 0) << p;
    }
    // The three frame links are distinct fields.
    std::set<uint16_t> frame_fields{o.frame_code, o.frame_previous, o.frame_instr};
    EXPECT_EQ(frame_fields.size(), 3u);
  }
}

TEST(OffsetsTable, DebugOffsetsLayoutIsDistinctAndInsideTheStruct) {
  const OffsetsRow* row = OffsetsRowFor(3, 13);
  ASSERT_NE(row, nullptr);
  const PyVerifyLayout& v = row->verify;
  const std::vector<uint16_t> positions = DebugOffsetPositions(v);
  std::set<uint16_t> seen;
  for (uint16_t p : positions) {
    EXPECT_GE(p, 8) << "overlaps the cookie";
    EXPECT_EQ(p % 8, 0);
    // The debug block precedes interpreters.head inside _PyRuntime.
    EXPECT_LT(p + 8, row->off.runtime_interp_head);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), positions.size());
}

}  // namespace
}  // namespace perfd::python
