// /proc/<pid>/maps as data: what a process has mapped, and which file (by
// device and inode, not only by name) backs each mapping. The name is only a
// label: a deleted file shows as "<path> (deleted)" and anything may since
// have been put at that path; mapped_file.h opens the inode itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace perfd::python {

// One line of /proc/<pid>/maps.
struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;  // e.g. "r-xp"
  uint64_t offset = 0;
  uint32_t dev_major = 0;  // device of the mapped file, as the kernel prints it
  uint32_t dev_minor = 0;
  uint64_t inode = 0;  // 0 for anonymous mappings
  std::string path;    // "" for anonymous mappings; may end in " (deleted)"
};

std::vector<MapEntry> ParseMaps(std::string_view text);
// Reads and parses /proc/<pid>/maps; error text on failure.
std::variant<std::vector<MapEntry>, std::string> ReadMaps(uint32_t pid);

}  // namespace perfd::python
