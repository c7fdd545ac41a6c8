#include "daemon/protocols/redis/parse.h"

#include <algorithm>
#include <cstring>

namespace perfd::protocols::redis {
namespace {

// Bounds on lengths a header may announce: past them the bytes are not RESP
// (the server's own limits are 512 MiB per bulk and far fewer elements).
constexpr int64_t kMaxBulkLen = int64_t{1} << 33;
constexpr int64_t kMaxAggregateLen = int64_t{1} << 32;

bool IsReplyType(char c) {
  switch (c) {
    case '+':
    case '-':
    case ':':
    case '$':
    case '*':
    case '_':
    case ',':
    case '#':
    case '!':
    case '=':
    case '(':
    case '%':
    case '~':
    case '>':
    case '|':
      return true;
    default:
      return false;
  }
}

// Bytes a line of this type may hold (CR included: it must end the line,
// which LineDone checks). Catches garbage early, and keeps a resync from
// starting on payload bytes that merely begin with a type byte.
bool LineByteOk(char type, unsigned char b) {
  switch (type) {
    case '+':
    case '-':
      // Status and error text: no control bytes (Redis never sends them).
      return b >= 0x20 || b == '\t' || b == '\r';
    case 'i':
      return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\r';
    case ',':
      return (b >= '0' && b <= '9') || b == '.' || b == '-' || b == '+' || b == 'e' || b == 'E' ||
             b == 'i' || b == 'n' || b == 'f' || b == 'a' || b == '\r';
    case '#':
      return b == 't' || b == 'f' || b == '\r';
    case '_':
      return b == '\r';
    default:  // lengths, counts, integers, big numbers
      return (b >= '0' && b <= '9') || b == '-' || b == '\r';
  }
}

bool ParseInt(std::string_view s, int64_t* v) {
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 18) return false;
  int64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + (c - '0');
  }
  *v = neg ? -x : x;
  return true;
}

ReplyType TypeOf(char t) {
  switch (t) {
    case '+':
      return ReplyType::kSimpleString;
    case '-':
      return ReplyType::kError;
    case ':':
      return ReplyType::kInteger;
    case '$':
      return ReplyType::kBulkString;
    case '*':
      return ReplyType::kArray;
    case '_':
      return ReplyType::kNull;
    case ',':
      return ReplyType::kDouble;
    case '#':
      return ReplyType::kBoolean;
    case '!':
      return ReplyType::kBlobError;
    case '=':
      return ReplyType::kVerbatim;
    case '(':
      return ReplyType::kBigNumber;
    case '%':
      return ReplyType::kMap;
    case '~':
      return ReplyType::kSet;
    case '>':
      return ReplyType::kPush;
    default:
      return ReplyType::kNone;
  }
}

PushKind PushKindOf(const Word& w) {
  if (!w.complete) return PushKind::kOther;
  std::string_view t = w.text;
  if (t == "message" || t == "pmessage" || t == "smessage") return PushKind::kMessage;
  if (t == "subscribe") return PushKind::kSubscribe;
  if (t == "psubscribe") return PushKind::kPSubscribe;
  if (t == "ssubscribe") return PushKind::kSSubscribe;
  if (t == "unsubscribe") return PushKind::kUnsubscribe;
  if (t == "punsubscribe") return PushKind::kPUnsubscribe;
  if (t == "sunsubscribe") return PushKind::kSUnsubscribe;
  if (t == "invalidate") return PushKind::kInvalidate;
  return PushKind::kOther;
}

}  // namespace

RespParser::RespParser(Role role, bool in_sync) : role_(role), sync_(in_sync) {}

bool RespParser::at_boundary() const {
  return sync_ && state_ == State::kType && depth_ == 0 && !in_message_;
}

bool RespParser::Plausible(Role role, std::string_view head) {
  if (head.empty()) return false;
  if (role == Role::kCommands ? head[0] != '*' : !IsReplyType(head[0])) return false;
  RespParser probe(role, true);
  return probe.FeedBytes(head, 0, nullptr);
}

bool RespParser::WouldStartAtBoundary(std::string_view head) const {
  return sync_ ? at_boundary() : Plausible(role_, head);
}

