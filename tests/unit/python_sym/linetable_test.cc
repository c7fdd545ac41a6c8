#include "daemon/python/linetable.h"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace perfd::python {
namespace {

struct Fixture {
  int major, minor;
  const char* name;
  int firstlineno;
  int ncodeunits;
  const char* table_hex;
  std::vector<std::array<int, 3>> ranges;  // co_lines(): byte start, end, line (-1 = None)
};

const Fixture kFixtures[] = {
#include "tests/unit/python_sym/linetable_fixtures.inc"
};

std::string Unhex(const char* hex) {
  std::string out;
  for (const char* p = hex; p[0] && p[1]; p += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16)));
  }
  return out;
}

int Expected(const Fixture& f, int64_t instr) {
  if (instr < 0) return f.firstlineno;
  for (const auto& r : f.ranges) {
    if (r[0] <= instr * 2 && instr * 2 < r[1]) return r[2];
  }
  return -1;
}

TEST(LineTableFixtures, CoverEveryVersion) {
  std::map<int, int> per_minor;
  for (const auto& f : kFixtures) ++per_minor[f.minor];
  for (int minor : {10, 11, 12, 13}) EXPECT_GE(per_minor[minor], 20) << "3." << minor;
}

// The core guarantee: for every instruction of every real code object, both
// decoders give the line CPython's co_lines() gives.
TEST(LineTableFixtures, EveryInstructionMatchesCoLines) {
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(std::to_string(f.major) + "." + std::to_string(f.minor) + " " + f.name);
    const std::string table = Unhex(f.table_hex);
    const LineTableFormat fmt = LineTableFormatFor(f.major, f.minor);
    ASSERT_FALSE(f.ranges.empty());
    // co_lines covers the whole code: a fixture that does not is broken.
    EXPECT_EQ(f.ranges.back()[1], f.ncodeunits * 2);
    const LineTable decoded = LineTable::Decode(fmt, table, f.firstlineno);
    EXPECT_EQ(decoded.end(), static_cast<uint32_t>(f.ncodeunits * 2));
    for (int64_t i = -1; i < f.ncodeunits + 3; ++i) {
      const int want = Expected(f, i);
      ASSERT_EQ(LineForInstr(fmt, table, f.firstlineno, i), want) << "instr " << i;
      ASSERT_EQ(decoded.LineFor(i), want) << "instr " << i;
    }
  }
}

TEST(LineTableFixtures, FormatSelection) {
  EXPECT_EQ(LineTableFormatFor(3, 10), LineTableFormat::kLnotab310);
  EXPECT_EQ(LineTableFormatFor(3, 11), LineTableFormat::kLocations311);
  EXPECT_EQ(LineTableFormatFor(3, 13), LineTableFormat::kLocations311);
}

// Hand-built 3.11+ entries, one per kind. Header: 1 cccc lll.
std::string Entry(int code, int units, std::string payload = "") {
  return std::string(1, static_cast<char>(0x80 | (code << 3) | (units - 1))) + payload;
}

constexpr auto k311 = LineTableFormat::kLocations311;
constexpr auto k310 = LineTableFormat::kLnotab310;

TEST(LineTable311, EachEntryKind) {
  std::string t;
  t += Entry(0, 2, "\x05");               // short form: same line (100), units 0-1
  t += Entry(11, 1, "\x04\x08");          // one-line, +1 -> 101, unit 2
  t += Entry(15, 3);                      // no location, units 3-5
  t += Entry(12, 1, "\x00\x01");          // one-line, +2 -> 103, unit 6
  t += Entry(13, 1, "\x03");              // no column, svarint 3 = -1 -> 102
  t += Entry(14, 1, "\x04\x00\x01\x02");  // long, +2 -> 104
  t += Entry(10, 8, "\x01\x02");          // one-line, +0, units 9-16
  const int want[] = {100, 100, 101, -1,  -1,  -1,  103, 102, 104,
                      104, 104, 104, 104, 104, 104, 104, 104};
  LineTable lt = LineTable::Decode(k311, t, 100);
  for (int i = 0; i < 17; ++i) {
    EXPECT_EQ(LineForInstr(k311, t, 100, i), want[i]) << i;
    EXPECT_EQ(lt.LineFor(i), want[i]) << i;
  }
  EXPECT_EQ(LineForInstr(k311, t, 100, 17), -1);
  EXPECT_EQ(lt.LineFor(17), -1);
  EXPECT_EQ(lt.LineFor(-1), 100);
}

