// SystemTap SDT (USDT) probe descriptors of an ELF (.note.stapsdt): which
// static probes an interpreter was built with. CPython built --with-dtrace
// (Debian's) has python:gc__start/gc__done; pyenv's default builds have none,
// and perfd must say so instead of reporting zero GC pauses. libbpf attaches
// the probes itself (bpf_program__attach_usdt); this only answers "are they
// there" without libbpf's failure noise. The notes are a target's bytes:
// every length is checked against the section.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/python/elf_symbols.h"

namespace perfd::python {

struct UsdtProbe {
  std::string provider;
  std::string name;
  uint64_t pc = 0;         // link-time address of the probe's nop
  uint64_t semaphore = 0;  // link-time address of its is-enabled counter (0: none)
  std::string args;        // e.g. "-4@112(%rsp)"
};

// Parses a .note.stapsdt section (ELF64 notes of type NT_STAPSDT = 3, name
// "stapsdt"). Malformed notes end the parse; what was read before is kept.
std::vector<UsdtProbe> ParseStapsdtNotes(std::string_view section);

// Whether the ELF has every probe provider:name of `names` (its notes are
// read and parsed once).
bool HasUsdtProbes(const ElfFile& elf, std::string_view provider,
                   std::initializer_list<std::string_view> names);
inline bool HasUsdtProbe(const ElfFile& elf, std::string_view provider, std::string_view name) {
  return HasUsdtProbes(elf, provider, {name});
}

}  // namespace perfd::python