FeedResult RespParser::Feed(const DataEvent& ev, std::vector<RespMessage>* out) {
  FeedResult r;
  const uint64_t total = std::max<uint64_t>(ev.total, ev.head.size());
  consumed_ = 0;
  if (!sync_) {
    if (!Plausible(role_, ev.head)) {
      r.bytes_skipped = total;
      return r;
    }
    sync_ = true;
    r.resynced = true;
  }
  if (!FeedBytes(ev.head, ev.ts_ns, out) || !SkipBytes(total - ev.head.size(), ev.ts_ns, out)) {
    r.desynced = true;
    r.bytes_skipped = total - consumed_;
    Desync();
  }
  return r;
}

bool RespParser::FeedBytes(std::string_view d, uint64_t ts, std::vector<RespMessage>* out) {
  size_t i = 0;
  while (i < d.size()) {
    switch (state_) {
      case State::kType: {
        if (!StartValue(d[i], ts)) return false;
        if (type_ == 'i') break;  // the byte belongs to the inline line
        ++i;
        ++consumed_;
        ++msg_.bytes;
        break;
      }
      case State::kLine: {
        const char* p = d.data() + i;
        size_t avail = d.size() - i;
        const void* nl = std::memchr(p, '\n', avail);
        size_t chunk = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) : avail;
        for (size_t k = 0; k < chunk; ++k) {
          if (!LineByteOk(type_, static_cast<unsigned char>(p[k]))) return false;
        }
        size_t room = kLineCap - line_len_;
        size_t keep = std::min(chunk, room);
        std::memcpy(line_ + line_len_, p, keep);
        line_len_ += keep;
        if (chunk > room) line_overflow_ = true;
        if (chunk > 0) line_last_ = p[chunk - 1];
        size_t used = chunk + (nl ? 1 : 0);
        i += used;
        consumed_ += used;
        msg_.bytes += used;
        if (line_overflow_) {
          // Only text scalars may be long; a length header never is.
          bool text = type_ == '+' || type_ == '-' || type_ == ',' || type_ == '(' || type_ == 'i';
          if (!text) return false;
        }
        if (nl && !(type_ == 'i' ? InlineDone(ts, out) : LineDone(ts, out))) return false;
        break;
      }
      case State::kBody: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, d.size() - i));
        uint64_t pos = body_len_ + 2 - body_left_;  // offset in the body of d[i]
        // The payload must be followed by CRLF.
        for (uint64_t k = std::max(pos, body_len_); k < pos + take && k < body_len_ + 2; ++k) {
          char want = k == body_len_ ? '\r' : '\n';
          if (d[i + (k - pos)] != want) return false;
        }
        if (body_slot_ >= 0 && pos < std::min<uint64_t>(body_len_, kMaxWordLen)) {
          size_t n = static_cast<size_t>(
              std::min<uint64_t>(take, std::min<uint64_t>(body_len_, kMaxWordLen) - pos));
          Capture(body_slot_, d.substr(i, n));
        }
        body_left_ -= take;
        i += take;
        consumed_ += take;
        msg_.bytes += take;
        if (body_left_ == 0 && !BodyEnd(ts, out)) return false;
        break;
      }
    }
  }
  return true;
}

bool RespParser::SkipBytes(uint64_t n, uint64_t ts, std::vector<RespMessage>* out) {
  if (n == 0) return true;
  // Only a payload's length tells where uncaptured bytes end.
  if (state_ != State::kBody || n > body_left_) return false;
  uint64_t pos = body_len_ + 2 - body_left_;
  if (body_slot_ >= 0 && pos < std::min<uint64_t>(body_len_, kMaxWordLen)) cap_gap_ = true;
  body_left_ -= n;
  consumed_ += n;
  msg_.bytes += n;
  if (body_left_ == 0) return BodyEnd(ts, out);
  return true;
}

