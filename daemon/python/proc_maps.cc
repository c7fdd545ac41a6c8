#include "daemon/python/proc_maps.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace perfd::python {

std::vector<MapEntry> ParseMaps(std::string_view text) {
  std::vector<MapEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // start-end perms offset major:minor inode [path]; the path may contain spaces.
    MapEntry e;
    char perms[8] = {};
    unsigned long long start, end, offset, inode;
    unsigned dev_major, dev_minor;
    int path_at = -1;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset,
                    &dev_major, &dev_minor, &inode, &path_at) < 7) {
      continue;
    }
    e.start = start;
    e.end = end;
    e.perms = perms;
    e.offset = offset;
    e.dev_major = dev_major;
    e.dev_minor = dev_minor;
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

}  // namespace perfd::python
