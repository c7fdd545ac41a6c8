// Builds DbCalls for the DB tests: times in milliseconds from 0.
#pragma once

#include <string>

#include "daemon/db/db_call.h"

namespace perfd::db::testing {

constexpr uint64_t kMs = 1000000ULL;
constexpr uint64_t kSec = 1000000000ULL;

inline DbCall Call(uint64_t fp, uint64_t start_ms, uint64_t end_ms, std::string site = "",
                   bool housekeeping = false) {
  DbCall c;
  c.system = System::kPostgresql;
  c.fingerprint_id = fp;
  c.fingerprint = "SELECT * FROM t" + std::to_string(fp) + " WHERE id = $1";
  c.operation = "SELECT";
  c.collection = "t" + std::to_string(fp);
  c.start_ns = start_ms * kMs;
  c.end_ns = end_ms * kMs;
  c.call_site = std::move(site);
  c.housekeeping = housekeeping;
  return c;
}

}  // namespace perfd::db::testing