bool RespParser::StartValue(char c, uint64_t ts) {
  if (role_ == Role::kCommands) {
    if (depth_ == 0) {
      if (c != '*') {
        // Inline command: printable text up to LF.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\r' && c != '\n' && c != '\t') {
          return false;
        }
        if (static_cast<unsigned char>(c) >= 0x7f) return false;
        c = 'i';
      }
    } else if (c != '$') {
      return false;  // a command is an array of bulk strings
    }
  } else if (!IsReplyType(c)) {
    return false;
  }
  if (depth_ == 0 && !in_message_) {
    in_message_ = true;
    msg_.first_ts = ts;
  }
  if (depth_ == 0 && c != '|') {
    top_type_ = c;
    top_seen_ = true;
  }
  type_ = c;
  state_ = State::kLine;
  line_len_ = 0;
  line_overflow_ = false;
  line_last_ = 0;
  return true;
}

int RespParser::CaptureSlot() const {
  if (depth_ == 0) return 0;
  if (depth_ == 1 && !stack_[0].attribute && child_ < kSlots) return static_cast<int>(child_);
  return -1;
}

void RespParser::Capture(int slot, std::string_view bytes) {
  size_t n = std::min(bytes.size(), kMaxWordLen - cap_len_[slot]);
  std::memcpy(cap_[slot] + cap_len_[slot], bytes.data(), n);
  cap_len_[slot] += n;
}

bool RespParser::LineDone(uint64_t ts, std::vector<RespMessage>* out) {
  state_ = State::kType;
  if (line_last_ != '\r') return false;  // RESP lines end in CRLF
  std::string_view s(line_, line_len_);
  if (!line_overflow_) s.remove_suffix(1);  // the CR
  const int slot = CaptureSlot();
  int64_t n = 0;
  switch (type_) {
    case '+':
    case '-':
    case ',':
    case '(':
      if (slot >= 0) {
        Capture(slot, s);
        cap_complete_[slot] = !line_overflow_ && s.size() <= kMaxWordLen;
      }
      return ValueDone(ts, out);
    case ':':
      if (!ParseInt(s, &n)) return false;
      if (slot == 2) cap_int2_ = n;
      return ValueDone(ts, out);
    case '_':
      if (!s.empty()) return false;
      return ValueDone(ts, out);
    case '#':
      if (s != "t" && s != "f") return false;
      return ValueDone(ts, out);
    case '$':
    case '!':
    case '=':
      if (!ParseInt(s, &n) || n < -1 || n > kMaxBulkLen) return false;
      if (n == -1) {
        if (type_ != '$' || role_ == Role::kCommands) return false;
        if (depth_ == 0) null_ = true;
        return ValueDone(ts, out);
      }
      body_len_ = static_cast<uint64_t>(n);
      body_left_ = body_len_ + 2;
      body_slot_ = slot;
      cap_gap_ = false;
      state_ = State::kBody;
      return true;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|':
      if (!ParseInt(s, &n) || n < -1 || n > kMaxAggregateLen) return false;
      if (n == -1) {
        if (type_ != '*') return false;
        if (depth_ == 0) null_ = true;
        return ValueDone(ts, out);
      }
      if (depth_ == 0 && type_ != '|') top_n_ = static_cast<uint64_t>(n);
      if (role_ == Role::kCommands && depth_ > 0) return false;
      if (type_ == '%' || type_ == '|') n *= 2;
      return OpenAggregate(n, type_ == '|', ts, out);
    default:
      return false;
  }
}

bool RespParser::OpenAggregate(int64_t n, bool attribute, uint64_t ts,
                               std::vector<RespMessage>* out) {
  if (n == 0) return attribute ? true : ValueDone(ts, out);
  if (depth_ == kMaxDepth) return false;
  stack_[depth_++] = Frame{static_cast<uint64_t>(n), attribute};
  if (depth_ == 1 && !attribute) child_ = 0;
  return true;
}

bool RespParser::BodyEnd(uint64_t ts, std::vector<RespMessage>* out) {
  state_ = State::kType;
  if (body_slot_ >= 0) {
    cap_complete_[body_slot_] = !cap_gap_ && cap_len_[body_slot_] == body_len_;
  }
  body_slot_ = -1;
  return ValueDone(ts, out);
}

bool RespParser::ValueDone(uint64_t ts, std::vector<RespMessage>* out) {
  while (depth_ > 0) {
    Frame& f = stack_[depth_ - 1];
    if (depth_ == 1 && !f.attribute) ++child_;
    if (--f.left > 0) return true;
    bool attribute = f.attribute;
    --depth_;
    // An attribute annotates the value after it: it is not a value itself.
    if (attribute) return true;
  }
  if (top_seen_) FinishMessage(ts, out);
  return true;
}

