// What the Redis decoder hands to the rest of the daemon: one record per
// command with its timing, name and the shape of its reply.
//
// Privacy (hard rule): a record holds the command name (plus the subcommand
// of container commands such as CLIENT or CONFIG), the reply's type and an
// error's prefix word. Keys, arguments and values are never stored, copied
// out of the parser or logged (see command_name.h for how names are vetted).
#pragma once

#include <cstdint>
#include <string>

namespace perfd::protocols::redis {

// The type of a reply's top-level value (RESP2 and RESP3).
enum class ReplyType : uint8_t {
  kNone,          // no reply (CLIENT REPLY OFF/SKIP, connection closed)
  kSimpleString,  // +OK
  kError,         // -ERR ...
  kInteger,       // :1
  kBulkString,    // $3 foo
  kNullBulk,      // $-1 (RESP2 nil)
  kArray,         // *2 ...
  kNullArray,     // *-1 (RESP2 nil)
  kMap,           // %  (RESP3)
  kSet,           // ~  (RESP3)
  kPush,          // >  (RESP3 out-of-band: pub/sub, client tracking)
  kDouble,        // ,  (RESP3)
  kBoolean,       // #  (RESP3)
  kBigNumber,     // (  (RESP3)
  kVerbatim,      // =  (RESP3)
  kNull,          // _  (RESP3)
  kBlobError,     // !  (RESP3)
};

const char* ReplyTypeName(ReplyType t);

// Reply size on the wire, in coarse classes (cheap: bytes are counted anyway).
enum class SizeClass : uint8_t {
  kUnknown,  // no reply
  kTiny,     // < 64 B
  kSmall,    // < 1 KiB
  kMedium,   // < 64 KiB
  kLarge,    // < 1 MiB
  kHuge,     // >= 1 MiB
};

SizeClass SizeClassOf(uint64_t bytes);

enum class Outcome : uint8_t {
  kReplied,  // the reply was read
  kNoReply,  // the server sends none (CLIENT REPLY OFF / SKIP)
  kClosed,   // the connection closed before the reply was read
};

struct CommandRecord {
  uint32_t pid = 0;
  uint64_t conn_id = 0;
  // Upper-cased command name, e.g. "GET", "CLIENT SETNAME"; "?" when the
  // first element does not look like a command name (never its bytes).
  std::string command;
  uint64_t start_ns = 0;  // egress event that carried the command's first byte
  uint64_t end_ns = 0;    // ingress event that completed the reply (start_ns if none)
  Outcome outcome = Outcome::kReplied;
  ReplyType reply_type = ReplyType::kNone;
  // Errors only: the error's first word ("ERR", "WRONGTYPE", "MOVED"), or
  // "?" when it is not an upper-case code word. The message is never kept.
  std::string error_prefix;
  uint64_t reply_bytes = 0;  // bytes of the reply on the wire (captured or skipped)
  SizeClass reply_size = SizeClass::kUnknown;
  bool queued = false;  // the reply was +QUEUED (command inside MULTI)
};

// Receives records as replies complete, in command order per connection.
class CommandSink {
 public:
  virtual ~CommandSink() = default;
  virtual void OnCommand(const CommandRecord& rec) = 0;
  // The connection is TLS: nothing on it is parsed.
  virtual void OnEncrypted(uint32_t /*pid*/, uint64_t /*conn_id*/) {}
};

// Counters of one connection (summed over connections by the owner). Every
// refusal, loss of sync and overflow has one.
struct RedisStats {
  uint64_t commands = 0;             // commands parsed
  uint64_t inline_commands = 0;      // of which inline ("PING\r\n")
  uint64_t records = 0;              // records sent to the sink
  uint64_t replies = 0;              // replies parsed (pushes excluded)
  uint64_t pubsub_messages = 0;      // message/pmessage/smessage, never paired
  uint64_t pushes = 0;               // other RESP3 pushes (e.g. invalidate), never paired
  uint64_t extra_confirmations = 0;  // (un)subscribe confirmations with no command waiting
  uint64_t unmatched_replies = 0;    // replies with no command waiting
  uint64_t unpaired_commands = 0;    // commands given up: pairing lost, or seen while suspended
  uint64_t unpaired_replies = 0;     // replies parsed while pairing is suspended
  uint64_t egress_desyncs = 0;       // command framing lost (gap over a header, bad bytes)
  uint64_t ingress_desyncs = 0;      // reply framing lost
  uint64_t resyncs = 0;              // a direction found its framing again
  uint64_t bytes_skipped = 0;        // bytes dropped while out of sync
  uint64_t queue_overflows = 0;      // commands not queued: too many pending
  uint64_t refused_names = 0;        // command names that did not look like names
  uint64_t encrypted = 0;            // connections found to be TLS
  uint64_t closed_pending = 0;       // commands still waiting when the connection closed

  RedisStats& operator+=(const RedisStats& o);
};

}  // namespace perfd::protocols::redis
