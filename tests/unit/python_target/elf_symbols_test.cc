#include "daemon/python/elf_symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "tests/unit/python_target/live_python.h"

// Defined in this test binary so its run-time address is known exactly.
extern "C" {
__attribute__((used)) int perfd_elf_test_marker = 42;
}

namespace perfd::python {
namespace {

ElfFile MustOpen(const std::string& path) {
  auto f = ElfFile::OpenPath(path);
  if (auto* err = std::get_if<std::string>(&f)) ADD_FAILURE() << *err;
  return std::move(std::get<ElfFile>(f));
}

std::vector<MapEntry> MapsOf(const std::vector<MapEntry>& maps, const std::string& path) {
  std::vector<MapEntry> out;
  for (const MapEntry& m : maps) {
    if (m.path == path) out.push_back(m);
  }
  return out;
}

// Bytes of the file at a link-time address, through its PT_LOAD segments.
uint64_t FileWordAt(const std::string& path, const ElfFile& elf, uint64_t vaddr) {
  for (const ElfLoadSegment& s : elf.LoadSegments()) {
    if (vaddr < s.vaddr || vaddr + 8 > s.vaddr + s.filesz) continue;
    std::ifstream f(path, std::ios::binary);
    f.seekg(static_cast<std::streamoff>(s.offset + (vaddr - s.vaddr)));
    uint64_t v = 0;
    f.read(reinterpret_cast<char*>(&v), sizeof(v));
    return v;
  }
  ADD_FAILURE() << "no PT_LOAD holds " << vaddr;
  return 0;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(ElfSymbols, OwnSymbolAtItsRunTimeAddress) {
  std::string exe = SelfExe();
  ElfFile elf = MustOpen(exe);
  auto sym = elf.FindSymbol("perfd_elf_test_marker");
  ASSERT_TRUE(sym.has_value()) << "is the test binary stripped?";
  auto maps = ReadMaps(static_cast<uint32_t>(::getpid()));
  ASSERT_TRUE(std::holds_alternative<std::vector<MapEntry>>(maps));
  auto bias = LoadBias(elf.LoadSegments(), MapsOf(std::get<std::vector<MapEntry>>(maps), exe));
  ASSERT_TRUE(bias.has_value());
  EXPECT_EQ(*bias + *sym, reinterpret_cast<uint64_t>(&perfd_elf_test_marker));
  if (elf.IsDynamic()) {
    EXPECT_NE(*bias, 0u);
  }
}

TEST(ElfSymbols, SharedLibrarySymbolMatchesTheDynamicLinker) {
  void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(libc, nullptr);
  void* getpid_addr = ::dlsym(libc, "getpid");
  Dl_info info{};
  ASSERT_NE(::dladdr(getpid_addr, &info), 0);
  auto maps = std::get<std::vector<MapEntry>>(ReadMaps(static_cast<uint32_t>(::getpid())));
  // dladdr may report the path through a symlink; find the mapping instead.
  std::string path;
  for (const MapEntry& m : maps) {
    auto a = reinterpret_cast<uint64_t>(getpid_addr);
    if (a >= m.start && a < m.end) path = m.path;
  }
  ASSERT_FALSE(path.empty());
  ElfFile elf = MustOpen(path);
  EXPECT_TRUE(elf.IsDynamic());
  EXPECT_EQ(elf.Soname(), "libc.so.6");
  auto sym = elf.FindSymbol("getpid");
  ASSERT_TRUE(sym.has_value());
  auto bias = LoadBias(elf.LoadSegments(), MapsOf(maps, path));
  ASSERT_TRUE(bias.has_value());
  EXPECT_EQ(*bias, reinterpret_cast<uint64_t>(info.dli_fbase));
  EXPECT_EQ(*bias + *sym, reinterpret_cast<uint64_t>(getpid_addr));
  ::dlclose(libc);
}

// Debian's python3.11: non-PIE, stripped (dynsym only), exports the runtime.
TEST(ElfSymbols, DebianPython311) {
  const std::string path = "/usr/bin/python3.11";
  if (::access(path.c_str(), R_OK) != 0) GTEST_SKIP() << path << " is not installed";
  ElfFile elf = MustOpen(path);
  EXPECT_FALSE(elf.IsDynamic());
  EXPECT_EQ(elf.Soname(), "");
  EXPECT_TRUE(elf.FindSymbol("_PyRuntime").has_value());
  EXPECT_TRUE(elf.FindSymbol("PyCode_Type").has_value());
  auto version = elf.FindSymbol("Py_Version");
  ASSERT_TRUE(version.has_value());
  // Debian 12 ships 3.11.2 final: PY_VERSION_HEX 0x030b02f0.
  EXPECT_EQ(FileWordAt(path, elf, *version) & 0xffffffff, 0x030b02f0u);
  EXPECT_FALSE(elf.SectionData(".rodata").empty());
  EXPECT_TRUE(elf.SectionData(".symtab").empty());  // stripped
}

TEST(ElfSymbols, PyenvLibpythonAndItsImportingExecutable) {
  std::string version = testing::PyenvVersion(12);
  if (version.empty()) GTEST_SKIP() << "no pyenv CPython 3.12 under " << testing::PyenvRoot();
  std::string prefix = testing::PyenvRoot() + "/versions/" + version;
  ElfFile lib = MustOpen(prefix + "/lib/libpython3.12.so.1.0");
  EXPECT_TRUE(lib.IsDynamic());
  EXPECT_EQ(lib.Soname(), "libpython3.12.so.1.0");
  auto v = lib.FindSymbol("Py_Version");
  ASSERT_TRUE(v.has_value());
  int micro = std::stoi(version.substr(version.rfind('.') + 1));
  EXPECT_EQ(FileWordAt(prefix + "/lib/libpython3.12.so.1.0", lib, *v) & 0xffffffff,
            0x030c00f0u | (static_cast<uint32_t>(micro) << 8));
  ASSERT_TRUE(lib.FindSymbol("Py_BytesMain").has_value());

  // The executable only imports the interpreter: imports are not definitions.
  ElfFile exe = MustOpen(prefix + "/bin/python3.12");
  EXPECT_FALSE(exe.FindSymbol("Py_BytesMain").has_value());
  EXPECT_FALSE(exe.FindSymbol("_PyRuntime").has_value());
  EXPECT_TRUE(exe.FindSymbol("main").has_value());  // from .symtab
}

TEST(ElfSymbols, OpenRejectsMissingAndNonElfFiles) {
  auto missing = ElfFile::OpenPath("/nonexistent/perfd");
  ASSERT_TRUE(std::holds_alternative<std::string>(missing));
  EXPECT_NE(std::get<std::string>(missing).find("/nonexistent/perfd"), std::string::npos);

  char tmpl[] = "/tmp/perfd_elf_XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  const char text[] = "#!/bin/sh\necho this is not an ELF file, but it is long enough\n";
  ASSERT_EQ(::write(fd, text, sizeof(text)), static_cast<ssize_t>(sizeof(text)));
  ::close(fd);
  auto not_elf = ElfFile::OpenPath(tmpl);
  ::unlink(tmpl);
  ASSERT_TRUE(std::holds_alternative<std::string>(not_elf));
  EXPECT_NE(std::get<std::string>(not_elf).find("not an ELF"), std::string::npos);
}

// A file a target controls may claim any offsets and sizes: every read is
// bounded by the file, overflow included, and a header table that is not
// there is a refusal, never a read out of bounds.
std::string TempFileWith(const void* data, size_t len) {
  char tmpl[] = "/tmp/perfd_elf_XXXXXX";
  int fd = ::mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, data, len), static_cast<ssize_t>(len));
  ::close(fd);
  return tmpl;
}

Elf64_Ehdr MinimalHeader() {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_DYN;
  return eh;
}

TEST(ElfSymbols, HostileHeaderOffsetsAreBoundedByTheFile) {
  Elf64_Ehdr eh = MinimalHeader();
  eh.e_phoff = ~uint64_t{0} - 8;  // wraps when the table size is added
  eh.e_phnum = 4;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  std::string path = TempFileWith(&eh, sizeof(eh));
  auto wrapped = ElfFile::OpenPath(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(wrapped));
  EXPECT_NE(std::get<std::string>(wrapped).find("truncated program headers"), std::string::npos);
  ::unlink(path.c_str());

  // Sections past the end of the file and a giant section: no symbols, no data.
  eh = MinimalHeader();
  eh.e_shoff = sizeof(eh);
  eh.e_shnum = 2;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shstrndx = 1;
  struct {
    Elf64_Ehdr eh;
    Elf64_Shdr sh[2];
  } file{};
  file.eh = eh;
  file.sh[0].sh_type = SHT_DYNSYM;
  file.sh[0].sh_entsize = sizeof(Elf64_Sym);
  file.sh[0].sh_offset = ~uint64_t{0} - 16;
  file.sh[0].sh_size = 64;
  file.sh[0].sh_link = 1;
  file.sh[1].sh_type = SHT_STRTAB;
  file.sh[1].sh_offset = 0;
  file.sh[1].sh_size = ElfFile::kMaxSectionBytes + 1;
  path = TempFileWith(&file, sizeof(file));
  auto f = ElfFile::OpenPath(path);
  ::unlink(path.c_str());
  ASSERT_TRUE(std::holds_alternative<ElfFile>(f)) << std::get<std::string>(f);
  const ElfFile& elf = std::get<ElfFile>(f);
  EXPECT_FALSE(elf.FindSymbol("_PyRuntime").has_value());
  EXPECT_TRUE(elf.SectionData(".rodata").empty());
  EXPECT_EQ(elf.Soname(), "");
}

// Reads go to the file, not a mapping: a file that shrinks after it was
// opened gives short reads (empty data), where a mapping would SIGBUS.
TEST(ElfSymbols, FileTruncatedAfterOpenReadsAsEmpty) {
  std::string self = SelfExe();
  std::ifstream in(self, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string path = TempFileWith(bytes.data(), bytes.size());
  ElfFile elf = MustOpen(path);
  ASSERT_TRUE(elf.FindSymbol("perfd_elf_test_marker").has_value());
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  EXPECT_FALSE(elf.FindSymbol("perfd_elf_test_marker").has_value());
  ::unlink(path.c_str());
}

TEST(ElfSymbols, ParseMapsLines) {
  const char kMaps[] =
      "00400000-00420000 r--p 00000000 fe:01 1835043                            "
      "/usr/bin/python3.11\n"
      "7f0a1c000000-7f0a1c021000 rw-p 00000000 00:00 0 \n"
      "7f0a1d600000-7f0a1d6a6000 r-xp 000a6000 fe:01 2229 /opt/my app/libpython3.12.so.1.0\n"
      "7f0a1e000000-7f0a1e001000 r--p 00001000 fe:01 77 /tmp/x.so (deleted)\n"
      "55d4c2a0e000-55d4c2a2f000 rw-p 00000000 00:00 0                          [heap]\n"
      "garbage line\n";
  auto maps = ParseMaps(kMaps);
  ASSERT_EQ(maps.size(), 5u);
  EXPECT_EQ(maps[0].start, 0x400000u);
  EXPECT_EQ(maps[0].end, 0x420000u);
  EXPECT_EQ(maps[0].perms, "r--p");
  EXPECT_EQ(maps[0].dev_major, 0xfeu);
  EXPECT_EQ(maps[0].dev_minor, 0x01u);
  EXPECT_EQ(maps[0].inode, 1835043u);
  EXPECT_EQ(maps[0].path, "/usr/bin/python3.11");
  EXPECT_EQ(maps[1].path, "");
  EXPECT_EQ(maps[2].offset, 0xa6000u);
  EXPECT_EQ(maps[2].path, "/opt/my app/libpython3.12.so.1.0");
  EXPECT_EQ(maps[3].path, "/tmp/x.so (deleted)");
  EXPECT_EQ(maps[4].path, "[heap]");
}

MapEntry Map(uint64_t start, uint64_t end, uint64_t offset, const char* perms = "r--p") {
  MapEntry m;
  m.start = start;
  m.end = end;
  m.offset = offset;
  m.perms = perms;
  return m;
}

// PT_LOADs of pyenv's libpython3.12.so.1.0 (readelf -lW) and the mappings
// ld.so made of it in a live process. The RELRO page at file offset 0x4cc000
// also lies inside the third segment, which implies a wrong bias for it alone.
TEST(ElfSymbols, LoadBiasOfASharedLibrary) {
  const std::vector<ElfLoadSegment> loads = {
      {0x0, 0x0, 0x105130, 0x105130},
      {0x106000, 0x106000, 0x272ec9, 0x272ec9},
      {0x379000, 0x379000, 0x1530c8, 0x1530c8},
      {0x4cd6d0, 0x4cc6d0, 0x1e6118, 0x1e7598},
  };
  const uint64_t base = 0x7f2b30800000;
  const std::vector<MapEntry> maps = {
      Map(0x7f2b30800000, 0x7f2b30906000, 0x0),
      Map(0x7f2b30906000, 0x7f2b30b79000, 0x106000, "r-xp"),
      Map(0x7f2b30b79000, 0x7f2b30ccd000, 0x379000),
      Map(0x7f2b30ccd000, 0x7f2b30d44000, 0x4cc000),
      Map(0x7f2b30d44000, 0x7f2b30eb4000, 0x543000, "rw-p"),
  };
  EXPECT_EQ(LoadBias(loads, maps), base);
  EXPECT_EQ(LoadBias(loads, {maps[1]}), base);
  EXPECT_EQ(LoadBias(loads, {maps[4]}), base);
}

// Debian's /usr/bin/python3.11 as mapped: link-time addresses are run-time ones.
TEST(ElfSymbols, LoadBiasOfANonPieExecutableIsZero) {
  const std::vector<ElfLoadSegment> loads = {
      {0x400000, 0x0, 0x1e3e8, 0x1e3e8},
      {0x41f000, 0x1f000, 0x2b2289, 0x2b2289},
      {0x6d2000, 0x2d2000, 0x272968, 0x272968},
      {0x945dc8, 0x544dc8, 0x13e4b0, 0x1832f0},
  };
  const std::vector<MapEntry> maps = {
      Map(0x400000, 0x41f000, 0x0),
      Map(0x41f000, 0x6d2000, 0x1f000, "r-xp"),
      Map(0x6d2000, 0x945000, 0x2d2000),
      Map(0x945000, 0x946000, 0x544000),
      Map(0x946000, 0xa85000, 0x545000, "rw-p"),
  };
  EXPECT_EQ(LoadBias(loads, maps), 0u);
}

TEST(ElfSymbols, LoadBiasWhenTwoSegmentsShareAPage) {
  // .text ends inside the page where .data starts: that file page is mapped
  // twice, once per segment, at different addresses.
  const std::vector<ElfLoadSegment> loads = {
      {0x0, 0x0, 0x1234, 0x1234},
      {0x2238, 0x1238, 0x100, 0x2000},
  };
  const uint64_t base = 0x555500000000;
  const std::vector<MapEntry> maps = {Map(base, base + 0x2000, 0, "r-xp"),
                                      Map(base + 0x2000, base + 0x3000, 0x1000, "rw-p")};
  EXPECT_EQ(LoadBias(loads, maps), base);
  // Alone, the shared page fits both segments: ambiguous, so no answer.
  EXPECT_FALSE(LoadBias(loads, {maps[1]}).has_value());
}

TEST(ElfSymbols, LoadBiasWithoutAFittingMappingOrWithATie) {
  const std::vector<ElfLoadSegment> loads = {{0x0, 0x0, 0x1000, 0x1000}};
  EXPECT_FALSE(LoadBias(loads, {}).has_value());
  EXPECT_FALSE(LoadBias(loads, {Map(0x10000, 0x11000, 0x5000)}).has_value());
  // The same file page mapped at two places, with nothing to prefer one.
  EXPECT_FALSE(LoadBias(loads, {Map(0x10000, 0x11000, 0), Map(0x20000, 0x21000, 0)}).has_value());
}

}  // namespace
}  // namespace perfd::python
