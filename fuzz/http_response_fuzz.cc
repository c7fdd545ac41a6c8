// HttpResponseParser (the OpenAPI fetcher's response framing, chunked
// decoding included) over any bytes, fed in pieces the fuzzer chooses, with
// small caps so every limit is reachable. Checks:
//  - splitting the stream differently never changes the result (status,
//    body, error kind): the parser is incremental, not piece-dependent;
//  - memory held stays within the body cap plus the largest line cap, and a
//    failed parse hands on no body;
//  - round trip: a body the fuzzer chooses, framed with Content-Length or
//    cut into chunks of fuzzer-chosen sizes (with extensions and trailers),
//    parses back to the same bytes whenever it is within the caps.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "daemon/pipeline/http_response.h"
#include "fuzz/check.h"

using perfd::http::HttpResponse;
using perfd::http::HttpResponseError;
using perfd::http::HttpResponseLimits;
using perfd::http::HttpResponseParser;
using State = HttpResponseParser::State;

namespace {

HttpResponseLimits ConsumeLimits(FuzzedDataProvider& in) {
  HttpResponseLimits l;
  l.max_body_bytes = in.ConsumeIntegralInRange<size_t>(0, 4096);
  l.max_head_bytes = in.ConsumeIntegralInRange<size_t>(1, 1024);
  l.max_header_fields = in.ConsumeIntegralInRange<size_t>(0, 16);
  l.max_chunk_line_bytes = in.ConsumeIntegralInRange<size_t>(1, 64);
  l.max_trailer_bytes = in.ConsumeIntegralInRange<size_t>(1, 256);
  l.max_total_bytes = in.ConsumeIntegralInRange<size_t>(1, 16384);
  return l;
}

// Feeds `wire` cut at `cuts` (sorted offsets), then Finish() if asked.
HttpResponse Parse(const HttpResponseLimits& limits, const std::string& wire,
                   const std::vector<size_t>& cuts, bool finish) {
  HttpResponseParser p(limits);
  size_t at = 0;
  for (size_t cut : cuts) {
    cut = std::min(cut, wire.size());
    if (cut < at) continue;
    p.Feed(std::string_view(wire).substr(at, cut - at));
    at = cut;
  }
  p.Feed(std::string_view(wire).substr(at));
  if (finish) p.Finish();
  const size_t line_cap = std::max(
      {limits.max_head_bytes, limits.max_chunk_line_bytes, limits.max_trailer_bytes, size_t{2}});
  FUZZ_CHECK(p.peak_buffered_bytes() <= limits.max_body_bytes + line_cap);
  HttpResponse r = p.TakeResult();
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes);
  if (p.state() == State::kFailed) {
    FUZZ_CHECK(r.error != HttpResponseError::kNone && !r.message.empty() && r.body.empty());
  } else {
    FUZZ_CHECK(r.error == HttpResponseError::kNone);
  }
  if (p.state() == State::kComplete) FUZZ_CHECK(r.status >= 100 && r.status <= 599);
  if (finish) FUZZ_CHECK(p.state() != State::kIncomplete);
  return r;
}

std::vector<size_t> ConsumeCuts(FuzzedDataProvider& in, size_t n) {
  std::vector<size_t> cuts(in.ConsumeIntegralInRange<size_t>(0, 8));
  for (size_t& c : cuts) c = in.ConsumeIntegralInRange<size_t>(0, n);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

void SameResult(const HttpResponse& a, const HttpResponse& b) {
  FUZZ_CHECK(a.status == b.status && a.error == b.error && a.body == b.body);
}

// Any bytes as a response, cut two ways.
void RawStream(FuzzedDataProvider& in) {
  const HttpResponseLimits limits = ConsumeLimits(in);
  const bool finish = in.ConsumeBool();
  const std::vector<size_t> cuts = ConsumeCuts(in, 4096);
  const std::string wire = in.ConsumeRemainingBytesAsString();
  const HttpResponse whole = Parse(limits, wire, {}, finish);
  SameResult(whole, Parse(limits, wire, cuts, finish));
  // One byte at a time: every line crosses a Feed boundary.
  std::vector<size_t> bytes(std::min<size_t>(wire.size(), 2048));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = i;
  SameResult(whole, Parse(limits, wire, bytes, finish));
}

// A well-formed response around a chosen body.
void RoundTrip(FuzzedDataProvider& in) {
  const HttpResponseLimits limits = ConsumeLimits(in);
  const bool chunked = in.ConsumeBool();
  const std::string body = in.ConsumeRandomLengthString(4096);
  std::string wire = "HTTP/1.1 200 OK\r\n";
  std::string extra;  // trailers and extensions, counted against the caps
  if (chunked) {
    wire += "Transfer-Encoding: chunked\r\n\r\n";
    size_t at = 0;
    while (at < body.size()) {
      const size_t n = std::min(body.size() - at, in.ConsumeIntegralInRange<size_t>(1, 300));
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, in.ConsumeBool() ? "%zx" : "%zX", n);
      wire += size_line;
      if (in.ConsumeBool()) wire += ";ext=1";
      wire += "\r\n" + body.substr(at, n) + "\r\n";
      at += n;
    }
    wire += "0\r\n";
    if (in.ConsumeBool()) wire += "x-trailer: 1\r\n";
    wire += "\r\n";
  } else {
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  const std::vector<size_t> cuts = ConsumeCuts(in, wire.size());
  const HttpResponse r = Parse(limits, wire, cuts, /*finish=*/false);
  if (r.error == HttpResponseError::kNone) {
    FUZZ_CHECK(r.status == 200 && r.body == body);
  } else {
    // Only a cap may stop a well-formed response.
    FUZZ_CHECK(r.error == HttpResponseError::kTooLarge);
  }
  // With default (large) caps it always parses.
  const HttpResponse big = Parse(HttpResponseLimits{}, wire, cuts, false);
  FUZZ_CHECK(big.error == HttpResponseError::kNone && big.body == body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) {
    RoundTrip(in);
  } else {
    RawStream(in);
  }
  return 0;
}
