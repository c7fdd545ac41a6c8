#include "daemon/python/elf_symbols.h"

#include <algorithm>
#include <cstring>

namespace perfd::python {
namespace {

constexpr uint64_t kPage = 4096;

template <typename T>
bool ReadStruct(std::string_view bytes, T* out) {
  if (bytes.size() < sizeof(T)) return false;
  std::memcpy(out, bytes.data(), sizeof(T));
  return true;
}

// NUL-terminated string at `off` of a string table; empty if out of bounds.
std::string_view CString(std::string_view table, uint64_t off) {
  if (off >= table.size()) return {};
  std::string_view rest = table.substr(off);
  size_t nul = rest.find('\0');
  return nul == std::string_view::npos ? std::string_view{} : rest.substr(0, nul);
}

}  // namespace

std::variant<ElfFile, std::string> ElfFile::Open(std::shared_ptr<const MappedFile> file,
                                                 const std::string& name) {
  ElfFile f;
  f.file_ = std::move(file);
  Elf64_Ehdr eh;
  if (!ReadStruct(f.Read(0, sizeof(eh)), &eh)) return name + ": not an ELF file (too small)";
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return name + ": not an ELF file";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
    return name + ": not a little-endian ELF64 file";
  }
  f.is_dyn_ = eh.e_type == ET_DYN;
  // Header tables: at most 65535 entries of at most 65535 bytes each, read
  // whole (bounded by the file) with the entry size as stride.
  if (eh.e_phnum > 0) {
    if (eh.e_phentsize < sizeof(Elf64_Phdr)) return name + ": bad program header size";
    std::string table = f.Read(eh.e_phoff, uint64_t{eh.e_phnum} * eh.e_phentsize);
    if (table.empty()) return name + ": truncated program headers";
    for (uint16_t i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      std::memcpy(&ph, table.data() + size_t{i} * eh.e_phentsize, sizeof(ph));
      if (ph.p_type == PT_LOAD) {
        f.loads_.push_back(
            {ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, (ph.p_flags & PF_X) != 0});
      }
    }
  }
  // No usable section table (stripped of it, or malformed) leaves no
  // symbols to find: FindSymbol says so, the caller refuses.
  if (eh.e_shnum > 0 && eh.e_shentsize >= sizeof(Elf64_Shdr)) {
    std::string table = f.Read(eh.e_shoff, uint64_t{eh.e_shnum} * eh.e_shentsize);
    for (size_t at = 0; at + sizeof(Elf64_Shdr) <= table.size(); at += eh.e_shentsize) {
      Elf64_Shdr sh;
      std::memcpy(&sh, table.data() + at, sizeof(sh));
      f.sections_.push_back(sh);
    }
    if (eh.e_shstrndx < f.sections_.size()) f.section_names_ = f.SectionBytes(eh.e_shstrndx);
  }
  return f;
}

std::variant<ElfFile, std::string> ElfFile::OpenPath(const std::string& path) {
  auto file = OpenRegularFile(path);
  if (auto* err = std::get_if<std::string>(&file)) return *err;
  return Open(std::get<std::shared_ptr<const MappedFile>>(file), path);
}

std::string ElfFile::Read(uint64_t off, uint64_t len) const {
  if (len == 0 || len > kMaxSectionBytes) return {};
  std::string out(static_cast<size_t>(len), '\0');
  if (!file_->ReadAt(off, out.data(), out.size())) return {};
  return out;
}

std::string ElfFile::SectionBytes(size_t index) const {
  if (index >= sections_.size() || sections_[index].sh_type == SHT_NOBITS) return {};
  return Read(sections_[index].sh_offset, sections_[index].sh_size);
}

std::optional<uint64_t> ElfFile::FindIn(uint32_t sh_type, std::string_view name) const {
  for (size_t i = 0; i < sections_.size(); ++i) {
    const Elf64_Shdr& sh = sections_[i];
    if (sh.sh_type != sh_type || sh.sh_entsize != sizeof(Elf64_Sym)) continue;
    const std::string syms = SectionBytes(i);
    const std::string strtab = SectionBytes(sh.sh_link);
    for (size_t at = 0; at + sizeof(Elf64_Sym) <= syms.size(); at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      std::memcpy(&sym, syms.data() + at, sizeof(sym));
      if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0) continue;
      if (CString(strtab, sym.st_name) == name) return sym.st_value;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfFile::FindSymbol(std::string_view name) const {
  if (auto v = FindIn(SHT_DYNSYM, name)) return v;
  return FindIn(SHT_SYMTAB, name);
}

std::string ElfFile::SectionData(std::string_view name) const {
  for (size_t i = 0; i < sections_.size(); ++i) {
    if (sections_[i].sh_type == SHT_NOBITS) continue;
    if (CString(section_names_, sections_[i].sh_name) == name) return SectionBytes(i);
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

std::string ElfFile::BytesAt(uint64_t vaddr, uint64_t len) const {
  for (const ElfLoadSegment& l : loads_) {
    if (vaddr < l.vaddr || vaddr - l.vaddr >= l.filesz) continue;
    uint64_t avail = l.filesz - (vaddr - l.vaddr);
    uint64_t off = l.offset + (vaddr - l.vaddr);
    if (off < l.offset) return {};  // p_offset + p_filesz wraps: malformed
    return Read(off, std::min(len, avail));
  }
  return {};
}

std::string ElfFile::Soname() const {
  for (size_t i = 0; i < sections_.size(); ++i) {
    if (sections_[i].sh_type != SHT_DYNAMIC) continue;
    const std::string dyn = SectionBytes(i);
    for (size_t at = 0; at + sizeof(Elf64_Dyn) <= dyn.size(); at += sizeof(Elf64_Dyn)) {
      Elf64_Dyn d;
      std::memcpy(&d, dyn.data() + at, sizeof(d));
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_SONAME)
        return std::string(CString(SectionBytes(sections_[i].sh_link), d.d_un.d_val));
    }
  }
  return "";
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
