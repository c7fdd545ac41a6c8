#include "daemon/protocols/pgsql/parse.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace perfd::pgsql {
namespace {

constexpr size_t kMaxName = 64;          // NAMEDATALEN: statement and portal names
constexpr uint32_t kMaxStartup = 10000;  // the server refuses longer startup packets
constexpr uint32_t kKiB = 1024, kMiB = 1024 * 1024;
constexpr uint32_t kHuge = 0x40000000;  // rows, COPY data, query text: the server's 1 GB limit

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint32_t Be16(std::string_view s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 8) | static_cast<uint8_t>(s[at + 1]);
}
uint32_t Be32(std::string_view s, size_t at) {
  return Be32(reinterpret_cast<const uint8_t*>(s.data()) + at);
}

// Bounds of the length field (which counts itself) per message type; {0, 0}
// for a type the side never sends. Tight bounds make resync and garbage
// rejection reliable: most types have a fixed or small length.
struct LenRange {
  uint32_t min, max;
};

LenRange FrontendRange(char t) {
  switch (t) {
    case 'S':
    case 'H':
    case 'c':
    case 'X':
      return {4, 4};  // Sync Flush CopyDone Terminate
    case 'Q':
      return {5, kHuge};  // Query
    case 'P':
      return {8, kHuge};  // Parse
    case 'B':
      return {12, kHuge};  // Bind
    case 'E':
      return {9, 4 + kMaxName + 5};  // Execute
    case 'D':
    case 'C':
      return {6, 4 + kMaxName + 2};  // Describe Close
    case 'd':
      return {4, kHuge};  // CopyData
    case 'f':
      return {5, 64 * kKiB};  // CopyFail
    case 'F':
      return {18, kHuge};  // FunctionCall
    case 'p':
      return {5, 64 * kKiB};  // password / SASL
    default:
      return {0, 0};
  }
}

LenRange BackendRange(char t) {
  switch (t) {
    case '1':
    case '2':
    case '3':
    case 'n':
    case 'I':
    case 'c':
    case 's':
      return {4, 4};
    case 'Z':
      return {5, 5};  // ReadyForQuery
    case 'K':
      return {12, 12};  // BackendKeyData
    case 'R':
      return {8, 64 * kKiB};  // Authentication*
    case 'C':
      return {5, 4 + 256};  // CommandComplete
    case 'D':
    case 'd':
    case 'V':
      return {4, kHuge};  // DataRow CopyData FunctionCallResponse
    case 'T':
    case 't':
      return {6, 16 * kMiB};  // RowDescription ParameterDescription
    case 'E':
    case 'N':
      return {5, 16 * kMiB};  // ErrorResponse NoticeResponse
    case 'A':
      return {10, 16 * kMiB};  // NotificationResponse
    case 'S':
      return {6, 64 * kKiB};  // ParameterStatus
    case 'G':
    case 'H':
    case 'W':
      return {7, 64 * kKiB};  // Copy{In,Out,Both}Response
    case 'v':
      return {12, 64 * kKiB};  // NegotiateProtocolVersion
    default:
      return {0, 0};
  }
}

// Text a driver would send: no control bytes but tab and newlines.
bool TextByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x20 || c == '\t' || c == '\n' || c == '\r';
}

// How SQL text begins: a keyword, a parenthesis, whitespace or a comment.
bool SqlStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) ||
         std::string_view("( \t\r\n-/").find(c) != std::string_view::npos;
}

// A NUL-terminated name (statement, portal) at b[*pos]; advances past it.
// True if the name is plausible or runs past the captured bytes.
bool NameAt(std::string_view b, size_t* pos) {
  size_t start = *pos;
  while (*pos < b.size() && b[*pos] != '\0') {
    if (!TextByte(b[*pos]) || *pos - start >= 64) return false;
    ++*pos;
  }
  ++*pos;
  return true;
}

bool StartupCode(uint32_t code) {
  return code == kProtocol3 || code == kSslRequest || code == kGssEncRequest ||
         code == kCancelRequest;
}

}  // namespace

