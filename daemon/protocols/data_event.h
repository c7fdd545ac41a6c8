// What a protocol parser of an outbound (client-role) connection sees: the
// bytes of one read or write as the kernel captured them. The kernel copies
// a bounded prefix of each transfer (and may later add a suffix), so a
// parser is told how many bytes went by in all and must skip the rest
// without losing its place where the protocol's framing allows it (length-
// prefixed messages), or resynchronise where it does not. Plain data, no BPF
// types: parsers are pure and unit tested on recorded byte streams.
#pragma once

#include <cstdint>
#include <string_view>

namespace perfd::protocols {

enum class Direction : uint8_t {
  kEgress,   // written by the traced process (client → server: requests)
  kIngress,  // read by the traced process (server → client: responses)
};

struct DataEvent {
  Direction dir = Direction::kEgress;
  uint64_t ts_ns = 0;  // CLOCK_MONOTONIC at the end of the syscall
  // The first bytes of the transfer, as captured (may be shorter than total).
  std::string_view head;
  // Bytes the syscall transferred in all (>= head.size()). The bytes after
  // head were not captured.
  uint64_t total = 0;
};

}  // namespace perfd::protocols
