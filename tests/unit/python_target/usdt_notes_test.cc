// The .note.stapsdt parser: real notes from Debian's interpreter (built
// --with-dtrace) where present, and hand-built sections for the malformed
// shapes a target's file may hold.
#include "daemon/python/usdt_notes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <variant>

namespace perfd::python {
namespace {

void Put32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }
void Put64(std::string* s, uint64_t v) { s->append(reinterpret_cast<const char*>(&v), 8); }
void Pad4(std::string* s) {
  while (s->size() % 4) s->push_back('\0');
}

// One ELF note: namesz, descsz, type, name (padded), desc (padded).
std::string Note(uint32_t type, const std::string& name, const std::string& desc) {
  std::string s;
  Put32(&s, static_cast<uint32_t>(name.size()));
  Put32(&s, static_cast<uint32_t>(desc.size()));
  Put32(&s, type);
  s += name;
  Pad4(&s);
  s += desc;
  Pad4(&s);
  return s;
}

std::string SdtDesc(uint64_t pc, uint64_t sem, const std::string& provider, const std::string& name,
                    const std::string& args) {
  std::string d;
  Put64(&d, pc);
  Put64(&d, 0x1000);  // .stapsdt.base
  Put64(&d, sem);
  d += provider + '\0' + name + '\0' + args + '\0';
  return d;
}

const std::string kStapsdt("stapsdt\0", 8);

TEST(UsdtNotes, ParsesProbesInOrder) {
  std::string sec =
      Note(3, kStapsdt, SdtDesc(0x42873b, 0xa84270, "python", "gc__done", "-8@%r12")) +
      Note(3, kStapsdt, SdtDesc(0x4287f3, 0, "python", "gc__start", "-4@112(%rsp)"));
  auto probes = ParseStapsdtNotes(sec);
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_EQ(probes[0].provider, "python");
  EXPECT_EQ(probes[0].name, "gc__done");
  EXPECT_EQ(probes[0].pc, 0x42873bu);
  EXPECT_EQ(probes[0].semaphore, 0xa84270u);
  EXPECT_EQ(probes[0].args, "-8@%r12");
  EXPECT_EQ(probes[1].name, "gc__start");
  EXPECT_EQ(probes[1].semaphore, 0u);
}

TEST(UsdtNotes, SkipsOtherNotesAndBadDescriptors) {
  std::string sec = Note(1, std::string("GNU\0", 4), "abcd") +  // not stapsdt
                    Note(3, kStapsdt, std::string(10, 'x')) +   // desc too short
                    Note(3, kStapsdt, SdtDesc(1, 0, "python", "x", "").substr(0, 30)) +  // no NULs
                    Note(3, kStapsdt, SdtDesc(2, 0, "python", "gc__start", ""));
  auto probes = ParseStapsdtNotes(sec);
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].pc, 2u);
}

TEST(UsdtNotes, TruncatedSectionKeepsWhatWasRead) {
  std::string good = Note(3, kStapsdt, SdtDesc(7, 0, "python", "gc__start", ""));
  std::string next = Note(3, kStapsdt, SdtDesc(8, 0, "python", "gc__done", ""));
  for (size_t cut = 0; cut < next.size(); ++cut) {
    auto probes = ParseStapsdtNotes(good + next.substr(0, cut));
    ASSERT_EQ(probes.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(probes[0].pc, 7u);
  }
  // A descsz far past the section's end is refused, not read.
  std::string huge;
  Put32(&huge, 8);
  Put32(&huge, 0xfffffff0u);
  Put32(&huge, 3);
  huge += kStapsdt;
  EXPECT_TRUE(ParseStapsdtNotes(huge).empty());
  EXPECT_TRUE(ParseStapsdtNotes("").empty());
}

TEST(UsdtNotes, DebianPythonHasTheGcProbes) {
  const char* path = "/usr/bin/python3.11";
  if (access(path, R_OK) != 0) GTEST_SKIP() << path << " not installed";
  auto elf = ElfFile::OpenPath(path);
  ASSERT_TRUE(std::holds_alternative<ElfFile>(elf)) << std::get<std::string>(elf);
  const ElfFile& f = std::get<ElfFile>(elf);
  EXPECT_TRUE(HasUsdtProbe(f, "python", "gc__start"));
  EXPECT_TRUE(HasUsdtProbe(f, "python", "gc__done"));
  EXPECT_FALSE(HasUsdtProbe(f, "python", "no__such__probe"));
  EXPECT_FALSE(HasUsdtProbe(f, "nopython", "gc__start"));
}

}  // namespace
}  // namespace perfd::python
