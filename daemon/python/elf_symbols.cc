#include "daemon/python/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace perfd::python {
namespace {

constexpr uint64_t kPage = 4096;

template <typename T>
bool ReadStruct(std::string_view bytes, T* out) {
  if (bytes.size() < sizeof(T)) return false;
  std::memcpy(out, bytes.data(), sizeof(T));
  return true;
}

}  // namespace

std::variant<ElfFile, std::string> ElfFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "open " + path + ": " + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    ::close(fd);
    return path + ": not an ELF file (too small)";
  }
  void* map = ::mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return "mmap " + path + ": " + std::strerror(errno);

  ElfFile f;
  f.data_ = static_cast<const char*>(map);
  f.size_ = static_cast<size_t>(st.st_size);
  Elf64_Ehdr eh;
  ReadStruct(f.Bytes(0, sizeof(eh)), &eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return path + ": not an ELF file";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return path + ": not a little-endian ELF64 file";
  }
  f.is_dyn_ = eh.e_type == ET_DYN;
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!ReadStruct(f.Bytes(eh.e_phoff + uint64_t{i} * eh.e_phentsize, sizeof(ph)), &ph)) {
      return path + ": truncated program headers";
    }
    if (ph.p_type == PT_LOAD) {
      f.loads_.push_back(
          {ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, (ph.p_flags & PF_X) != 0});
    }
  }
  return f;
}

ElfFile::ElfFile(ElfFile&& other) noexcept { *this = std::move(other); }

ElfFile& ElfFile::operator=(ElfFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    is_dyn_ = other.is_dyn_;
    loads_ = std::move(other.loads_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

ElfFile::~ElfFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

std::string_view ElfFile::Bytes(uint64_t off, uint64_t len) const {
  if (off > size_ || len > size_ - off) return {};
  return {data_ + off, static_cast<size_t>(len)};
}

// NUL-terminated string at `off` inside the string table of section
// `strtab_index`; empty if out of bounds.
std::string_view ElfFile::CString(uint64_t strtab_index, uint64_t off) const {
  Elf64_Ehdr eh;
  Elf64_Shdr sh;
  ReadStruct(Bytes(0, sizeof(eh)), &eh);
  if (strtab_index >= eh.e_shnum ||
      !ReadStruct(Bytes(eh.e_shoff + strtab_index * eh.e_shentsize, sizeof(sh)), &sh)) {
    return {};
  }
  std::string_view table = Bytes(sh.sh_offset, sh.sh_size);
  if (off >= table.size()) return {};
  std::string_view rest = table.substr(off);
  size_t nul = rest.find('\0');
  return nul == std::string_view::npos ? std::string_view{} : rest.substr(0, nul);
}

std::optional<uint64_t> ElfFile::FindIn(uint32_t sh_type, std::string_view name) const {
  Elf64_Ehdr eh;
  ReadStruct(Bytes(0, sizeof(eh)), &eh);
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!ReadStruct(Bytes(eh.e_shoff + uint64_t{i} * eh.e_shentsize, sizeof(sh)), &sh)) break;
    if (sh.sh_type != sh_type || sh.sh_entsize != sizeof(Elf64_Sym)) continue;
    std::string_view syms = Bytes(sh.sh_offset, sh.sh_size);
    for (size_t at = 0; at + sizeof(Elf64_Sym) <= syms.size(); at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      std::memcpy(&sym, syms.data() + at, sizeof(sym));
      if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0) continue;
      if (CString(sh.sh_link, sym.st_name) == name) return sym.st_value;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfFile::FindSymbol(std::string_view name) const {
  if (auto v = FindIn(SHT_DYNSYM, name)) return v;
  return FindIn(SHT_SYMTAB, name);
}

std::string_view ElfFile::SectionData(std::string_view name) const {
  Elf64_Ehdr eh;
  ReadStruct(Bytes(0, sizeof(eh)), &eh);
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!ReadStruct(Bytes(eh.e_shoff + uint64_t{i} * eh.e_shentsize, sizeof(sh)), &sh)) break;
    if (sh.sh_type == SHT_NOBITS || CString(eh.e_shstrndx, sh.sh_name) != name) continue;
    return Bytes(sh.sh_offset, sh.sh_size);
  }
  return {};
}

