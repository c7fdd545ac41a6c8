// Turns SQL text into a fingerprint that groups executions of the same
// statement and carries no literal value: literals become "?", $n parameters
// stay, IN lists and multi-row VALUES collapse, comments go, whitespace and
// keyword case are normalised. Also reads the cheap facts a record wants
// (operation, first table, housekeeping). Pure, no allocation beyond the result.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace perfd::pgsql {

struct StatementFacts {
  std::string fingerprint;
  uint64_t id = 0;        // FingerprintId(fingerprint)
  std::string operation;  // first verb of the text, upper case ("SELECT", "WITH" resolved)
  std::string table;      // first relation after FROM / INTO / UPDATE / COPY
  bool housekeeping = false;
};

// `text` may be a prefix of the statement (truncated = true): an unfinished
// literal at the end is still replaced, and the fingerprint is marked.
StatementFacts Fingerprint(std::string_view text, bool truncated = false);

// FNV-1a 64: stable across runs and builds, for labels.
uint64_t FingerprintId(std::string_view fingerprint);

// "SELECT 5" → "SELECT", "INSERT 0 1" → "INSERT", "CREATE TABLE" → "CREATE TABLE".
std::string TagOperation(std::string_view tag);
// The row count of a CommandComplete tag; -1 if the tag carries none.
int64_t TagRows(std::string_view tag);

}  // namespace perfd::pgsql
