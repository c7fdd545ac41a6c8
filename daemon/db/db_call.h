// One database or cache round trip made by a traced worker, decoded from its
// client connection (daemon/protocols/pgsql, daemon/protocols/redis) and
// joined to the HTTP request whose task issued it (request identity). This is
// what the DB aggregation (daemon/db) and its outputs consume.
//
// Privacy: nothing here holds a literal, bound parameter, key or row value:
// fingerprint is the literal-free text (PostgreSQL) or the command name
// (Redis).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace perfd::db {

enum class System : uint8_t {
  kPostgresql,  // OTel db.system.name "postgresql"
  kRedis,       // "redis"
};

const char* SystemName(System s);  // "postgresql" / "redis"

struct DbCall {
  System system = System::kPostgresql;
  uint32_t pid = 0;
  uint64_t db_conn_id = 0;  // the client connection (kernel conn_id)
  // PostgreSQL: "SELECT", "INSERT", ... ; Redis: the command ("GET", "CLIENT SETNAME").
  std::string operation;
  std::string collection;  // table when cheaply known, else ""
  // PostgreSQL: the literal-free statement text; Redis: the command name.
  std::string fingerprint;
  uint64_t fingerprint_id = 0;  // stable 64-bit hash of (system, fingerprint)
  uint64_t start_ns = 0;        // CLOCK_MONOTONIC: request sent
  uint64_t end_ns = 0;          // reply complete
  // When the read that completed the reply had its first byte queued to the
  // socket (kernel arrival mark), 0 if unknown: from there to end_ns the
  // reply waited for the worker to read it (a busy event loop).
  uint64_t reply_arrival_ns = 0;
  int64_t rows = -1;  // -1: unknown / not applicable
  bool error = false;
  std::string error_code;  // SQLSTATE ("57014") or Redis error word ("WRONGTYPE"); "" if none
  // Transaction control, pool resets, type introspection: real round trips,
  // never part of an N+1 finding.
  bool housekeeping = false;
  // Prepared before perfd attached: text unknown, fingerprint names the statement.
  bool unresolved = false;
  // Python call site that issued it ("module.function (file.py:123)"), "" if unknown.
  std::string call_site;
  // The issuing task (its contextvars.Context address in the worker), 0 if
  // unknown: calls of one request from different tasks were issued
  // concurrently (asyncio.gather), whatever their timing.
  uint64_t task = 0;

  uint64_t duration_ns() const { return end_ns > start_ns ? end_ns - start_ns : 0; }
};

}  // namespace perfd::db
