// Symbol lookup in ELF64 files and their load bias in a running process:
// enough to find CPython's exported globals (_PyRuntime, PyCode_Type, ...)
// in a target without debug info. Hand-parsed from <elf.h> structs, so no
// libelf dependency. The file is a target's and untrusted: it is read with
// bounded preads (mapped_file.h), every offset and size overflow-checked
// against the file, and never mapped (a truncated mapping would SIGBUS).
#pragma once

#include <elf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/python/mapped_file.h"
#include "daemon/python/proc_maps.h"

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
  // Reads and validates the headers (ELF64, little-endian) of an opened
  // file; `name` labels errors.
  static std::variant<ElfFile, std::string> Open(std::shared_ptr<const MappedFile> file,
                                                 const std::string& name);
  // A file at a path perfd chose itself (tests, its own binaries); a
  // target's files are opened with OpenMappedFile.
  static std::variant<ElfFile, std::string> OpenPath(const std::string& path);

  // ET_DYN (PIE executable or shared library): loaded at a bias.
  bool IsDynamic() const { return is_dyn_; }
  // st_value of a symbol defined in this file (.dynsym first, then .symtab);
  // imports (SHN_UNDEF) do not count.
  std::optional<uint64_t> FindSymbol(std::string_view name) const;
  // Contents of a section with file data; empty if absent, SHT_NOBITS,
  // outside the file or larger than kMaxSectionBytes.
  std::string SectionData(std::string_view name) const;
  // DT_SONAME, or "" when there is none (executables).
  std::string Soname() const;
  const std::vector<ElfLoadSegment>& LoadSegments() const { return loads_; }
  // File offset of a link-time address inside a PT_LOAD's file bytes (what
  // uprobes are attached by); nullopt outside them. `code`: executable
  // segments only.
  std::optional<uint64_t> FileOffset(uint64_t vaddr, bool code = false) const;
  // Up to `len` file bytes at a link-time address (fewer at a segment's end).
  std::string BytesAt(uint64_t vaddr, uint64_t len) const;
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

  // No section perfd reads comes near this (libpython's .symtab is a few MB).
  static constexpr uint64_t kMaxSectionBytes = 64ull << 20;

 private:
  ElfFile() = default;
  // `len` bytes at `off`, or "" (out of the file, over the cap, short read).
  std::string Read(uint64_t off, uint64_t len) const;
  std::string SectionBytes(size_t index) const;
  std::optional<uint64_t> FindIn(uint32_t sh_type, std::string_view name) const;

  std::shared_ptr<const MappedFile> file_;
  bool is_dyn_ = false;
  std::vector<ElfLoadSegment> loads_;
  std::vector<Elf64_Shdr> sections_;
  std::string section_names_;  // .shstrtab
};

// Load bias of a file given its own mappings (entries with its path): the
// value to add to st_value for a run-time address. A mapping of file offset
// `off` at `start` that lies in a PT_LOAD (p_offset rounded down to a page
// <= off < p_offset + p_filesz) implies bias = start - (p_vaddr + off -
// p_offset); the bias implied by the most mappings wins (0 for non-PIE
// executables). nullopt if no mapping fits a segment, or on a tie.
std::optional<uint64_t> LoadBias(const std::vector<ElfLoadSegment>& loads,
                                 const std::vector<MapEntry>& file_maps);

}  // namespace perfd::python