TEST(LineTable311, MultiByteSignedVarints) {
  // +300: zigzag 600 = 0b1001011000 -> low 6 bits 24 with the "more" bit,
  // then 9. -300: 601.
  std::string t = Entry(13, 1, std::string("\x58\x09", 2)) + Entry(13, 1, "\x59\x09");
  EXPECT_EQ(LineForInstr(k311, t, 10, 0), 310);
  EXPECT_EQ(LineForInstr(k311, t, 10, 1), 10);
  // The no-location entry does not move the running line.
  t = Entry(13, 1, "\x58\x09") + Entry(15, 1) + Entry(0, 1, "\x00");
  EXPECT_EQ(LineForInstr(k311, t, 10, 2), 310);
}

TEST(LineTable311, GarbageNeverReadsPastTheEnd) {
  // Not an entry start: nothing is trusted.
  EXPECT_EQ(LineForInstr(k311, std::string("\x05\x80", 2), 1, 0), -1);
  // A varint whose "more" bit runs off the end of the table.
  const std::string cut = Entry(14, 1, "\x7f\x7f\x7f");
  EXPECT_GE(LineForInstr(k311, cut, 1, 0), -1);
  EXPECT_EQ(LineForInstr(k311, cut, 1, 1), -1);
  // Varints longer than 32 bits must not shift out of range.
  const std::string longv = Entry(13, 1, std::string(12, '\x7f') + "\x01");
  (void)LineForInstr(k311, longv, 1, 0);
  (void)LineTable::Decode(k311, longv, 1);
  EXPECT_EQ(LineForInstr(k311, "", 7, 0), -1);
  EXPECT_EQ(LineForInstr(k311, "", 7, -1), 7);
  EXPECT_EQ(LineForInstr(k311, Entry(0, 1, "\x00"), 7, 0xffffffffll), -1);
}

TEST(LineTable310, PairsNoLineAndSplitDeltas) {
  std::string t;
  t += std::string("\x04\x01", 2);  // bytes 0-3 (units 0-1): 11
  t += std::string("\x02\x80", 2);  // unit 2: no line
  t += std::string("\x00\x7f", 2);  // zero-length: +127 carried
  t += std::string("\x02\x03", 2);  // unit 3: 11 + 127 + 3 = 141
  t += std::string("\xfe\x00", 2);  // 254 bytes on the same line
  t += std::string("\x02\xf6", 2);  // then -10 -> 131
  LineTable lt = LineTable::Decode(k310, t, 10);
  auto both = [&](int64_t i) {
    const int a = LineForInstr(k310, t, 10, i);
    EXPECT_EQ(a, lt.LineFor(i)) << i;
    return a;
  };
  EXPECT_EQ(both(0), 11);
  EXPECT_EQ(both(1), 11);
  EXPECT_EQ(both(2), -1);
  EXPECT_EQ(both(3), 141);
  EXPECT_EQ(both(4), 141);
  EXPECT_EQ(both(130), 141);
  EXPECT_EQ(both(131), 131);
  EXPECT_EQ(both(132), -1);
  EXPECT_EQ(both(-1), 10);
}

TEST(LineTable310, OddLengthAndTrailingZeroPairs) {
  // A dangling half pair and a final zero-length pair are ignored.
  EXPECT_EQ(LineForInstr(k310, std::string("\x02\x01\x05", 3), 1, 0), 2);
  EXPECT_EQ(LineForInstr(k310, std::string("\x02\x01\x05", 3), 1, 1), -1);
  EXPECT_EQ(LineForInstr(k310, std::string("\x02\x01\x00\x05", 4), 1, 1), -1);
}

// Random bytes stand in for a table read from a freed object: both decoders
// must stay in bounds (run under ASan) and agree with each other.
TEST(LineTable, RandomGarbageBothDecodersAgree) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 2000; ++round) {
    std::string t(rng() % 40, '\0');
    for (auto& c : t) c = static_cast<char>(rng());
    for (auto fmt : {k310, k311}) {
      const LineTable lt = LineTable::Decode(fmt, t, 5);
      for (int64_t i = -1; i < 200; ++i) {
        ASSERT_EQ(LineForInstr(fmt, t, 5, i), lt.LineFor(i)) << round << " " << i;
      }
    }
  }
}

TEST(InstrPointer, RawFieldToIndex) {
  // A frame that has not started: 3.10 f_lasti = -1, 3.11/3.12 prev_instr
  // one before the first unit; the walker's u32 is then 0xffffffff.
  EXPECT_EQ(CurrentInstrIndex(InstrPointer::kCurrent, 0xffffffffu), -1);
  EXPECT_EQ(CurrentInstrIndex(InstrPointer::kCurrent, 7), 7);
  EXPECT_EQ(CurrentInstrIndex(InstrPointer::kNext, 7), 6);
  EXPECT_EQ(CurrentInstrIndex(InstrPointer::kNext, 0), -1);
}

}  // namespace
}  // namespace perfd::python
