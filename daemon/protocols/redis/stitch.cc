#include "daemon/protocols/redis/stitch.h"

#include <algorithm>
#include <utility>

namespace perfd::protocols::redis {
namespace {

// A TLS record header: handshake (ClientHello at connection start) or
// application data (attached mid-stream), version 3.x. '*' is never 0x16/0x17.
bool LooksLikeTls(std::string_view head) {
  return head.size() >= 2 && (head[0] == 0x16 || head[0] == 0x17) && head[1] == 0x03;
}

bool IsConfirmation(PushKind k) {
  return k >= PushKind::kSubscribe && k <= PushKind::kSUnsubscribe;
}

// The confirmation kind a (un)subscribe command is answered with.
PushKind ConfirmationOf(CommandKind k) {
  switch (k) {
    case CommandKind::kSubscribe:
      return PushKind::kSubscribe;
    case CommandKind::kPSubscribe:
      return PushKind::kPSubscribe;
    case CommandKind::kSSubscribe:
      return PushKind::kSSubscribe;
    case CommandKind::kUnsubscribe:
      return PushKind::kUnsubscribe;
    case CommandKind::kPUnsubscribe:
      return PushKind::kPUnsubscribe;
    case CommandKind::kSUnsubscribe:
      return PushKind::kSUnsubscribe;
    default:
      return PushKind::kNone;
  }
}

}  // namespace

ConnStitcher::ConnStitcher(uint32_t pid, uint64_t conn_id, CommandSink& sink, bool from_start)
    : pid_(pid),
      conn_id_(conn_id),
      sink_(sink),
      egress_(RespParser::Role::kCommands, from_start),
      ingress_(RespParser::Role::kReplies, from_start),
      suspended_(!from_start) {}

void ConnStitcher::OnEvent(const DataEvent& ev) {
  if (encrypted_) {
    stats_.bytes_skipped += ev.total;
    return;
  }
  msgs_.clear();
  if (ev.dir == Direction::kEgress) {
    if (!seen_egress_) {
      seen_egress_ = true;
      if (LooksLikeTls(ev.head)) {
        encrypted_ = true;
        stats_.encrypted = 1;
        stats_.bytes_skipped += ev.total;
        stats_.unpaired_commands += queue_.size();
        queue_.clear();
        sink_.OnEncrypted(pid_, conn_id_);
        return;
      }
    }
    if (suspended_ && Resumable(ev.head)) {
      queue_.clear();  // at most a barrier whose commands had no reply
      suspended_ = false;
    }
    FeedResult r = egress_.Feed(ev, &msgs_);
    Account(r);
    for (const RespMessage& m : msgs_) OnCommand(m);
    if (r.desynced) {
      ++stats_.egress_desyncs;
      // A lost command may have been CLIENT REPLY ON/OFF/SKIP: assume the
      // default (replies on), which is what clients run with.
      reply_off_ = false;
      skip_next_ = false;
      // Commands queued before the loss are still answered first, in order;
      // the replies after theirs belong to commands we did not see.
      if (!suspended_) {
        suspended_ = true;
        if (!queue_.empty()) {
          Pending barrier;
          barrier.what = Pending::What::kBarrier;
          queue_.push_back(std::move(barrier));
        }
      }
    }
    last_was_ingress_ = false;
  } else {
    FeedResult r = ingress_.Feed(ev, &msgs_);
    Account(r);
    for (const RespMessage& m : msgs_) OnReply(m);
    if (r.desynced) {
      ++stats_.ingress_desyncs;
      Suspend();  // some replies are lost: no way to tell whose
    }
    last_was_ingress_ = true;
  }
}

void ConnStitcher::Account(const FeedResult& r) {
  stats_.bytes_skipped += r.bytes_skipped;
  if (r.resynced) ++stats_.resyncs;
}

// Pairing resumes at an egress event when every reply owed is accounted
// for: the queue is empty (or holds only a barrier), the process read last
// (a request/response client reads all replies before writing again), the
// reply stream is in sync between two replies, and this write starts a
// command. A client that pipelines across writes can still be mispaired for
// one round trip after a loss; redis-py (sync, asyncio, pipelines) cannot.
bool ConnStitcher::Resumable(std::string_view egress_head) const {
  bool owed =
      !queue_.empty() && !(queue_.size() == 1 && queue_.front().what == Pending::What::kBarrier);
  return !owed && last_was_ingress_ && ingress_.at_boundary() &&
         egress_.WouldStartAtBoundary(egress_head);
}

void ConnStitcher::Suspend() {
  for (const Pending& p : queue_) {
    if (p.what == Pending::What::kCommand) ++stats_.unpaired_commands;
  }
  queue_.clear();
  suspended_ = true;
}

uint64_t ConnStitcher::ExpectedReplies(const RespMessage& m) {
  switch (m.kind) {
    case CommandKind::kClientReplyOff:
      reply_off_ = true;
      return 0;
    case CommandKind::kClientReplySkip:
      if (!reply_off_) skip_next_ = true;
      return 0;
    case CommandKind::kClientReplyOn:
      reply_off_ = false;
      skip_next_ = false;
      return 1;
    case CommandKind::kReset:
      reply_off_ = false;
      skip_next_ = false;
      subscribed_ = false;
      return 1;
    default:
      break;
  }
  if (reply_off_) return 0;
  if (skip_next_) {
    skip_next_ = false;
    return 0;
  }
  // One confirmation per channel; without channels SUBSCRIBE is an error
  // and UNSUBSCRIBE confirms each subscription (counted as extras past the
  // first: how many there are is not in the command).
  if (ConfirmationOf(m.kind) != PushKind::kNone && m.argc > 2) return m.argc - 1;
  return 1;
}

void ConnStitcher::OnCommand(const RespMessage& m) {
  ++stats_.commands;
  if (m.is_inline) ++stats_.inline_commands;
  if (m.name_refused) ++stats_.refused_names;
  uint64_t expected = ExpectedReplies(m);
  if (suspended_) {
    ++stats_.unpaired_commands;
    return;
  }
  if (expected == 0) {
    Pending p;
    p.name = m.command;
    p.start_ns = m.first_ts;
    Emit(p, Outcome::kNoReply, m.first_ts, nullptr);
    return;
  }
  Enqueue(m, expected);
}

void ConnStitcher::Enqueue(const RespMessage& m, uint64_t expected) {
  if (queue_.size() >= kMaxPending) {
    ++stats_.queue_overflows;
    if (queue_.back().what == Pending::What::kSkip) {
      queue_.back().replies_left += expected;
    } else {
      Pending skip;
      skip.what = Pending::What::kSkip;
      skip.replies_left = expected;
      queue_.push_back(std::move(skip));  // at most one past kMaxPending
    }
    return;
  }
  Pending p;
  p.name = m.command;
  p.kind = m.kind;
  p.start_ns = m.first_ts;
  p.replies_left = expected;
  queue_.push_back(std::move(p));
}

// (Un)subscribe confirmations: RESP3 pushes, or RESP2 arrays while a
// subscription exists or is being made. Returns false if `m` is not one.
bool ConnStitcher::OnConfirmation(const RespMessage& m) {
  if (!IsConfirmation(m.push_kind)) return false;
  bool front_waits = !queue_.empty() && queue_.front().what != Pending::What::kBarrier &&
                     (queue_.front().what == Pending::What::kSkip ||
                      ConfirmationOf(queue_.front().kind) == m.push_kind);
  if (m.type == ReplyType::kArray && !subscribed_ && !front_waits) return false;
  if (m.sub_count >= 0) subscribed_ = m.sub_count > 0;
  if (!front_waits) {
    ++stats_.extra_confirmations;
    return true;
  }
  ++stats_.replies;
  Pending& p = queue_.front();
  p.reply_bytes += m.bytes;
  if (--p.replies_left > 0) return true;
  if (p.what == Pending::What::kCommand) Emit(p, Outcome::kReplied, m.last_ts, &m);
  queue_.pop_front();
  return true;
}

void ConnStitcher::OnReply(const RespMessage& m) {
  if (OnConfirmation(m)) return;
  if (m.type == ReplyType::kPush) {
    ++(m.push_kind == PushKind::kMessage ? stats_.pubsub_messages : stats_.pushes);
    return;
  }
  // RESP2 messages are arrays. With no command waiting, a message-shaped
  // array cannot be a reply: the connection subscribed before we attached.
  if (m.type == ReplyType::kArray && m.push_kind == PushKind::kMessage &&
      (subscribed_ || queue_.empty())) {
    subscribed_ = true;
    ++stats_.pubsub_messages;
    return;
  }
  ++stats_.replies;
  if (queue_.empty()) {
    ++(suspended_ ? stats_.unpaired_replies : stats_.unmatched_replies);
    return;
  }
  Pending& p = queue_.front();
  switch (p.what) {
    case Pending::What::kBarrier:
      // A reply to a command lost with the egress framing.
      ++stats_.unpaired_replies;
      queue_.pop_front();
      return;
    case Pending::What::kSkip:
      if (--p.replies_left == 0) queue_.pop_front();
      return;
    case Pending::What::kCommand:
      p.reply_bytes += m.bytes;
      if (--p.replies_left > 0) return;  // SUBSCRIBE a b: an error per channel
      Emit(p, Outcome::kReplied, m.last_ts, &m);
      queue_.pop_front();
      return;
  }
}

void ConnStitcher::Emit(const Pending& p, Outcome outcome, uint64_t end_ns,
                        const RespMessage* reply) {
  CommandRecord rec;
  rec.pid = pid_;
  rec.conn_id = conn_id_;
  rec.command = p.name;
  rec.start_ns = p.start_ns;
  rec.end_ns = std::max(end_ns, p.start_ns);
  rec.outcome = outcome;
  if (reply) {
    rec.reply_type = reply->type;
    rec.error_prefix = reply->error_prefix;
    rec.reply_bytes = p.reply_bytes;
    rec.reply_size = SizeClassOf(p.reply_bytes);
    rec.queued = reply->queued;
  }
  ++stats_.records;
  sink_.OnCommand(rec);
}

void ConnStitcher::OnClose(uint64_t ts_ns) {
  for (const Pending& p : queue_) {
    if (p.what != Pending::What::kCommand) continue;
    ++stats_.closed_pending;
    Emit(p, Outcome::kClosed, ts_ns, nullptr);
  }
  queue_.clear();
}

}  // namespace perfd::protocols::redis
