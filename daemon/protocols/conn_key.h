// A traced connection's identity in user space: the process and the
// kernel's conn_id (perfd_http_event_header), shared by the HTTP tracker
// and the client-connection tracker as their map key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace perfd::protocols {

struct ConnKey {
  uint32_t tgid;
  uint64_t conn_id;
  bool operator==(const ConnKey& o) const { return tgid == o.tgid && conn_id == o.conn_id; }
};

struct ConnKeyHash {
  size_t operator()(const ConnKey& k) const {
    return std::hash<uint64_t>()(k.conn_id ^ (uint64_t{k.tgid} * 0x9e3779b97f4a7c15ull));
  }
};

}  // namespace perfd::protocols
