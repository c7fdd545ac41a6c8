#include "daemon/pipeline/http_response.h"

#include <algorithm>
#include <limits>

#include "daemon/protocols/http/line_parser.h"

namespace perfd::http {
namespace {

// RFC 9110 tchar, ASCII only (no locale).
bool IsTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Field values and chunk extensions: HTAB, SP, VCHAR, obs-text. A CR, LF or
// NUL inside a line is how response splitting starts; refuse it.
bool IsFieldText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// Like nginx, a declared length no signed 64-bit offset can hold is not a
// big document but a broken (or hostile) response: kMalformed. Lengths below
// it and above the body cap are kTooLarge.
constexpr uint64_t kMaxDeclaredLength = std::numeric_limits<int64_t>::max();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Bytes(size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1u << 10) && n % (1u << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

}  // namespace

const char* HttpResponseErrorName(HttpResponseError e) {
  switch (e) {
    case HttpResponseError::kNone:
      return "none";
    case HttpResponseError::kMalformed:
      return "malformed";
    case HttpResponseError::kUnsupported:
      return "unsupported";
    case HttpResponseError::kTooLarge:
      return "too_large";
    case HttpResponseError::kTruncated:
      return "truncated";
  }
  return "unknown";
}

HttpResponseParser::HttpResponseParser(HttpResponseLimits limits) : limits_(limits) {}

HttpResponseParser::State HttpResponseParser::Feed(std::string_view bytes) {
  if (state_ != State::kIncomplete) return state_;
  // Parse only what fits in the total budget; if the response is not over by
  // then, the rest would not have been accepted anyway.
  const size_t budget = limits_.max_total_bytes - total_bytes_;
  const bool over = bytes.size() > budget;
  if (over) bytes = bytes.substr(0, budget);
  const size_t before = bytes.size();
  while (!bytes.empty() && state_ == State::kIncomplete) Step(&bytes);
  total_bytes_ += before - bytes.size();
  if (over && state_ == State::kIncomplete) {
    Fail(HttpResponseError::kTooLarge,
         "response larger than " + Bytes(limits_.max_total_bytes) + " on the wire");
  }
  return state_;
}

HttpResponseParser::State HttpResponseParser::Finish() {
  if (state_ != State::kIncomplete) return state_;
  switch (phase_) {
    case Phase::kBodyUntilClose:
      Complete();
      break;
    case Phase::kStatusLine:
      Fail(HttpResponseError::kTruncated, total_bytes_ == 0
                                              ? "connection closed without a response"
                                              : "connection closed in the status line");
      break;
    case Phase::kHeaders:
      Fail(HttpResponseError::kTruncated, "connection closed in the header fields");
      break;
    default:
      Fail(HttpResponseError::kTruncated,
           "connection closed after " + std::to_string(result_.body.size()) + " body bytes");
      break;
  }
  return state_;
}

HttpResponseParser::LineStatus HttpResponseParser::TakeLine(std::string_view* in, size_t budget,
                                                            std::string_view* line) {
  const size_t lf = in->find('\n');
  const size_t take = lf == std::string_view::npos ? in->size() : lf + 1;
  // Checked before anything is copied: line_ never grows past the budget.
  if (take > budget || line_.size() > budget - take) return LineStatus::kTooLong;
  if (lf == std::string_view::npos) {
    line_.append(*in);
    in->remove_prefix(take);
    NotePeak();
    return LineStatus::kNeedMore;
  }
  if (line_.empty()) {
    *line = in->substr(0, lf);  // the common case: no copy
  } else {
    line_.append(in->data(), lf);
    NotePeak();
    *line = line_;
  }
  in->remove_prefix(take);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  return LineStatus::kLine;
}

void HttpResponseParser::Step(std::string_view* in) {
  std::string_view line;
  LineStatus ls = LineStatus::kNeedMore;
  switch (phase_) {
    case Phase::kStatusLine:
    case Phase::kHeaders: {
      const size_t before = line_.size() + in->size();
      ls = TakeLine(in, limits_.max_head_bytes - head_bytes_, &line);
      if (ls == LineStatus::kTooLong) {
        return Fail(HttpResponseError::kTooLarge,
                    "header block larger than " + Bytes(limits_.max_head_bytes));
      }
      if (ls != LineStatus::kLine) return;
      head_bytes_ += before - in->size();
      if (phase_ == Phase::kStatusLine) {
        OnStatusLine(line);
      } else {
        OnHeaderField(line);
      }
      break;
    }
    case Phase::kBodyLength:
    case Phase::kChunkData:
      AppendBody(in, static_cast<size_t>(std::min<uint64_t>(remaining_, in->size())));
      if (remaining_ == 0 && state_ == State::kIncomplete) {
        if (phase_ == Phase::kBodyLength) return Complete();
        phase_ = Phase::kChunkDataEnd;
      }
      return;
    case Phase::kBodyUntilClose:
      if (in->size() > limits_.max_body_bytes - result_.body.size()) {
        return Fail(HttpResponseError::kTooLarge,
                    "body larger than " + Bytes(limits_.max_body_bytes));
      }
      AppendBody(in, in->size());
      return;
    case Phase::kChunkSize:
      ls = TakeLine(in, limits_.max_chunk_line_bytes, &line);
      if (ls == LineStatus::kTooLong) {
        return Fail(HttpResponseError::kTooLarge,
                    "chunk-size line longer than " + Bytes(limits_.max_chunk_line_bytes));
      }
      if (ls == LineStatus::kLine) OnChunkSizeLine(line);
      break;
    case Phase::kChunkDataEnd:
      ls = TakeLine(in, 2, &line);
      if (ls == LineStatus::kTooLong || (ls == LineStatus::kLine && !line.empty())) {
        return Fail(HttpResponseError::kMalformed, "chunk data not followed by CRLF");
      }
      if (ls == LineStatus::kLine) phase_ = Phase::kChunkSize;
      break;
    case Phase::kTrailers: {
      const size_t before = line_.size() + in->size();
      ls = TakeLine(in, limits_.max_trailer_bytes - trailer_bytes_, &line);
      if (ls == LineStatus::kTooLong) {
        return Fail(HttpResponseError::kTooLarge,
                    "trailer fields larger than " + Bytes(limits_.max_trailer_bytes));
      }
      if (ls != LineStatus::kLine) return;
      trailer_bytes_ += before - in->size();
      OnTrailerField(line);
      break;
    }
    case Phase::kDone:
      in->remove_prefix(in->size());
      return;
  }
  // A complete line was handled; it may have pointed into line_.
  if (ls == LineStatus::kLine) line_.clear();
}

void HttpResponseParser::OnStatusLine(std::string_view line) {
  // The same validation as for status lines seen in the kernel: version
  // HTTP/1.0 or 1.1, three digits in 100..599, a reason without controls.
  std::optional<int> status = ParseStatusLine(line);
  if (!status) return Fail(HttpResponseError::kMalformed, "not an HTTP/1.x status line");
  result_.status = *status;
  phase_ = Phase::kHeaders;
}

void HttpResponseParser::OnHeaderField(std::string_view line) {
  if (line.empty()) return OnHeadEnd();
  if (++header_fields_ > limits_.max_header_fields) {
    return Fail(HttpResponseError::kTooLarge,
                "more than " + std::to_string(limits_.max_header_fields) + " header fields");
  }
  // RFC 9112 5.2: obsolete line folding may be rejected; so is whitespace
  // between the name and the colon (5.1).
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail(HttpResponseError::kMalformed, "header field without a name");
  }
  std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return Fail(HttpResponseError::kMalformed, "invalid header field name");
  }
  std::string_view value = TrimOws(line.substr(colon + 1));
  if (!IsFieldText(value)) {
    return Fail(HttpResponseError::kMalformed, "control character in a header field value");
  }
  if (EqualsIgnoreCase(name, "content-length")) return OnContentLength(value);
  if (EqualsIgnoreCase(name, "transfer-encoding")) return OnTransferEncoding(value);
}

