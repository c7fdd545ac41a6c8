// Incremental framing of one direction of a PostgreSQL connection: captured
// heads of reads/writes (DataEvent) in, whole messages out. Messages are
// "type byte + int32 length" (startup-phase messages have no type byte);
// a message may span many events and an event may hold many messages.
//
// Bytes the kernel did not capture are skipped by count while the current
// message's length covers them; when a message header falls into them the
// direction is lost until a plausible header is found again (resync).
//
// Only what a record needs is kept of a message body (see KeepPolicy in
// parse.cc): Query/Parse text up to a cap, statement and portal names,
// the CommandComplete tag, the ReadyForQuery status and the ErrorResponse
// SQLSTATE. Bind parameters, rows, COPY data, notices, error texts and
// passwords are skipped by count and never copied.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/protocols/data_event.h"
#include "daemon/protocols/pgsql/types.h"

namespace perfd::pgsql {

enum class Side : uint8_t {
  kFrontend,  // client → server (egress)
  kBackend,   // server → client (ingress)
};

// Startup-phase request codes (the int32 after the length, no type byte).
constexpr uint32_t kProtocol3 = 196608;  // StartupMessage, protocol 3.0
constexpr uint32_t kSslRequest = 80877103;
constexpr uint32_t kGssEncRequest = 80877104;
constexpr uint32_t kCancelRequest = 80877102;

struct Message {
  char type = 0;              // 0: startup-phase message (see startup_code)
  uint32_t startup_code = 0;  // for type 0
  bool ssl_answer = false;    // the server's one-byte answer to SSLRequest ('S'/'N'/'G')
  uint32_t length = 0;        // body bytes (after the length field)
  // What was kept of the body (depends on type, see parse.cc); for an
  // ErrorResponse, only its SQLSTATE. Valid during the callback only.
  std::string_view body;
  // Some of what would have been kept was cut (cap) or not captured (gap).
  bool truncated = false;
  uint64_t ts_ns = 0;  // the event that carried the message's last byte
};

class Framer {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnMessage(Side side, const Message& m) = 0;
    // The framing was lost (bytes uncaptured where a header was expected, or
    // an implausible header): messages may be missing until the next one.
    virtual void OnLost(Side side, uint64_t ts_ns) = 0;
  };

  Framer(Side side, const Limits& limits, Stats& stats)
      : side_(side), limits_(limits), stats_(stats) {}

  void Feed(const protocols::DataEvent& ev, Listener& l);

  // Backend: the next byte is the one-byte answer to an SSLRequest.
  void ExpectSslAnswer() { state_ = State::kSslAnswer; }
  // Frontend: the next message is a startup-phase one (after SSLRequest 'N').
  void ExpectStartup() { untyped_next_ = true; }
  // The connection switched to TLS: ignore everything from now on.
  void Stop() { state_ = State::kStopped; }
  bool synced() const { return state_ == State::kHeader || state_ == State::kBody; }

 private:
  enum class State : uint8_t { kUnsynced, kHeader, kBody, kSslAnswer, kStopped };
  enum class Keep : uint8_t { kNone, kPrefix, kSqlState };

  // Finds a message boundary in head[from, head.size()) of `ev`; returns its
  // offset or head.size() if none.
  size_t FindBoundary(const protocols::DataEvent& ev, size_t from);
  bool PlausibleHeader(char type, uint32_t len) const;
  bool Bulk(char type) const;
  bool PlausibleBody(char type, std::string_view body,
                     uint32_t len) const;  // a message type that may be larger than one transfer
  bool StartHeader(const protocols::DataEvent& ev, Listener& l);  // header complete
  void BeginBody();
  void KeepBytes(std::string_view b);
  void Gap(uint64_t n);
  void Emit(uint64_t ts, Listener& l);
  void Lose(uint64_t ts, Listener& l);

  Side side_;
  const Limits& limits_;
  Stats& stats_;
  State state_ = State::kUnsynced;
  bool untyped_next_ = false;  // frontend: next message has no type byte
  bool ever_synced_ = false;
  bool at_start_ = true;  // no byte of this direction seen yet (or only carry_)
  std::string carry_;     // the first bytes, while fewer than a header

  // Current header.
  uint8_t header_[8] = {};
  size_t header_have_ = 0;
  size_t header_need_ = 5;

  // Current message.
  char type_ = 0;
  uint32_t startup_code_ = 0;
  uint32_t length_ = 0;     // body length
  uint64_t remaining_ = 0;  // body bytes still to come
  Keep keep_ = Keep::kNone;
  size_t keep_cap_ = 0;     // bytes of body to keep at most
  int keep_nuls_ = 0;       // stop keeping after this many NULs (0: no such stop)
  bool keep_done_ = false;  // everything wanted is kept
  bool truncated_ = false;
  std::string kept_;
  // ErrorResponse field walk: at a field type byte, inside a field, or done.
  enum class Field : uint8_t { kType, kSkip, kCode, kDone } field_ = Field::kType;
};

}  // namespace perfd::pgsql
