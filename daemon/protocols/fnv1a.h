// FNV-1a 64: the stable id of a fingerprint (PostgreSQL statement text,
// Redis command name) in records, metrics' db_query_id and the API.
#pragma once

#include <cstdint>
#include <string_view>

namespace perfd::protocols {

inline uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace perfd::protocols
