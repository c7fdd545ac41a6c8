#include "daemon/python/python_target.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "daemon/python/elf_symbols.h"
#include "daemon/python/offsets_table.h"
#include "tests/unit/python_target/live_python.h"

namespace perfd::python {
namespace {

using testing::Child;
using testing::PyenvPython;
using testing::PyenvRoot;
using testing::PyenvVersion;
using testing::ReportingPython;

constexpr int kReadyMs = 20000;

std::string Rodata(std::initializer_list<const char*> strings) {
  std::string out(1, '\0');
  for (const char* s : strings) {
    out += s;
    out += '\0';
  }
  return out;
}

ElfPythonVersion MustVersion(std::string_view rodata, std::string_view name) {
  auto v = VersionFromRodata(rodata, name);
  if (auto* err = std::get_if<std::string>(&v)) ADD_FAILURE() << *err;
  return std::get<ElfPythonVersion>(v);
}

TEST(VersionFromRodata, MergedTailOfALongerString) {
  // pyenv's libpython3.10: PY_VERSION only survives as the tail of the
  // configure prefix, "/root/.pyenv/versions/3.10.13".
  auto v = MustVersion(Rodata({"Deprecated since Python 3.10. Use find_spec() instead.",
                               "/root/.pyenv/versions/3.10.13", "python3.10"}),
                       "libpython3.10.so.1.0");
  EXPECT_EQ(v.major, 3);
  EXPECT_EQ(v.minor, 10);
  EXPECT_EQ(v.micro, 13);
}

TEST(VersionFromRodata, NameSelectsAmongCandidates) {
  // Debian's python3.11 .rodata also holds "3.2.0" (minimum kernel).
  const std::string ro = Rodata({"3.2.0", "3.10.4"});
  EXPECT_EQ(MustVersion(ro, "python3.10").micro, 4);
  auto unnamed = VersionFromRodata(ro, "python");
  ASSERT_TRUE(std::holds_alternative<std::string>(unnamed));
  EXPECT_NE(std::get<std::string>(unnamed).find("3.2.0"), std::string::npos);
  EXPECT_NE(std::get<std::string>(unnamed).find("3.10.4"), std::string::npos);
}

TEST(VersionFromRodata, PreReleaseAndLocalSuffixes) {
  EXPECT_EQ(MustVersion(Rodata({"3.10.0rc2"}), "").micro, 0);
  EXPECT_EQ(MustVersion(Rodata({"3.10.0b4"}), "").minor, 10);
  EXPECT_EQ(MustVersion(Rodata({"3.10.12+"}), "python").micro, 12);
}

TEST(VersionFromRodata, RejectsLookAlikes) {
  // Part of a longer number, trailing text, or no NUL: not PY_VERSION.
  auto v = VersionFromRodata(Rodata({"13.10.1", "3.10.13x", "v3.10.13.1", "1.3.10.2"}), "");
  ASSERT_TRUE(std::holds_alternative<std::string>(v));
  EXPECT_NE(std::get<std::string>(v).find("no version string"), std::string::npos);
  auto unterminated = VersionFromRodata(std::string_view("\0"
                                                         "3.10.13",
                                                         8),
                                        "");
  EXPECT_TRUE(std::holds_alternative<std::string>(unterminated));
}

TEST(VersionFromRodata, NameAloneLeavesMicroUnknown) {
  auto v = MustVersion(Rodata({"nothing here"}), "libpython3.10.so.1.0");
  EXPECT_EQ(v.minor, 10);
  EXPECT_EQ(v.micro, -1);
}

TEST(VersionFromRodata, RealPyenvLibpython310) {
  std::string version = PyenvVersion(10);
  if (version.empty()) GTEST_SKIP() << "no pyenv CPython 3.10 under " << PyenvRoot();
  auto elf = ElfFile::OpenPath(PyenvRoot() + "/versions/" + version + "/lib/libpython3.10.so.1.0");
  ASSERT_TRUE(std::holds_alternative<ElfFile>(elf));
  const ElfFile& f = std::get<ElfFile>(elf);
  EXPECT_FALSE(f.FindSymbol("Py_Version").has_value());  // why 3.10 needs .rodata
  auto v = MustVersion(f.SectionData(".rodata"), f.Soname());
  EXPECT_EQ(std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.micro),
            version);
}

struct Ready {
  uint64_t runtime = 0;
  uint64_t code_type = 0;
  int micro = -1;
};

Ready ParseReady(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  Ready r;
  in >> word >> r.runtime >> r.code_type >> r.micro;
  EXPECT_EQ(word, "ready") << "child said: \"" << line << "\"";
  return r;
}

// Runs `python` (reporting its own addresses) and checks InspectPython
// against what the interpreter says about itself.
void ExpectVerified(const std::string& python, int minor, const std::string& binary_suffix,
                    ContextHookKind hook_kind = ContextHookKind::kCApiCopies) {
  Child child(ReportingPython(python));
  Ready ready = ParseReady(child.ReadLine(kReadyMs));
  auto result = InspectPython(static_cast<uint32_t>(child.pid()));
  ASSERT_TRUE(std::holds_alternative<PythonTarget>(result)) << std::get<std::string>(result);
  const PythonTarget& t = std::get<PythonTarget>(result);
  EXPECT_EQ(t.major, 3);
  EXPECT_EQ(t.minor, minor);
  EXPECT_EQ(t.micro, ready.micro);
  EXPECT_GE(t.binary.size(), binary_suffix.size());
  EXPECT_EQ(t.binary.substr(t.binary.size() - binary_suffix.size()), binary_suffix) << t.binary;
  EXPECT_EQ(t.proc.runtime_addr, ready.runtime);
  EXPECT_EQ(t.proc.code_type_addr, ready.code_type);
  const py_offsets* table = OffsetsFor(3, minor);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(std::memcmp(&t.proc.off, table, sizeof(py_offsets)), 0);
  // Request identity: the entered context (asyncio.run made one) checks
  // out, and the context-copy hook is found.
  EXPECT_EQ(VerifyContextLayout(static_cast<uint32_t>(child.pid()), t), "");
  const auto* hook = std::get_if<ContextHook>(&t.context_hook);
  ASSERT_NE(hook, nullptr) << std::get<std::string>(t.context_hook);
  EXPECT_EQ(hook->kind, hook_kind) << ContextHookKindName(hook->kind);
  EXPECT_NE(hook->file_offset, 0u);
}

class LivePyenv : public ::testing::TestWithParam<int> {};

TEST_P(LivePyenv, VerifiedAgainstTheRunningInterpreter) {
  const int minor = GetParam();
  std::string version = PyenvVersion(minor);
  if (version.empty()) GTEST_SKIP() << "no pyenv CPython 3." << minor << " under " << PyenvRoot();
  ExpectVerified(PyenvPython(version), minor, "/libpython3." + std::to_string(minor) + ".so.1.0");
}

INSTANTIATE_TEST_SUITE_P(Minors, LivePyenv, ::testing::Values(10, 11, 12, 13),
                         [](const auto& info) { return "py3" + std::to_string(info.param); });

TEST(LivePython, DebianPython311UsesThePyenv311Row) {
  const std::string python = "/usr/bin/python3.11";
  if (::access(python.c_str(), X_OK) != 0) GTEST_SKIP() << python << " is not installed";
  // Debian's LTO build: PyContext_CopyCurrent tail-jumps to
  // context_new_from_vars, so every copy is seen.
  ExpectVerified(python, 11, "/usr/bin/python3.11", ContextHookKind::kAllCopies);
}

TEST(LivePython, PlainSleepingInterpreter) {
  // The brief's minimal target: no threads, no event loop, not yet printing.
  std::string version = PyenvVersion(12);
  if (version.empty()) GTEST_SKIP() << "no pyenv CPython 3.12 under " << PyenvRoot();
  Child child(
      {PyenvPython(version), "-c", "import time; print('ready', flush=True); time.sleep(30)"});
  ASSERT_EQ(child.ReadLine(kReadyMs), "ready");
  auto result = InspectPython(static_cast<uint32_t>(child.pid()));
  ASSERT_TRUE(std::holds_alternative<PythonTarget>(result)) << std::get<std::string>(result);
  EXPECT_EQ(std::get<PythonTarget>(result).minor, 12);
}

void ExpectRefused(uint32_t pid, const std::vector<std::string>& fragments) {
  auto result = InspectPython(pid);
  ASSERT_TRUE(std::holds_alternative<std::string>(result));
  const std::string& why = std::get<std::string>(result);
  for (const std::string& f : fragments) EXPECT_NE(why.find(f), std::string::npos) << why;
}

class UnsupportedPyenv : public ::testing::TestWithParam<int> {};

TEST_P(UnsupportedPyenv, RefusedWithItsVersion) {
  const int minor = GetParam();
  std::string version = PyenvVersion(minor);
  if (version.empty()) GTEST_SKIP() << "no pyenv CPython 3." << minor << " under " << PyenvRoot();
  Child child(
      {PyenvPython(version), "-c", "import time; print('ready', flush=True); time.sleep(30)"});
  ASSERT_EQ(child.ReadLine(kReadyMs), "ready");
  ExpectRefused(static_cast<uint32_t>(child.pid()), {"CPython " + version, "not supported"});
}

INSTANTIATE_TEST_SUITE_P(Minors, UnsupportedPyenv, ::testing::Values(8, 9),
                         [](const auto& info) { return "py3" + std::to_string(info.param); });

TEST(LivePython, NonPythonProcessRefused) {
  Child child({"/bin/sleep", "30"});
  ASSERT_TRUE(child.WaitExec("sleep", kReadyMs));
  ExpectRefused(static_cast<uint32_t>(child.pid()), {"no CPython 3.7+ interpreter", "/sleep"});
}

TEST(LivePython, VanishedProcessRefused) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ASSERT_GT(pid, 0);
  ::waitpid(pid, nullptr, 0);
  ExpectRefused(static_cast<uint32_t>(pid), {"pid " + std::to_string(pid)});
}