std::optional<uint64_t> ElfFile::FileOffset(uint64_t vaddr, bool code) const {
  for (const ElfLoadSegment& l : loads_) {
    if (code && !l.executable) continue;
    if (vaddr >= l.vaddr && vaddr - l.vaddr < l.filesz) return l.offset + (vaddr - l.vaddr);
  }
  return std::nullopt;
}

std::string_view ElfFile::BytesAt(uint64_t vaddr, uint64_t len) const {
  for (const ElfLoadSegment& l : loads_) {
    if (vaddr < l.vaddr || vaddr - l.vaddr >= l.filesz) continue;
    uint64_t avail = l.filesz - (vaddr - l.vaddr);
    return Bytes(l.offset + (vaddr - l.vaddr), std::min(len, avail));
  }
  return {};
}

std::string ElfFile::Soname() const {
  Elf64_Ehdr eh;
  ReadStruct(Bytes(0, sizeof(eh)), &eh);
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!ReadStruct(Bytes(eh.e_shoff + uint64_t{i} * eh.e_shentsize, sizeof(sh)), &sh)) break;
    if (sh.sh_type != SHT_DYNAMIC) continue;
    std::string_view dyn = Bytes(sh.sh_offset, sh.sh_size);
    for (size_t at = 0; at + sizeof(Elf64_Dyn) <= dyn.size(); at += sizeof(Elf64_Dyn)) {
      Elf64_Dyn d;
      std::memcpy(&d, dyn.data() + at, sizeof(d));
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_SONAME) return std::string(CString(sh.sh_link, d.d_un.d_val));
    }
  }
  return "";
}

std::vector<MapEntry> ParseMaps(std::string_view text) {
  std::vector<MapEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // start-end perms offset dev inode [path]; the path may contain spaces.
    MapEntry e;
    char perms[8] = {};
    unsigned long long start, end, offset, inode;
    int path_at = -1;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms,
                    &offset, &inode, &path_at) < 5) {
      continue;
    }
    e.start = start;
    e.end = end;
    e.perms = perms;
    e.offset = offset;
    e.inode = inode;
    if (path_at > 0 && static_cast<size_t>(path_at) < line.size()) e.path = line.substr(path_at);
    out.push_back(std::move(e));
  }
  return out;
}

std::variant<std::vector<MapEntry>, std::string> ReadMaps(uint32_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/maps";
  std::ifstream f(path);
  if (!f) return "cannot read " + path + ": " + std::strerror(errno);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseMaps(ss.str());
}

std::optional<uint64_t> LoadBias(const std::vector<ElfLoadSegment>& loads,
                                 const std::vector<MapEntry>& file_maps) {
  // A page shared by two segments is mapped once per segment, so one mapping
  // can fit two segments; and a process may also mmap the file as plain data.
  // Take the bias that explains the most mappings, refusing a tie.
  auto fits = [&loads](const MapEntry& m, uint64_t bias) {
    for (const ElfLoadSegment& s : loads) {
      uint64_t first = s.offset & ~(kPage - 1);
      if (m.offset < first || m.offset >= s.offset + s.filesz) continue;
      // Unsigned wrap-around is intended (bias 0 or "negative" layouts).
      if (m.start - (s.vaddr + m.offset - s.offset) == bias) return true;
    }
    return false;
  };
  std::optional<uint64_t> best;
  size_t best_score = 0;
  bool tie = false;
  for (const MapEntry& m : file_maps) {
    for (const ElfLoadSegment& s : loads) {
      uint64_t first = s.offset & ~(kPage - 1);
      if (m.offset < first || m.offset >= s.offset + s.filesz) continue;
      uint64_t candidate = m.start - (s.vaddr + m.offset - s.offset);
      if (best && candidate == *best) continue;
      size_t score = 0;
      for (const MapEntry& other : file_maps) score += fits(other, candidate) ? 1 : 0;
      if (score > best_score) {
        best = candidate;
        best_score = score;
        tie = false;
      } else if (score == best_score) {
        tie = true;
      }
    }
  }
  if (tie) return std::nullopt;
  return best;
}

}  // namespace perfd::python
