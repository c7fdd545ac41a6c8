// Reads code objects out of real CPython 3.10-3.13 children (pyenv) and
// checks names, files, first lines and tables against what the child itself
// reports, and that a raw frame instruction field, read the way the BPF
// walker reads it, resolves to the child's own frame.f_lineno.
#include <fcntl.h>
#include <glob.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/python/code_reader.h"
#include "daemon/python/offsets_table.h"
#include "daemon/python/symbolizer.h"

namespace perfd::python {
namespace {

// The child records, for frames that call rec(), the raw instruction field
// exactly as the walker computes it (f_lasti on 3.10; (ptr - code -
// co_code_adaptive) / 2 from the interpreter frame on 3.11+) together with
// CPython's own f_lineno at that moment.
constexpr const char* kChild = R"PY(
import ctypes, sys
I = dict((k, int(v)) for k, v in (a.split("=") for a in sys.argv[1:]))
V = sys.version_info[:2]
def u64(a): return int.from_bytes(ctypes.string_at(a, 8), "little")
def u32(a): return int.from_bytes(ctypes.string_at(a, 4), "little")
def qn(co): return co.co_qualname if V >= (3, 11) else co.co_name
frames = []
def rec(*args):
    f = sys._getframe(1)
    if V < (3, 11):
        raw = u32(id(f) + I["frame_instr"])
    else:
        iframe = u64(id(f) + 24)  # PyFrameObject.f_frame
        code = u64(iframe + I["frame_code"])
        assert code == id(f.f_code)
        raw = ((u64(iframe + I["frame_instr"]) - code - I["code_adaptive"]) // 2) & 0xffffffff
    frames.append((f.f_code, raw, f.f_lineno))
    return 1

def straight():
    rec()
    x = (1 +
         rec())
    return x

def args_below():
    # The instruction before the call is on another line: reading the raw
    # field as "one past the current instruction" would be caught here.
    rec(
        len(
            "x"))

def loop():
    for i in range(3):
        if i == 2:
            rec()

def handler():
    try:
        1 / 0
    except ZeroDivisionError:
        rec()
    finally:
        rec()

def comp():
    return [rec() for _ in range(2)]

def gen():
    yield rec()
    yield rec(
    )

class Klass:
    def method(self):
        return rec(
        )

async def coro():
    rec()

def café(): rec()
def 関数(): rec()
def 𠀀(): rec()

straight(); args_below(); loop(); handler(); comp(); list(gen()); Klass().method()
c = coro()
try:
    c.send(None)
except StopIteration:
    pass
café(); 関数(); 𠀀()

def field(co, **kw):
    return co.replace(**{("co_qualname" if V >= (3, 11) else "co_name"): kw["name"]})
long_name = field(straight.__code__, name="q" * 4097)
surrogate = field(straight.__code__, name="a\udc80b")

def h(s): return s.encode("utf-8", "surrogatepass").hex()
seen = set()
for co, raw, line in frames:
    if id(co) not in seen:
        seen.add(id(co))
        print("C", id(co), h(qn(co)), h(co.co_filename), co.co_firstlineno, co.co_linetable.hex())
    print("F", id(co), raw, co.co_firstlineno, line)
print("L", id(long_name), long_name.co_firstlineno)
print("S", id(surrogate), surrogate.co_firstlineno)
print("READY", flush=True)
sys.stdin.read()
)PY";

std::string FindPython(int minor) {
  std::vector<std::string> roots;
  if (const char* r = getenv("PYENV_ROOT")) roots.push_back(r);
  if (const char* home = getenv("HOME")) roots.push_back(std::string(home) + "/.pyenv");
  roots.push_back("/root/.pyenv");
  for (const auto& root : roots) {
    glob_t g{};
    const std::string pattern = root + "/versions/3." + std::to_string(minor) + ".*/bin/python3";
    std::string found;
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
      found = g.gl_pathv[g.gl_pathc - 1];
    }
    globfree(&g);
    if (!found.empty()) return found;
  }
  return "";
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// A running child: its stdin stays open until the test ends.
class Child {
 public:
  bool Start(const std::string& python, const std::string& script,
             const std::vector<std::string>& args) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      std::vector<char*> argv{const_cast<char*>(python.c_str()), const_cast<char*>(script.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      setenv("PYTHONUTF8", "1", 1);
      execv(python.c_str(), argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = fdopen(out[0], "r");
    return pid_ > 0 && stdout_ != nullptr;
  }

  // Lines up to "READY"; empty if the child died first.
  std::vector<std::string> ReadUntilReady() {
    std::vector<std::string> lines;
    char buf[8192];
    while (fgets(buf, sizeof(buf), stdout_)) {
      std::string line(buf);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      if (line == "READY") return lines;
      lines.push_back(line);
    }
    return {};
  }

  pid_t pid() const { return pid_; }

  ~Child() {
    if (stdin_ >= 0) close(stdin_);
    if (stdout_) fclose(stdout_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  FILE* stdout_ = nullptr;
};

class LiveCodeReaderTest : public ::testing::TestWithParam<int> {};

TEST_P(LiveCodeReaderTest, MatchesTheInterpreter) {
  const int minor = GetParam();
  const std::string python = FindPython(minor);
  if (python.empty()) GTEST_SKIP() << "no pyenv CPython 3." << minor;
  const py_offsets* off = OffsetsFor(3, minor);
  ASSERT_NE(off, nullptr);

  // Non-ASCII (4-byte kind) path: co_filename exercises compact UCS4.
  char dir[] = "/tmp/perfd_live_code_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string script = std::string(dir) + "/sc\xc3\xafpt_\xf0\x9f\x98\x80.py";
  std::ofstream(script) << kChild;

  Child child;
  ASSERT_TRUE(child.Start(python, script,
                          {"frame_instr=" + std::to_string(off->frame_instr),
                           "frame_code=" + std::to_string(off->frame_code),
                           "code_adaptive=" + std::to_string(off->code_adaptive)}));
  const std::vector<std::string> lines = child.ReadUntilReady();
  unlink(script.c_str());
  rmdir(dir);
  ASSERT_FALSE(lines.empty()) << "child failed";

  ProcessMemoryReader mem(child.pid());
  Symbolizer sym;
  std::map<uint64_t, std::string> qualnames;
  int codes = 0, frames = 0;
  for (const auto& line : lines) {
    std::istringstream in(line);
    std::string kind;
    uint64_t addr = 0;
    in >> kind >> addr;
    SCOPED_TRACE(line);
    if (kind == "C") {
      std::string qual_hex, file_hex, table_hex;
      int firstlineno = 0;
      in >> qual_hex >> file_hex >> firstlineno >> table_hex;
      auto info = ReadCode(mem, *off, addr);
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(info->qualname, Unhex(qual_hex));
      EXPECT_EQ(info->filename, script);
      EXPECT_EQ(info->firstlineno, firstlineno);
      EXPECT_EQ(info->linetable, Unhex(table_hex));
      qualnames[addr] = info->qualname;
      ++codes;
    } else if (kind == "F") {
      uint32_t raw = 0;
      int32_t firstlineno = 0;
      int lineno = 0;
      in >> raw >> firstlineno >> lineno;
      Symbol s = sym.Resolve(mem, child.pid(), *off, py_frame{addr, raw, firstlineno});
      ASSERT_TRUE(s.ok);
      EXPECT_EQ(s.qualname, qualnames[addr]);
      EXPECT_EQ(s.line, lineno) << "raw instr " << raw;
      ++frames;
    } else if (kind == "L") {
      static_assert(kMaxNameBytes < 4097, "the child's long_name must exceed the cap");
      EXPECT_FALSE(ReadCode(mem, *off, addr).has_value()) << "4097-char name accepted";
    } else if (kind == "S") {
      auto info = ReadCode(mem, *off, addr);
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(info->qualname,
                "a\xef\xbf\xbd"
                "b");
    }
  }
  EXPECT_GE(codes, 10);
  EXPECT_EQ(frames, 15);  // every rec() call above
  // Names with 1-, 2- and 4-byte kinds were among them.
  bool k1 = false, k2 = false, k4 = false;
  for (const auto& [addr, q] : qualnames) {
    k1 |= q == "caf\xc3\xa9";
    k2 |= q == "\xe9\x96\xa2\xe6\x95\xb0";
    k4 |= q == "\xf0\xa0\x80\x80";
  }
  EXPECT_TRUE(k1 && k2 && k4);
}

INSTANTIATE_TEST_SUITE_P(Pyenv, LiveCodeReaderTest, ::testing::Values(10, 11, 12, 13),
                         [](const auto& info) { return "py3" + std::to_string(info.param); });

}  // namespace
}  // namespace perfd::python
