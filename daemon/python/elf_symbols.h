// Symbol lookup in ELF64 files and their load bias in a running process:
// enough to find CPython's exported globals (_PyRuntime, PyCode_Type, ...)
// in a target without debug info. Hand-parsed from <elf.h> structs over a
// read-only mapping, so no libelf dependency.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace perfd::python {

struct ElfLoadSegment {
  uint64_t vaddr;
  uint64_t offset;
  uint64_t filesz;
  uint64_t memsz;
  bool executable = false;  // PF_X
};

class ElfFile {
 public:
  // Maps the file read-only and validates the headers (ELF64, little-endian).
  static std::variant<ElfFile, std::string> Open(const std::string& path);

  ElfFile(ElfFile&& other) noexcept;
  ElfFile& operator=(ElfFile&& other) noexcept;
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ~ElfFile();

  // ET_DYN (PIE executable or shared library): loaded at a bias.
  bool IsDynamic() const { return is_dyn_; }
  // st_value of a symbol defined in this file (.dynsym first, then .symtab);
  // imports (SHN_UNDEF) do not count.
  std::optional<uint64_t> FindSymbol(std::string_view name) const;
  // Contents of a section with file data; empty if absent or SHT_NOBITS.
  std::string_view SectionData(std::string_view name) const;
  // DT_SONAME, or "" when there is none (executables).
  std::string Soname() const;
  const std::vector<ElfLoadSegment>& LoadSegments() const { return loads_; }
  // File offset of a link-time address inside a PT_LOAD's file bytes (what
  // uprobes are attached by); nullopt outside them. `code`: executable
  // segments only.
  std::optional<uint64_t> FileOffset(uint64_t vaddr, bool code = false) const;
  // Up to `len` file bytes at a link-time address (fewer at a segment's end).
  std::string_view BytesAt(uint64_t vaddr, uint64_t len) const;

 private:
  ElfFile() = default;
  std::string_view Bytes(uint64_t off, uint64_t len) const;
  std::string_view CString(uint64_t strtab_index, uint64_t off) const;
  std::optional<uint64_t> FindIn(uint32_t sh_type, std::string_view name) const;

  const char* data_ = nullptr;
  size_t size_ = 0;
  bool is_dyn_ = false;
  std::vector<ElfLoadSegment> loads_;
};

// One line of /proc/<pid>/maps.
struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;  // e.g. "r-xp"
  uint64_t offset = 0;
  uint64_t inode = 0;
  std::string path;  // "" for anonymous mappings; may end in " (deleted)"
};

std::vector<MapEntry> ParseMaps(std::string_view text);
// Reads and parses /proc/<pid>/maps; error text on failure.
std::variant<std::vector<MapEntry>, std::string> ReadMaps(uint32_t pid);

// Load bias of a file given its own mappings (entries with its path): the
// value to add to st_value for a run-time address. A mapping of file offset
// `off` at `start` that lies in a PT_LOAD (p_offset rounded down to a page
// <= off < p_offset + p_filesz) implies bias = start - (p_vaddr + off -
// p_offset); the bias implied by the most mappings wins (0 for non-PIE
// executables). nullopt if no mapping fits a segment, or on a tie.
std::optional<uint64_t> LoadBias(const std::vector<ElfLoadSegment>& loads,
                                 const std::vector<MapEntry>& file_maps);

}  // namespace perfd::python
