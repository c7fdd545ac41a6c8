// What the PostgreSQL decoder hands to the rest of the daemon: one record per
// statement execution, plus the counters of everything it refused or lost.
//
// Privacy rule (enforced in parse.cc and fingerprint.cc): no literal value,
// bound parameter, row or error text ever reaches a record or a log. Query
// text is kept only as a fingerprint with literals replaced; Bind parameter
// bytes are skipped by count, never parsed; of an ErrorResponse only the
// SQLSTATE code is read.
#pragma once

#include <cstdint>
#include <string>

namespace perfd::pgsql {

// Bounds per connection (memory and work stay constant whatever the peer sends).
struct Limits {
  size_t max_text = 4096;     // bytes of Query/Parse text kept for the fingerprint
  size_t max_prepared = 256;  // named prepared statements remembered (LRU)
  size_t max_pending = 64;    // requests awaiting their responses
  size_t max_portals = 16;    // named portals remembered (drivers use the unnamed one)
};

enum class Protocol : uint8_t {
  kSimple,    // Query message
  kExtended,  // Parse/Bind/Execute
};

struct QueryRecord {
  uint32_t pid = 0;
  uint64_t conn_id = 0;
  Protocol protocol = Protocol::kSimple;
  // CLOCK_MONOTONIC. start: the egress event that carried the Sync (or Flush,
  // or Query) that sent the statement to the server. end: the ingress event
  // that carried its CommandComplete / ErrorResponse (extended protocol) or
  // the ReadyForQuery (simple protocol).
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  // Rows from the CommandComplete tags ("SELECT 5", "INSERT 0 1"), or the
  // DataRows counted when a tag has no count; -1 when unknown (a tag or rows
  // fell into bytes the kernel did not capture).
  int64_t rows = -1;
  // Executions merged into this record: executemany sends many Bind/Execute
  // of one statement before one Sync; they become one record.
  uint32_t executions = 1;
  std::string sqlstate;         // "" when the statement succeeded (or unknown)
  std::string operation;        // "SELECT", "INSERT", "CREATE TABLE", ...
  std::string table;            // first table after FROM/INTO/UPDATE/COPY, "" if not cheaply known
  std::string fingerprint;      // normalised text, literals replaced by "?"
  uint64_t fingerprint_id = 0;  // FNV-1a 64 of fingerprint
  std::string statement;        // prepared statement name, "" for unnamed / simple
  // Statement prepared before the decoder saw the connection: the text is
  // unknown, fingerprint is "(prepared before attach) <name>".
  bool unresolved = false;
  bool text_truncated = false;  // text longer than Limits::max_text or not captured
  // Transaction control, session settings, driver pool resets and catalog
  // introspection: real round trips, but not the application's queries.
  bool housekeeping = false;
};

// Everything the decoder refused, lost or skipped; exported as self-metrics.
struct Stats {
  uint64_t events = 0;
  uint64_t messages = 0;
  uint64_t bytes_uncaptured = 0;  // skipped by count inside a message's length
  uint64_t desyncs = 0;           // a direction lost its framing (header uncaptured / implausible)
  uint64_t resyncs = 0;           // a lost direction found a message boundary again
  uint64_t bytes_unsynced = 0;    // bytes passed over while searching for a boundary
  uint64_t text_truncated = 0;    // query texts cut at max_text or by a gap
  uint64_t prepared_evicted = 0;  // prepared statements forgotten (LRU, max_prepared)
  uint64_t prepared_unresolved = 0;  // executions of statements prepared before attach
  uint64_t portals_refused = 0;      // named portals beyond max_portals
  uint64_t pending_overflows = 0;    // request queue full: pending requests dropped
  uint64_t unpaired_responses = 0;   // responses with no request waiting (attach, loss)
  uint64_t realigned = 0;            // stale Syncs dropped to put pairing back in step
  uint64_t inferred_executes = 0;    // Executes lost in uncaptured bytes, known from BindComplete
  uint64_t skipped_after_error = 0;  // requests the server skipped after an error
  uint64_t unanswered = 0;           // requests still pending at close, dropped
  uint64_t encrypted = 0;            // connections that switched to TLS (not parsed)
  uint64_t records = 0;
};

// Receives records as the decoder completes them.
class QuerySink {
 public:
  virtual ~QuerySink() = default;
  virtual void OnQuery(const QueryRecord& rec) = 0;
  // The server accepted an SSLRequest: the rest of the connection is TLS.
  virtual void OnEncrypted(uint32_t pid, uint64_t conn_id) = 0;
};

}  // namespace perfd::pgsql
