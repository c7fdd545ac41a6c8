// Per-connection Redis stitcher: pairs each command the traced process wrote
// with the reply it read, in order, and hands CommandRecords to a sink.
//
// Redis answers a connection's commands in order, so commands are queued and
// each reply completes the oldest. Around that:
//  - pipelining: any number of commands per write, replies per read;
//  - MULTI/EXEC: each queued command's +QUEUED is its reply, EXEC gets the
//    array of results;
//  - pub/sub: messages (RESP2 arrays while subscribed, RESP3 pushes) are
//    counted, never paired; (UN)SUBSCRIBE gets one confirmation per channel;
//  - RESP3 pushes (client tracking "invalidate") are counted, never paired;
//  - CLIENT REPLY OFF/SKIP: commands with no reply get a record at once;
//  - TLS: a connection whose first egress bytes are a TLS record is reported
//    and never parsed.
// Pairing rule after lost sync (and at mid-stream attach): see Resumable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "daemon/protocols/data_event.h"
#include "daemon/protocols/redis/parse.h"
#include "daemon/protocols/redis/types.h"

namespace perfd::protocols::redis {

class ConnStitcher {
 public:
  // Commands waiting for replies per connection; past it, commands are
  // counted (queue_overflows) and their replies skipped by count.
  static constexpr size_t kMaxPending = 1024;

  // from_start: the connection is seen from its first byte (its connect was
  // traced). Otherwise pairing starts suspended (see Resumable).
  ConnStitcher(uint32_t pid, uint64_t conn_id, CommandSink& sink, bool from_start);

  void OnEvent(const DataEvent& ev);
  // Commands still waiting get a kClosed record.
  void OnClose(uint64_t ts_ns);

  const RedisStats& stats() const { return stats_; }
  bool encrypted() const { return encrypted_; }
  bool pairing() const { return !suspended_; }
  size_t pending() const { return queue_.size(); }

 private:
  struct Pending {
    enum class What : uint8_t {
      kCommand,
      kSkip,     // replies of commands dropped by overflow, skipped by count
      kBarrier,  // commands lost to an egress desync: pairing stops here
    };
    What what = What::kCommand;
    std::string name;
    CommandKind kind = CommandKind::kPlain;
    uint64_t start_ns = 0;
    uint64_t replies_left = 1;
    uint64_t reply_bytes = 0;
  };

  void OnCommand(const RespMessage& m);
  void OnReply(const RespMessage& m);
  bool OnConfirmation(const RespMessage& m);
  uint64_t ExpectedReplies(const RespMessage& m);
  void Enqueue(const RespMessage& m, uint64_t expected);
  void Emit(const Pending& p, Outcome outcome, uint64_t end_ns, const RespMessage* reply);
  bool Resumable(std::string_view egress_head) const;
  void Suspend();
  void Account(const FeedResult& r);

  uint32_t pid_;
  uint64_t conn_id_;
  CommandSink& sink_;
  RespParser egress_;
  RespParser ingress_;
  std::deque<Pending> queue_;
  std::vector<RespMessage> msgs_;  // scratch, reused per event
  RedisStats stats_;
  bool suspended_;
  bool encrypted_ = false;
  bool seen_egress_ = false;
  bool last_was_ingress_ = false;
  bool reply_off_ = false;   // CLIENT REPLY OFF in force
  bool skip_next_ = false;   // CLIENT REPLY SKIP: the next command has no reply
  bool subscribed_ = false;  // RESP2 pub/sub mode: arrays may be messages
};

}  // namespace perfd::protocols::redis