// The captured start of a bulk message's body looks like one: a false
// boundary in the middle of a large message would otherwise blind the
// direction for as many bytes as its bogus length claims.
bool Framer::PlausibleBody(char type, std::string_view body, uint32_t len) const {
  body = body.substr(0, std::min<size_t>(body.size(), 128));
  size_t pos = 0;
  if (side_ == Side::kFrontend) {
    switch (type) {
      case 'Q':
        if (!body.empty() && !SqlStart(body[0])) return false;
        for (size_t i = 0; i < body.size(); ++i)
          if (!TextByte(body[i]) && !(body[i] == '\0' && i + 5 == len)) return false;
        return true;
      case 'P':
        if (!NameAt(body, &pos)) return false;
        if (pos < body.size() && !SqlStart(body[pos])) return false;
        for (; pos < body.size() && body[pos] != '\0'; ++pos)
          if (!TextByte(body[pos])) return false;
        return true;
      case 'B':
        return NameAt(body, &pos) && NameAt(body, &pos) &&
               (pos + 2 > body.size() || Be16(body, pos) <= len);
      default:
        return true;
    }
  }
  if (type == 'D') {  // column count, then the first column's length (-1: NULL)
    if (body.size() >= 2 && Be16(body, 0) > 1664) return false;
    if (body.size() >= 6) {
      uint32_t c = Be32(body, 2);
      if (c != 0xffffffff && c > len) return false;
    }
  }
  return true;
}

bool Framer::Bulk(char type) const {
  // Drivers write whole messages, so on the frontend a message starting a
  // transfer ends within it; rows and COPY data do span reads.
  std::string_view bulk = side_ == Side::kFrontend ? "" : "DdV";
  return bulk.find(type) != std::string_view::npos;
}

bool Framer::PlausibleHeader(char type, uint32_t len) const {
  LenRange r = side_ == Side::kFrontend ? FrontendRange(type) : BackendRange(type);
  return r.max != 0 && len >= r.min && len <= r.max;
}

size_t Framer::FindBoundary(const protocols::DataEvent& ev, size_t from) {
  std::string_view h = ev.head;
  for (size_t k = from; k + 5 <= h.size(); ++k) {
    uint32_t len = Be32(h, k + 1);
    if (!PlausibleHeader(h[k], len)) continue;
    if (!PlausibleBody(h[k], h.substr(k + 5, std::min<uint64_t>(len - 4, h.size() - k - 5)), len))
      continue;
    // ReadyForQuery with a valid status is unmistakable.
    if (side_ == Side::kBackend && h[k] == 'Z' && k + 6 <= h.size() &&
        std::string_view("ITE").find(h[k + 5]) != std::string_view::npos)
      return k;
    uint64_t next = k + 1 + uint64_t{len};
    if (next + 5 <= h.size()) {
      if (PlausibleHeader(h[next], Be32(h, next + 1))) return k;  // confirmed by the next header
      continue;
    }
    // Unconfirmable in the head: accept where transfers usually start or end
    // (drivers write whole messages; a response ends where the read ends).
    // Only bulk messages (rows, COPY data, long queries, parameters) may run
    // past the transfer that starts them: a small message claiming to is
    // mid-message bytes that look like a header.
    uint64_t total = std::max<uint64_t>(ev.total, h.size());
    // CopyData carries anything: it is never trusted unconfirmed.
    if (h[k] == 'd') continue;
    if (next == total || (k == 0 && (next <= total || Bulk(h[k])))) return k;
  }
  return h.size();
}