// Each verification step must refuse a wrong table row on a real process.
struct WrongRow {
  int minor;
  const char* what;
  void (*corrupt)(OffsetsRow*);
  const char* expected;
};

class WrongRows : public ::testing::TestWithParam<WrongRow> {};

TEST_P(WrongRows, Refused) {
  const WrongRow& w = GetParam();
  std::string version = PyenvVersion(w.minor);
  if (version.empty()) GTEST_SKIP() << "no pyenv CPython 3." << w.minor << " under " << PyenvRoot();
  Child child(ReportingPython(PyenvPython(version)));
  ParseReady(child.ReadLine(kReadyMs));
  OffsetsRow row = *OffsetsRowFor(3, w.minor);
  w.corrupt(&row);
  auto result = InspectPython(static_cast<uint32_t>(child.pid()),
                              [&row](int, int) -> const OffsetsRow* { return &row; });
  ASSERT_TRUE(std::holds_alternative<std::string>(result)) << w.what;
  EXPECT_NE(std::get<std::string>(result).find(w.expected), std::string::npos)
      << w.what << ": " << std::get<std::string>(result);
}

INSTANTIATE_TEST_SUITE_P(
    Steps, WrongRows,
    ::testing::Values(
        // (a) tp_members: the 3.12 row's co_firstlineno (68) on a 3.11 process (72).
        WrongRow{11, "3.12 row on 3.11", [](OffsetsRow* r) { *r = *OffsetsRowFor(3, 12); },
                 "member co_firstlineno offset is 72 in the process, table says 68"},
        WrongRow{10, "3.10 co_linetable", [](OffsetsRow* r) { r->off.code_linetable += 8; },
                 "co_linetable"},
        // (b) _Py_DebugOffsets: a field tp_members cannot see.
        WrongRow{13, "3.13 thread_id", [](OffsetsRow* r) { r->off.tstate_thread_id += 8; },
                 "debug thread_state.thread_id is 152 in the process, table says 160"},
        // (c) live walk: frame and thread-list offsets.
        WrongRow{12, "3.12 frame code", [](OffsetsRow* r) { r->off.frame_code = 16; },
                 "live walk failed"},
        WrongRow{10, "3.10 top frame", [](OffsetsRow* r) { r->off.tstate_frame += 8; },
                 "live walk failed"},
        WrongRow{11, "3.11 threads head", [](OffsetsRow* r) { r->off.interp_tstate_head += 8; },
                 "live walk failed"}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

}  // namespace
}  // namespace perfd::python
