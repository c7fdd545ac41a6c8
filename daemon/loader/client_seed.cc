#include "daemon/loader/client_seed.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace perfd {
namespace {

constexpr int kEstablished = 0x01;
constexpr int kListen = 0x0A;

// "0100007F:1F90" → 0x1F90.
bool PortOf(const std::string& addr, uint16_t* port) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  char* end = nullptr;
  unsigned long v = std::strtoul(addr.c_str() + colon + 1, &end, 16);
  if (end == addr.c_str() + colon + 1 || v > 0xffff) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void ParseProcNetTcp(const std::string& text, TcpTable* out) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    std::istringstream f(line);
    std::string sl, local, remote, st, txrx, trwhen, retr, uid, timeout, inode;
    if (!(f >> sl >> local >> remote >> st >> txrx >> trwhen >> retr >> uid >> timeout >> inode))
      continue;
    uint16_t lport = 0, rport = 0;
    if (!PortOf(local, &lport) || !PortOf(remote, &rport)) continue;
    const int state = static_cast<int>(std::strtol(st.c_str(), nullptr, 16));
    if (state == kListen) {
      out->listening.push_back(lport);
    } else if (state == kEstablished) {
      out->established.push_back({std::strtoull(inode.c_str(), nullptr, 10), lport, rport});
    }
  }
}

std::vector<SeedConn> FindClientConnections(uint32_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  TcpTable table;
  ParseProcNetTcp(ReadFile(base + "/net/tcp"), &table);
  ParseProcNetTcp(ReadFile(base + "/net/tcp6"), &table);
  std::unordered_map<uint64_t, uint16_t> clients;  // inode → remote port
  for (const auto& r : table.established)
    if (std::find(table.listening.begin(), table.listening.end(), r.local_port) ==
        table.listening.end())
      clients.emplace(r.inode, r.remote_port);
  std::vector<SeedConn> out;
  if (clients.empty()) return out;
  DIR* d = opendir((base + "/fd").c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    char target[64];
    ssize_t n = readlink((base + "/fd/" + e->d_name).c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    unsigned long long inode = 0;
    if (std::sscanf(target, "socket:[%llu]", &inode) != 1) continue;
    auto it = clients.find(inode);
    if (it != clients.end()) out.push_back({static_cast<int>(fd), it->second});
  }
  closedir(d);
  return out;
}

}  // namespace perfd