void Framer::Feed(const protocols::DataEvent& ev, Listener& l) {
  // The first bytes of a direction, fewer than a startup header: keep them
  // until the header is whole (a connection seen from its start must not
  // lose its first message to a short write).
  if (!ever_synced_ && state_ == State::kUnsynced && at_start_) {
    // Only bytes that can begin a header are carried: a startup length (< 10000,
    // so its first two bytes are 0) on the frontend, a typed header on the backend.
    size_t need = side_ == Side::kFrontend ? 8 : 5;
    bool header_start =
        side_ == Side::kBackend ||
        (ev.head.size() >= 4 ? Be32(ev.head, 0) >= 8 && Be32(ev.head, 0) <= kMaxStartup
                             : ev.head.find_first_not_of('\0') >= ev.head.size());
    if (!carry_.empty() || (ev.head.size() == ev.total && ev.total < need && header_start)) {
      if (ev.head.size() != ev.total) {  // a gap: the carried bytes go first, alone
        at_start_ = false;
        std::string carried = std::move(carry_);
        carry_.clear();
        protocols::DataEvent first = ev;
        first.head = carried;
        first.total = carried.size();
        if (!carried.empty()) Feed(first, l);
        Feed(ev, l);
        return;
      } else {
        carry_.append(ev.head);
        if (carry_.size() < need) return;
        std::string joined = std::move(carry_);
        carry_.clear();
        at_start_ = false;
        protocols::DataEvent whole = ev;
        whole.head = joined;
        whole.total = joined.size();
        Feed(whole, l);
        return;
      }
    }
  }
  at_start_ = false;
  std::string_view head = ev.head;
  const uint64_t captured = head.size();
  const uint64_t total = std::max<uint64_t>(ev.total, captured);
  uint64_t pos = 0;
  while (pos < total) {
    switch (state_) {
      case State::kStopped:
        return;
      case State::kSslAnswer: {
        if (pos >= captured) {
          Lose(ev.ts_ns, l);
          break;
        }
        Message m;
        m.type = head[pos++];
        m.ssl_answer = true;
        m.ts_ns = ev.ts_ns;
        state_ = State::kHeader;
        header_have_ = 0;
        header_need_ = 5;
        ever_synced_ = true;
        ++stats_.messages;
        l.OnMessage(side_, m);
        break;
      }
      case State::kUnsynced: {
        if (pos >= captured) {
          stats_.bytes_unsynced += total - pos;
          return;
        }
        bool startup = pos == 0 && side_ == Side::kFrontend && captured >= 8 &&
                       Be32(head, 0) >= 8 && Be32(head, 0) <= kMaxStartup &&
                       StartupCode(Be32(head, 4));
        if (!startup) {
          size_t k = FindBoundary(ev, pos);
          stats_.bytes_unsynced += k - pos;
          if (k >= captured) {
            stats_.bytes_unsynced += total - captured;
            return;
          }
          pos = k;
        }
        untyped_next_ = startup;
        if (ever_synced_) ++stats_.resyncs;
        ever_synced_ = true;
        state_ = State::kHeader;
        header_have_ = 0;
        header_need_ = untyped_next_ ? 8 : 5;
        break;
      }
      case State::kHeader: {
        if (pos >= captured) {  // a header in uncaptured bytes: the framing is lost
          stats_.bytes_unsynced += total - pos;
          Lose(ev.ts_ns, l);
          return;
        }
        size_t n = std::min<uint64_t>(header_need_ - header_have_, captured - pos);
        std::memcpy(header_ + header_have_, head.data() + pos, n);
        header_have_ += n;
        pos += n;
        if (header_have_ < header_need_) break;
        if (!StartHeader(ev, l)) {
          Lose(ev.ts_ns, l);
          break;
        }
        if (remaining_ == 0) Emit(ev.ts_ns, l);
        break;
      }
      case State::kBody: {
        uint64_t n = std::min(remaining_, total - pos);
        uint64_t c = pos < captured ? std::min(n, captured - pos) : 0;
        if (c > 0) KeepBytes(head.substr(pos, c));
        if (n > c) Gap(n - c);
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) Emit(ev.ts_ns, l);
        break;
      }
    }
  }
}

bool Framer::StartHeader(const protocols::DataEvent&, Listener&) {
  if (header_need_ == 8) {
    uint32_t len = Be32(header_), code = Be32(header_ + 4);
    if (len < 8 || len > kMaxStartup || !StartupCode(code)) return false;
    type_ = 0;
    startup_code_ = code;
    length_ = len - 8;
    // After SSLRequest/GSSENCRequest answered 'N' the client sends a
    // StartupMessage; after a StartupMessage, typed messages.
    untyped_next_ = code == kSslRequest || code == kGssEncRequest;
  } else {
    uint32_t len = Be32(header_ + 1);
    if (!PlausibleHeader(static_cast<char>(header_[0]), len)) return false;
    type_ = static_cast<char>(header_[0]);
    startup_code_ = 0;
    length_ = len - 4;
  }
  BeginBody();
  return true;
}