void HttpResponseParser::OnContentLength(std::string_view value) {
  if (value.empty() ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Fail(HttpResponseError::kMalformed, "Content-Length is not a decimal number");
  }
  uint64_t n = 0;
  for (char c : value) {
    const auto d = static_cast<uint64_t>(c - '0');
    if (n > (kMaxDeclaredLength - d) / 10) {
      return Fail(HttpResponseError::kMalformed, "Content-Length out of range");
    }
    n = n * 10 + d;
  }
  if (content_length_ && *content_length_ != n) {
    return Fail(HttpResponseError::kMalformed, "conflicting Content-Length fields");
  }
  content_length_ = n;
}

void HttpResponseParser::OnTransferEncoding(std::string_view value) {
  // A comma-separated list over all Transfer-Encoding fields; "chunked" must
  // be the last coding and appear once. "identity" (RFC 2616) is a no-op.
  while (true) {
    const size_t comma = value.find(',');
    std::string_view coding = TrimOws(value.substr(0, comma));
    if (!coding.empty()) {
      if (chunked_) {
        return Fail(HttpResponseError::kMalformed, "a transfer coding after chunked");
      }
      if (EqualsIgnoreCase(coding, "chunked")) {
        chunked_ = true;
      } else if (!EqualsIgnoreCase(coding, "identity")) {
        return Fail(HttpResponseError::kUnsupported,
                    "unsupported transfer coding '" + std::string(coding.substr(0, 32)) + "'");
      }
    }
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

void HttpResponseParser::OnHeadEnd() {
  const int s = result_.status;
  // RFC 9112 6.3: these never have a body, whatever the header fields say.
  if ((s >= 100 && s < 200) || s == 204 || s == 304) return Complete();
  if (chunked_ && content_length_) {
    // Allowed by the RFC (chunked wins) but the classic smuggling shape; a
    // uvicorn worker never sends both.
    return Fail(HttpResponseError::kMalformed, "both Transfer-Encoding and Content-Length");
  }
  if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (content_length_) {
    if (*content_length_ > limits_.max_body_bytes) {
      return Fail(HttpResponseError::kTooLarge,
                  "Content-Length above " + Bytes(limits_.max_body_bytes));
    }
    if (*content_length_ == 0) return Complete();
    remaining_ = *content_length_;
    phase_ = Phase::kBodyLength;
  } else {
    phase_ = Phase::kBodyUntilClose;
  }
}

void HttpResponseParser::OnChunkSizeLine(std::string_view line) {
  size_t digits = 0;
  while (digits < line.size() && HexValue(line[digits]) >= 0) ++digits;
  if (digits == 0) return Fail(HttpResponseError::kMalformed, "chunk size is not hexadecimal");
  // 16 hex digits fit in 64 bits: counting them first makes the arithmetic
  // below overflow-free ("ffffffffffffffec" used to wrap the old decoder).
  if (digits > 16) {
    return Fail(HttpResponseError::kMalformed, "chunk size has more than 16 hex digits");
  }
  uint64_t size = 0;
  for (size_t i = 0; i < digits; ++i) size = (size << 4) | static_cast<uint64_t>(HexValue(line[i]));
  if (size > kMaxDeclaredLength) {
    return Fail(HttpResponseError::kMalformed, "chunk size out of range");
  }

  std::string_view rest = TrimOws(line.substr(digits));
  if (!rest.empty() && (rest.front() != ';' || !IsFieldText(rest))) {
    return Fail(HttpResponseError::kMalformed, "junk after the chunk size");
  }
  // Extensions (";name=value") carry nothing we use; their length is capped
  // by max_chunk_line_bytes.
  if (size > limits_.max_body_bytes - result_.body.size()) {
    return Fail(HttpResponseError::kTooLarge,
                "chunked body larger than " + Bytes(limits_.max_body_bytes));
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
  } else {
    remaining_ = size;
    phase_ = Phase::kChunkData;
  }
}

void HttpResponseParser::OnTrailerField(std::string_view line) {
  if (line.empty()) return Complete();
  // Trailers are read to find the end of the message and then dropped.
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || !IsFieldText(line)) {
    return Fail(HttpResponseError::kMalformed, "invalid trailer field");
  }
}

void HttpResponseParser::AppendBody(std::string_view* in, size_t n) {
  // Callers bound n by remaining_ (checked against the body cap when the
  // length was read) or by the cap itself.
  result_.body.append(in->data(), n);
  in->remove_prefix(n);
  if (phase_ != Phase::kBodyUntilClose) remaining_ -= n;
  NotePeak();
}

void HttpResponseParser::Complete() {
  phase_ = Phase::kDone;
  state_ = State::kComplete;
  line_.clear();
}

void HttpResponseParser::Fail(HttpResponseError error, std::string message) {
  state_ = State::kFailed;
  result_.error = error;
  result_.message = std::move(message);
  // Nothing partial is handed on; release it now.
  std::string().swap(result_.body);
  std::string().swap(line_);
}

void HttpResponseParser::NotePeak() { peak_buffered_ = std::max(peak_buffered_, buffered_bytes()); }

}  // namespace perfd::http
