// Incremental parser for one HTTP/1.x response, as the OpenAPI fetcher reads
// it from a traced worker. The bytes come from an untrusted application and
// perfd runs as root, so every size is capped before it is used: the parser
// holds at most one capped line plus the capped body, never loops on its own
// arithmetic and reports every violation as a typed error. Pure: no sockets,
// the caller feeds whatever recv() returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perfd::http {

struct HttpResponseLimits {
  // Largest OpenAPI document accepted (the fetcher's long-standing cap; a
  // FastAPI app with thousands of operations stays well below it).
  size_t max_body_bytes = 16u << 20;
  // Status line + header fields + the blank line. uvicorn sends ~150 bytes.
  size_t max_head_bytes = 64u << 10;
  size_t max_header_fields = 100;
  // One chunk-size line, extensions and CRLF included.
  size_t max_chunk_line_bytes = 1u << 10;
  // All trailer fields of a chunked body together, final CRLF included.
  size_t max_trailer_bytes = 8u << 10;
  // Bytes read off the wire until the response is complete: body plus
  // framing. Only a chunked body cut into tiny chunks comes near it.
  size_t max_total_bytes = 32u << 20;
};

enum class HttpResponseError {
  kNone,
  kMalformed,    // not HTTP/1.x syntax (status line, header field, chunk framing),
                 // or a declared length above INT64_MAX (no real size)
  kUnsupported,  // a transfer coding other than chunked / identity
  kTooLarge,     // a cap of HttpResponseLimits was exceeded
  kTruncated,    // the peer closed the connection before the response ended
};

const char* HttpResponseErrorName(HttpResponseError e);

struct HttpResponse {
  int status = 0;  // 0 until the status line was parsed
  std::string body;
  HttpResponseError error = HttpResponseError::kNone;
  std::string message;  // why, when error != kNone
};

class HttpResponseParser {
 public:
  enum class State { kIncomplete, kComplete, kFailed };

  explicit HttpResponseParser(HttpResponseLimits limits = {});

  // Consumes the next bytes of the stream. Bytes after a complete response
  // are ignored (the fetcher asks for Connection: close). After kComplete or
  // kFailed further calls change nothing.
  State Feed(std::string_view bytes);
  // The peer closed the connection: ends a body delimited by the close,
  // fails anything else that is still incomplete (kTruncated).
  State Finish();

  State state() const { return state_; }
  // The status line and header fields have been read: status() is final.
  bool head_complete() const { return phase_ > Phase::kHeaders; }
  int status() const { return result_.status; }
  const HttpResponse& result() const { return result_; }
  HttpResponse TakeResult() { return std::move(result_); }

  // Bytes held now (partial line + body), and the most ever held: both stay
  // within max_body_bytes plus the largest line cap.
  size_t buffered_bytes() const { return line_.size() + result_.body.size(); }
  size_t peak_buffered_bytes() const { return peak_buffered_; }

 private:
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBodyLength,      // Content-Length
    kBodyUntilClose,  // neither Content-Length nor chunked
    kChunkSize,
    kChunkData,
    kChunkDataEnd,  // the CRLF after a chunk's data
    kTrailers,
    kDone,
  };
  enum class LineStatus { kLine, kNeedMore, kTooLong };

  // Cuts one LF-terminated line (CR stripped) off *in, at most `budget` bytes
  // including its terminator; a partial line waits in line_.
  LineStatus TakeLine(std::string_view* in, size_t budget, std::string_view* line);
  void Step(std::string_view* in);
  void OnStatusLine(std::string_view line);
  void OnHeaderField(std::string_view line);
  void OnContentLength(std::string_view value);
  void OnTransferEncoding(std::string_view value);
  void OnHeadEnd();
  void OnChunkSizeLine(std::string_view line);
  void OnTrailerField(std::string_view line);
  void AppendBody(std::string_view* in, size_t n);
  void Complete();
  void Fail(HttpResponseError error, std::string message);
  void NotePeak();

  const HttpResponseLimits limits_;
  State state_ = State::kIncomplete;
  Phase phase_ = Phase::kStatusLine;
  HttpResponse result_;
  std::string line_;  // the unfinished line of a line phase
  size_t total_bytes_ = 0;
  size_t head_bytes_ = 0;  // complete head lines, terminators included
  size_t header_fields_ = 0;
  size_t trailer_bytes_ = 0;
  std::optional<uint64_t> content_length_;  // at most INT64_MAX
  bool chunked_ = false;
  uint64_t remaining_ = 0;  // of the Content-Length body or the current chunk
  size_t peak_buffered_ = 0;
};

}  // namespace perfd::http
