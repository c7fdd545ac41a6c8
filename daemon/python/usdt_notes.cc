#include "daemon/python/usdt_notes.h"

#include <cstring>

namespace perfd::python {

namespace {

constexpr uint32_t kNtStapsdt = 3;

uint32_t Le32(std::string_view s, size_t off) {
  uint32_t v;
  std::memcpy(&v, s.data() + off, sizeof(v));
  return v;
}

uint64_t Le64(std::string_view s, size_t off) {
  uint64_t v;
  std::memcpy(&v, s.data() + off, sizeof(v));
  return v;
}

size_t Align4(size_t n) { return (n + 3) & ~size_t(3); }

// The NUL-terminated string at `*pos` in `desc`, advancing past it; false if
// it runs off the end.
bool TakeString(std::string_view desc, size_t* pos, std::string* out) {
  const size_t end = desc.find('\0', *pos);
  if (end == std::string_view::npos) return false;
  out->assign(desc.substr(*pos, end - *pos));
  *pos = end + 1;
  return true;
}

}  // namespace

std::vector<UsdtProbe> ParseStapsdtNotes(std::string_view section) {
  std::vector<UsdtProbe> probes;
  size_t off = 0;
  while (section.size() - off >= 12) {
    const uint64_t namesz = Le32(section, off), descsz = Le32(section, off + 4);
    const uint32_t type = Le32(section, off + 8);
    off += 12;
    // Sizes are 32-bit: their aligned sum cannot overflow size_t here.
    if (Align4(namesz) > section.size() - off) break;
    const std::string_view name = section.substr(off, namesz);
    off += Align4(namesz);
    if (Align4(descsz) > section.size() - off) break;
    const std::string_view desc = section.substr(off, descsz);
    off += Align4(descsz);
    if (type != kNtStapsdt || name != std::string_view("stapsdt\0", 8) || desc.size() < 24)
      continue;
    UsdtProbe p;
    p.pc = Le64(desc, 0);
    p.semaphore = Le64(desc, 16);
    size_t pos = 24;
    if (!TakeString(desc, &pos, &p.provider) || !TakeString(desc, &pos, &p.name) ||
        !TakeString(desc, &pos, &p.args))
      continue;
    probes.push_back(std::move(p));
  }
  return probes;
}

bool HasUsdtProbes(const ElfFile& elf, std::string_view provider,
                   std::initializer_list<std::string_view> names) {
  const std::vector<UsdtProbe> probes = ParseStapsdtNotes(elf.SectionData(".note.stapsdt"));
  for (std::string_view name : names) {
    bool found = false;
    for (const UsdtProbe& p : probes) found = found || (p.provider == provider && p.name == name);
    if (!found) return false;
  }
  return true;
}

}  // namespace perfd::python