// What of a body is kept: only what a record needs, see the file comment.
void Framer::BeginBody() {
  keep_ = Keep::kNone;
  keep_cap_ = 0;
  keep_nuls_ = 0;
  if (side_ == Side::kFrontend) {
    switch (type_) {
      case 'Q':  // query text
        keep_ = Keep::kPrefix, keep_cap_ = limits_.max_text, keep_nuls_ = 1;
        break;
      case 'P':  // statement name, query text (parameter types not kept)
        keep_ = Keep::kPrefix, keep_cap_ = kMaxName + limits_.max_text, keep_nuls_ = 2;
        break;
      case 'B':  // portal and statement names; the parameters after them are skipped
        keep_ = Keep::kPrefix, keep_cap_ = 2 * kMaxName, keep_nuls_ = 2;
        break;
      case 'E':
      case 'D':
      case 'C':  // portal / kind + name
        keep_ = Keep::kPrefix, keep_cap_ = kMaxName + 1, keep_nuls_ = 1;
        break;
      default:
        break;
    }
  } else {
    switch (type_) {
      case 'C':  // command tag
        keep_ = Keep::kPrefix, keep_cap_ = 256, keep_nuls_ = 1;
        break;
      case 'Z':  // transaction status
        keep_ = Keep::kPrefix, keep_cap_ = 1;
        break;
      case 'E':  // the SQLSTATE only: other fields may quote values
        keep_ = Keep::kSqlState;
        break;
      default:
        break;
    }
  }
  kept_.clear();
  keep_done_ = keep_ == Keep::kNone;
  truncated_ = false;
  field_ = Field::kType;
  remaining_ = length_;
  state_ = State::kBody;
}

void Framer::KeepBytes(std::string_view b) {
  if (keep_done_) return;
  if (keep_ == Keep::kPrefix) {
    int nuls = static_cast<int>(std::count(kept_.begin(), kept_.end(), '\0'));
    for (char c : b) {
      if (kept_.size() >= keep_cap_) {
        truncated_ = true;
        keep_done_ = true;
        return;
      }
      kept_.push_back(c);
      if (c == '\0' && keep_nuls_ > 0 && ++nuls >= keep_nuls_) {
        keep_done_ = true;
        return;
      }
    }
    return;
  }
  // ErrorResponse: (field type byte, NUL-terminated string)*, NUL. Walk the
  // fields without keeping any but 'C'.
  for (char c : b) {
    switch (field_) {
      case Field::kType:
        if (c == '\0') {
          keep_done_ = true;
          field_ = Field::kDone;
          return;
        }
        field_ = c == 'C' ? Field::kCode : Field::kSkip;
        break;
      case Field::kSkip:
        if (c == '\0') field_ = Field::kType;
        break;
      case Field::kCode:
        if (c == '\0') {
          keep_done_ = true;
          field_ = Field::kDone;
          return;
        }
        if (kept_.size() < 5) kept_.push_back(c);  // SQLSTATE codes are 5 characters
        break;
      case Field::kDone:
        return;
    }
  }
}

void Framer::Gap(uint64_t n) {
  stats_.bytes_uncaptured += n;
  if (!keep_done_) {
    truncated_ = true;
    keep_done_ = true;
  }
}

void Framer::Emit(uint64_t ts, Listener& l) {
  Message m;
  m.type = type_;
  m.startup_code = startup_code_;
  m.length = length_;
  m.body = kept_;
  m.truncated = truncated_;
  // A SQLSTATE is five characters; a cut one is no SQLSTATE.
  if (keep_ == Keep::kSqlState && (kept_.size() != 5 || field_ != Field::kDone)) m.body = {};
  m.ts_ns = ts;
  state_ = State::kHeader;
  header_have_ = 0;
  header_need_ = untyped_next_ ? 8 : 5;
  ++stats_.messages;
  l.OnMessage(side_, m);
}

void Framer::Lose(uint64_t ts, Listener& l) {
  ++stats_.desyncs;
  state_ = State::kUnsynced;
  kept_.clear();
  l.OnLost(side_, ts);
}

}  // namespace perfd::pgsql
