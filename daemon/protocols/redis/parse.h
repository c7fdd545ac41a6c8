// Incremental RESP2/RESP3 framing of one direction of a Redis connection.
//
// Fed the DataEvents of one direction in order, it finds where each message
// (a command, or a reply) starts and ends, across any split into events and
// with many messages per event. It never buffers a value: it keeps one header
// line (<= 64 bytes), a stack of aggregate counts, and the first bytes of the
// few elements that name a command or classify a reply. Bulk payloads are
// skipped by length, so bytes the kernel did not capture (DataEvent::total >
// head.size()) inside a payload cost nothing. Any other uncaptured byte, or a
// byte that breaks the framing, loses sync (counted); see Feed for the
// resync rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/protocols/data_event.h"
#include "daemon/protocols/redis/command_name.h"
#include "daemon/protocols/redis/types.h"

namespace perfd::protocols::redis {

// What the first element of a reply array / push says it is (pub/sub and
// client tracking). Compared against fixed words; the bytes are not kept.
enum class PushKind : uint8_t {
  kNone,
  kMessage,  // message, pmessage, smessage
  kSubscribe,
  kPSubscribe,
  kSSubscribe,
  kUnsubscribe,
  kPUnsubscribe,
  kSUnsubscribe,
  kInvalidate,
  kOther,
};

// One complete command or reply.
struct RespMessage {
  uint64_t first_ts = 0;  // event that carried its first byte
  uint64_t last_ts = 0;   // event that carried its last byte
  uint64_t bytes = 0;     // wire size, captured or skipped
  // Commands.
  std::string command;  // vetted name (command_name.h)
  bool name_refused = false;
  CommandKind kind = CommandKind::kPlain;
  uint32_t argc = 0;
  bool is_inline = false;
  // Replies.
  ReplyType type = ReplyType::kNone;
  std::string error_prefix;  // kError / kBlobError only
  PushKind push_kind = PushKind::kNone;
  int64_t sub_count = -1;  // (un)subscribe confirmations: subscriptions left
  bool queued = false;     // +QUEUED
};

struct FeedResult {
  bool desynced = false;       // framing lost in this event
  bool resynced = false;       // framing found again at this event's start
  uint64_t bytes_skipped = 0;  // bytes of this event not parsed
};

class RespParser {
 public:
  enum class Role : uint8_t { kCommands, kReplies };
  static constexpr size_t kMaxDepth = 32;  // nested aggregates; deeper loses sync
  static constexpr size_t kLineCap = 64;   // header line bytes kept

  // in_sync: the stream is seen from its first byte (connection start).
  // Otherwise the parser waits for a plausible event start.
  explicit RespParser(Role role, bool in_sync = true);

  // Parses one event, appending the messages it completes to *out.
  // Resync rule: once out of sync, whole events are skipped until one whose
  // captured head begins a message and parses without a framing error to
  // its end (commands: must begin with '*'; inline commands are accepted
  // only in sync, so payload text is never taken for a command).
  FeedResult Feed(const DataEvent& ev, std::vector<RespMessage>* out);

  bool in_sync() const { return sync_; }
  // In sync and between two messages.
  bool at_boundary() const;
  // Would an event with this head start at a message boundary?
  bool WouldStartAtBoundary(std::string_view head) const;
  static bool Plausible(Role role, std::string_view head);

 private:
  enum class State : uint8_t { kType, kLine, kBody };

  bool FeedBytes(std::string_view data, uint64_t ts, std::vector<RespMessage>* out);
  bool SkipBytes(uint64_t n, uint64_t ts, std::vector<RespMessage>* out);
  bool StartValue(char type, uint64_t ts);
  bool LineDone(uint64_t ts, std::vector<RespMessage>* out);
  bool InlineDone(uint64_t ts, std::vector<RespMessage>* out);
  bool BodyEnd(uint64_t ts, std::vector<RespMessage>* out);
  bool ValueDone(uint64_t ts, std::vector<RespMessage>* out);
  bool OpenAggregate(int64_t n, bool attribute, uint64_t ts, std::vector<RespMessage>* out);
  void FinishMessage(uint64_t ts, std::vector<RespMessage>* out);
  int CaptureSlot() const;
  void Capture(int slot, std::string_view bytes);
  void ResetMessage();
  void Desync();

  Role role_;
  bool sync_;
  State state_ = State::kType;
  char type_ = 0;  // type byte of the value being read ('i': inline command)
  // Header / scalar line.
  char line_[kLineCap];
  size_t line_len_ = 0;
  bool line_overflow_ = false;
  char line_last_ = 0;  // last byte before '\n' (checks CRLF when overflowed)
  // Bulk body: bytes left including the closing CRLF.
  uint64_t body_len_ = 0;
  uint64_t body_left_ = 0;
  int body_slot_ = -1;  // capture slot the body fills, -1 none
  // Aggregates open above the current value.
  struct Frame {
    uint64_t left = 0;
    bool attribute = false;
  };
  Frame stack_[kMaxDepth];
  size_t depth_ = 0;
  uint32_t child_ = 0;  // index of the top-level aggregate's current child
  // The message being read.
  bool in_message_ = false;
  bool top_seen_ = false;  // its top-level (non-attribute) header was read
  char top_type_ = 0;
  uint64_t top_n_ = 0;  // elements of the top-level aggregate
  bool null_ = false;   // the top-level value is a RESP2 null
  RespMessage msg_;
  // First bytes of elements 0..2 of the top-level aggregate (or of an error
  // line). Transient: only vetted names and enums leave the parser.
  static constexpr int kSlots = 3;
  char cap_[kSlots][kMaxWordLen];
  size_t cap_len_[kSlots] = {};
  bool cap_complete_[kSlots] = {};
  bool cap_gap_ = false;   // uncaptured bytes fell into the current capture
  int64_t cap_int2_ = -1;  // element 2 when it is an integer (subscription count)
  uint64_t consumed_ = 0;  // bytes of the current event handled so far
};

}  // namespace perfd::protocols::redis