bool RespParser::InlineDone(uint64_t ts, std::vector<RespMessage>* out) {
  state_ = State::kType;
  std::string_view s(line_, line_len_);
  if (!line_overflow_ && !s.empty() && s.back() == '\r') s.remove_suffix(1);
  Word words[kSlots];
  uint32_t argc = 0;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    if (i == s.size()) break;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') ++i;
    if (argc < kSlots) {
      // A word running into the cut may continue past it.
      words[argc] = Word{s.substr(start, i - start), i < s.size() || !line_overflow_};
    }
    ++argc;
  }
  // Text whose first word is not a command name is not an inline command.
  if (argc > 0 && !IsCommandWord(words[0])) return false;
  if (argc > 0 && out) {
    msg_.last_ts = ts;
    msg_.is_inline = true;
    msg_.argc = argc;
    msg_.command = CommandName(words[0], words[1], argc, &msg_.name_refused);
    msg_.kind = ClassifyCommand(msg_.command, words[2]);
    out->push_back(msg_);
  }
  ResetMessage();  // an empty line is not a command (the server ignores it)
  return true;
}

void RespParser::FinishMessage(uint64_t ts, std::vector<RespMessage>* out) {
  msg_.last_ts = ts;
  if (out) {
    Word w[kSlots];
    for (int k = 0; k < kSlots; ++k)
      w[k] = Word{std::string_view(cap_[k], cap_len_[k]), cap_complete_[k]};
    if (role_ == Role::kCommands) {
      // "*0" and "*-1" are ignored by the server: no command, no reply.
      if (top_n_ > 0) {
        msg_.argc = static_cast<uint32_t>(std::min<uint64_t>(top_n_, UINT32_MAX));
        msg_.command = CommandName(w[0], w[1], msg_.argc, &msg_.name_refused);
        msg_.kind = ClassifyCommand(msg_.command, w[2]);
        out->push_back(msg_);
      }
    } else {
      msg_.type = TypeOf(top_type_);
      if (null_) msg_.type = top_type_ == '*' ? ReplyType::kNullArray : ReplyType::kNullBulk;
      if (msg_.type == ReplyType::kError || msg_.type == ReplyType::kBlobError) {
        msg_.error_prefix = ErrorPrefix(w[0]);
      } else if (msg_.type == ReplyType::kSimpleString) {
        msg_.queued = w[0].complete && w[0].text == "QUEUED";
      } else if ((msg_.type == ReplyType::kArray || msg_.type == ReplyType::kPush) && top_n_ > 0) {
        msg_.push_kind = PushKindOf(w[0]);
        msg_.sub_count = cap_int2_;
      }
      out->push_back(msg_);
    }
  }
  ResetMessage();
}

void RespParser::ResetMessage() {
  in_message_ = false;
  top_seen_ = false;
  top_type_ = 0;
  top_n_ = 0;
  null_ = false;
  child_ = 0;
  // Field by field (not `msg_ = RespMessage{}`): keeps the strings' buffers
  // and costs a tenth of a command's parse time less. Mirror new fields here.
  msg_.first_ts = 0;
  msg_.last_ts = 0;
  msg_.bytes = 0;
  msg_.command.clear();
  msg_.name_refused = false;
  msg_.kind = CommandKind::kPlain;
  msg_.argc = 0;
  msg_.is_inline = false;
  msg_.type = ReplyType::kNone;
  msg_.error_prefix.clear();
  msg_.push_kind = PushKind::kNone;
  msg_.sub_count = -1;
  msg_.queued = false;
  for (int k = 0; k < kSlots; ++k) {
    cap_len_[k] = 0;
    cap_complete_[k] = false;
  }
  cap_gap_ = false;
  cap_int2_ = -1;
}

void RespParser::Desync() {
  sync_ = false;
  state_ = State::kType;
  depth_ = 0;
  body_slot_ = -1;
  ResetMessage();
}

}  // namespace perfd::protocols::redis
