// Pairs the requests and responses of one PostgreSQL connection into query
// records. Requests queue in the order they were sent; the server answers in
// that order, so each response belongs to the oldest request still waiting.
//
//   simple protocol:   Query → (RowDescription, DataRow*, CommandComplete)* → ReadyForQuery
//   extended protocol: Parse/Bind/Describe/Execute … Sync → ParseComplete, BindComplete,
//                      (DataRow*, CommandComplete | PortalSuspended | EmptyQuery)*, ReadyForQuery
//
// Only Execute (and Query) makes a record; a Parse makes one only when it
// fails. Prepared statement names map to their text for later Binds (asyncpg
// prepares once and then sends Bind/Execute/Sync only). After an
// ErrorResponse the server skips everything up to the next Sync.
// Asynchronous messages (NotificationResponse, NoticeResponse,
// ParameterStatus) are never paired.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "daemon/protocols/data_event.h"
#include "daemon/protocols/pgsql/fingerprint.h"
#include "daemon/protocols/pgsql/parse.h"
#include "daemon/protocols/pgsql/types.h"

namespace perfd::pgsql {

class ConnStitcher : private Framer::Listener {
 public:
  ConnStitcher(uint32_t pid, uint64_t conn_id, QuerySink& sink, Stats& stats,
               const Limits& limits = Limits{});

  // Events of both directions, in the order they happened.
  void OnEvent(const protocols::DataEvent& ev);
  // The connection closed: requests whose responses were partly lost are
  // reported (ending at the last response seen), the others dropped.
  void OnClose();

  bool encrypted() const { return encrypted_; }
  size_t prepared_count() const { return prepared_.size(); }
  size_t pending_count() const { return pending_.size(); }

 public:
  // What a statement's text tells, shared by its executions.
  struct Statement {
    std::string name;
    StatementFacts facts;
    bool unresolved = false;
    bool truncated = false;
  };
  using StatementPtr = std::shared_ptr<const Statement>;

 private:
  struct Pending {
    enum class Kind : uint8_t { kQuery, kParse, kExecute, kSync };
    Kind kind = Kind::kSync;
    StatementPtr stmt;
    uint64_t start_ns = 0;
    bool sent = false;        // a Sync/Flush/Query after it was written: start_ns is final
    uint32_t executions = 1;  // Executes merged (executemany)
    uint32_t completed = 0;   // executions answered so far
    bool open_ended = false;  // Execute inferred from a Bind whose Execute was not captured
    int64_t rows = 0;
    bool rows_unknown = false;
    uint64_t data_rows = 0;  // DataRows since the last completion
    bool rows_lost = false;  // response bytes lost since the last completion
    std::string sqlstate;
    std::string first_tag_op;  // operation of the first CommandComplete tag

    static Pending Make(Kind k, StatementPtr st, uint64_t ts) {
      Pending p;
      p.kind = k;
      p.stmt = std::move(st);
      p.start_ns = ts;
      return p;
    }
  };

  void OnMessage(Side side, const Message& m) override;
  void OnLost(Side side, uint64_t ts_ns) override;
  void OnFrontend(const Message& m);
  void OnBackend(const Message& m);

  StatementPtr MakeStatement(std::string_view name, std::string_view text, bool truncated);
  StatementPtr Lookup(const std::string& name);
  StatementPtr NameNotCaptured();
  void Remember(const StatementPtr& st);
  void Push(Pending p);
  void MarkSent(uint64_t ts);
  void Complete(Pending& p, std::string_view tag, bool has_tag);
  void Emit(const Pending& p, uint64_t end_ns);
  void FlushLost(uint64_t end_ns);
  void InferExecute(uint64_t ts);
  void InferLostExecute();

  uint32_t pid_;
  uint64_t conn_id_;
  QuerySink& sink_;
  Stats& stats_;
  Limits limits_;
  Framer front_, back_;

  std::deque<Pending> pending_;
  struct Prepared {
    StatementPtr stmt;
    uint64_t last_use = 0;
  };
  std::unordered_map<std::string, Prepared> prepared_;
  uint64_t use_clock_ = 0;
  StatementPtr unnamed_;                                   // the unnamed prepared statement
  std::unordered_map<std::string, StatementPtr> portals_;  // portal → statement ("" unnamed)

  bool encrypted_ = false;
  bool discard_until_sync_ = false;  // the server skips requests after an error
  bool bind_pending_ = false;        // a Bind not yet followed by its Execute
  bool responses_lost_ = false;      // response bytes lost since the last ReadyForQuery
  uint64_t last_ingress_ns_ = 0;
  uint64_t egress_lost_ns_ = 0;  // requests lost at this time, since the last ReadyForQuery
  StatementPtr last_parsed_;
};

}  // namespace perfd::pgsql
