// HttpResponseParser against well-formed responses shaped like uvicorn's
// (lower-case field names, Content-Length from JSONResponse, chunked from a
// streaming response) and against hostile bytes: every hostile case must end
// in a typed error after a bounded number of bytes, holding bounded memory.
#include "daemon/pipeline/http_response.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace perfd::http {
namespace {

using State = HttpResponseParser::State;

constexpr const char* kDoc = R"({"openapi":"3.1.0","paths":{"/items/{item_id}":{}}})";

std::string UvicornContentLength(const std::string& body) {
  return "HTTP/1.1 200 OK\r\n"
         "date: Tue, 04 Jun 2024 10:00:00 GMT\r\n"
         "server: uvicorn\r\n"
         "content-length: " +
         std::to_string(body.size()) +
         "\r\n"
         "content-type: application/json\r\n"
         "\r\n" +
         body;
}

std::string Hex(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%zx", n);
  return buf;
}

// The document in three chunks: one plain, one with an extension, one with
// a zero-padded size; then a trailer field.
std::string UvicornChunked() {
  const std::string doc = kDoc;
  const std::string a = doc.substr(0, 13), b = doc.substr(13, 25), c = doc.substr(38);
  return "HTTP/1.1 200 OK\r\n"
         "date: Tue, 04 Jun 2024 10:00:00 GMT\r\n"
         "server: uvicorn\r\n"
         "content-type: application/json\r\n"
         "transfer-encoding: chunked\r\n"
         "\r\n" +
         Hex(a.size()) + "\r\n" + a + "\r\n" +             //
         Hex(b.size()) + ";name=value\r\n" + b + "\r\n" +  //
         "00000000000" + Hex(c.size()) + "\r\n" + c + "\r\n" +
         "0\r\n"
         "x-checksum: 1\r\n"
         "\r\n";
}

// Most bytes the parser may ever hold with these limits.
size_t BufferBound(const HttpResponseLimits& l) {
  return l.max_body_bytes +
         std::max({l.max_head_bytes, l.max_chunk_line_bytes, l.max_trailer_bytes});
}

HttpResponse ParseAll(std::string_view bytes, HttpResponseLimits limits = {}) {
  HttpResponseParser p(limits);
  p.Feed(bytes);
  p.Finish();
  EXPECT_LE(p.peak_buffered_bytes(), BufferBound(limits));
  return p.TakeResult();
}

// Feeds `head` and then `block` over and over, as a hostile peer that never
// stops sending would. Returns the bytes fed until the parser gave up;
// gives up itself after `max_bytes` (the test then fails).
size_t FeedForever(HttpResponseParser* p, const std::string& head, const std::string& block,
                   size_t max_bytes = size_t{1} << 30) {
  size_t fed = head.size();
  if (p->Feed(head) != State::kIncomplete) return fed;
  while (fed < max_bytes) {
    fed += block.size();
    if (p->Feed(block) != State::kIncomplete) return fed;
  }
  ADD_FAILURE() << "parser still incomplete after " << fed << " bytes";
  return fed;
}

HttpResponseLimits SmallLimits() {
  HttpResponseLimits l;
  l.max_body_bytes = 64 << 10;
  l.max_head_bytes = 4 << 10;
  l.max_header_fields = 20;
  l.max_chunk_line_bytes = 64;
  l.max_trailer_bytes = 256;
  l.max_total_bytes = 128 << 10;
  return l;
}

// --- Valid responses ---------------------------------------------------

TEST(HttpResponseTest, ContentLength) {
  HttpResponse r = ParseAll(UvicornContentLength(kDoc));
  EXPECT_EQ(r.error, HttpResponseError::kNone) << r.message;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kDoc);
}

TEST(HttpResponseTest, ContentLengthCompleteWithoutClose) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed(UvicornContentLength(kDoc)), State::kComplete);
  EXPECT_EQ(p.result().body, kDoc);
}

TEST(HttpResponseTest, ChunkedAtEveryByteBoundary) {
  const std::string wire = UvicornChunked();
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    HttpResponseParser p;
    p.Feed(std::string_view(wire).substr(0, cut));
    EXPECT_EQ(p.Feed(std::string_view(wire).substr(cut)), State::kComplete) << "cut at " << cut;
    EXPECT_EQ(p.result().body, kDoc) << "cut at " << cut;
  }
}

TEST(HttpResponseTest, ChunkedOneByteAtATime) {
  const std::string wire = UvicornChunked();
  HttpResponseParser p;
  for (size_t i = 0; i < wire.size(); ++i) {
    ASSERT_EQ(p.Feed(std::string_view(wire).substr(i, 1)),
              i + 1 == wire.size() ? State::kComplete : State::kIncomplete)
        << "byte " << i << ": " << p.result().message;
  }
  EXPECT_EQ(p.result().status, 200);
  EXPECT_EQ(p.result().body, kDoc);
}

TEST(HttpResponseTest, ContentLengthOneByteAtATime) {
  const std::string wire = UvicornContentLength(kDoc);
  HttpResponseParser p;
  for (char c : wire) p.Feed(std::string_view(&c, 1));
  EXPECT_EQ(p.state(), State::kComplete);
  EXPECT_EQ(p.result().body, kDoc);
}

TEST(HttpResponseTest, StatusLineWithoutReason) {
  HttpResponse r = ParseAll("HTTP/1.1 200\r\ncontent-length: 2\r\n\r\n{}");
  EXPECT_EQ(r.error, HttpResponseError::kNone) << r.message;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
}

TEST(HttpResponseTest, BodyDelimitedByClose) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.0 200 OK\r\n\r\n{\"paths\":"), State::kIncomplete);
  EXPECT_EQ(p.Feed("{}}"), State::kIncomplete);
  EXPECT_EQ(p.Finish(), State::kComplete);
  EXPECT_EQ(p.result().body, "{\"paths\":{}}");
}

TEST(HttpResponseTest, NonOkStatusKeepsStatusAndBody) {
  HttpResponseParser p;
  p.Feed("HTTP/1.1 404 Not Found\r\ncontent-length: 22\r\n\r\n");
  EXPECT_TRUE(p.head_complete());
  EXPECT_EQ(p.status(), 404);
  EXPECT_EQ(p.Feed(R"({"detail":"Not Found"})"), State::kComplete);
  EXPECT_EQ(p.result().body, R"({"detail":"Not Found"})");
}

TEST(HttpResponseTest, NoBodyStatusesIgnoreFraming) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.1 204 No Content\r\ncontent-length: 99\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.result().body, "");
}

TEST(HttpResponseTest, BareLineFeedsAndCaseInsensitiveNames) {
  HttpResponse r = ParseAll("HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n2\n{}\n0\n\n");
  EXPECT_EQ(r.error, HttpResponseError::kNone) << r.message;
  EXPECT_EQ(r.body, "{}");
}

TEST(HttpResponseTest, IdentityCodingAndRepeatedEqualContentLength) {
  HttpResponse r = ParseAll(
      "HTTP/1.1 200 OK\r\ntransfer-encoding: identity\r\ncontent-length: 2\r\n"
      "content-length: 2\r\n\r\n{}");
  EXPECT_EQ(r.error, HttpResponseError::kNone) << r.message;
  EXPECT_EQ(r.body, "{}");
}

TEST(HttpResponseTest, BytesAfterTheResponseAreIgnored) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed(UvicornContentLength("{}") + "HTTP/1.1 200 OK\r\n"), State::kComplete);
  EXPECT_EQ(p.Feed("garbage"), State::kComplete);
  EXPECT_EQ(p.result().body, "{}");
}

// --- Chunk sizes -------------------------------------------------------

const std::string kChunkedHead = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

TEST(HttpResponseTest, WrappingChunkSizeFailsAtOnce) {
  // The bytes that took the old decoder from 50 MiB to 3.9 GiB: a size that
  // wraps position arithmetic, followed by an endless stream.
  HttpResponseParser p;
  size_t fed = FeedForever(&p, kChunkedHead + "ffffffffffffffec\r\n", std::string(16384, 'A'));
  EXPECT_EQ(p.state(), State::kFailed);
  EXPECT_EQ(p.result().error, HttpResponseError::kMalformed) << p.result().message;
  EXPECT_EQ(fed, kChunkedHead.size() + 18);
  EXPECT_LE(p.peak_buffered_bytes(), 64u << 10);
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(HttpResponseTest, ChunkSizeAfterValidChunksStillChecked) {
  HttpResponse r =
      ParseAll(kChunkedHead + "2\r\n{}\r\nffffffffffffffec\r\n" + std::string(4096, 'A'));
  EXPECT_EQ(r.error, HttpResponseError::kMalformed) << r.message;
}

TEST(HttpResponseTest, SeventeenHexDigits) {
  for (const char* size : {"10000000000000000", "00000000000000001", "fffffffffffffffff",
                           "123456789abcdef0123456789"}) {
    HttpResponse r = ParseAll(kChunkedHead + size + "\r\n{}\r\n0\r\n\r\n");
    EXPECT_EQ(r.error, HttpResponseError::kMalformed) << size << ": " << r.message;
  }
}

TEST(HttpResponseTest, ChunkSizeAboveInt64IsMalformed) {
  HttpResponse r = ParseAll(kChunkedHead + "8000000000000000\r\n");
  EXPECT_EQ(r.error, HttpResponseError::kMalformed) << r.message;
}

TEST(HttpResponseTest, ChunkLargerThanTheBodyCap) {
  HttpResponseLimits l = SmallLimits();
  HttpResponseParser p(l);
  // 64 KiB + 1: over the cap before a byte of it is read.
  size_t fed = FeedForever(&p, kChunkedHead + "10001\r\n", std::string(4096, 'A'));
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_EQ(fed, kChunkedHead.size() + 7);
  // And at the default cap (16 MiB) with a plausible size.
  HttpResponse r = ParseAll(kChunkedHead + "1000001\r\n");
  EXPECT_EQ(r.error, HttpResponseError::kTooLarge) << r.message;
}

TEST(HttpResponseTest, ChunksAddingUpOverTheBodyCap) {
  HttpResponseLimits l = SmallLimits();
  HttpResponseParser p(l);
  const std::string chunk = "8000\r\n" + std::string(0x8000, 'x') + "\r\n";  // 32 KiB each
  size_t fed = FeedForever(&p, kChunkedHead, chunk);
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, kChunkedHead.size() + 3 * chunk.size());
  EXPECT_LE(p.peak_buffered_bytes(), l.max_body_bytes);
}

TEST(HttpResponseTest, ChunkFramingErrors) {
  for (const char* bad : {"\r\n",                          // no size
                          "zz\r\n",                        // not hex
                          "-1\r\n",                        // sign
                          "2 x\r\n{}\r\n0\r\n\r\n",        // junk after the size
                          "2\r\n{}XX0\r\n\r\n",            // data not followed by CRLF
                          "2;ext\x01\r\n{}\r\n0\r\n\r\n",  // control byte in an extension
                          "0\r\nno-colon\r\n\r\n"}) {      // broken trailer
    HttpResponse r = ParseAll(kChunkedHead + bad);
    EXPECT_EQ(r.error, HttpResponseError::kMalformed) << bad << " → " << r.message;
  }
}

TEST(HttpResponseTest, EndlessChunkExtension) {
  HttpResponseLimits l = SmallLimits();
  HttpResponseParser p(l);
  size_t fed = FeedForever(&p, kChunkedHead + "2;", std::string(100, 'e'));
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, kChunkedHead.size() + l.max_chunk_line_bytes + 100);
}

TEST(HttpResponseTest, EndlessTrailers) {
  HttpResponseLimits l = SmallLimits();
  HttpResponseParser p(l);
  size_t fed = FeedForever(&p, kChunkedHead + "2\r\n{}\r\n0\r\n", "x-t: 1\r\n");
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, kChunkedHead.size() + 12 + l.max_trailer_bytes + 8);
}

TEST(HttpResponseTest, TinyChunksHitTheTotalCap) {
  HttpResponseLimits l = SmallLimits();
  l.max_total_bytes = 16 << 10;
  HttpResponseParser p(l);
  size_t fed = FeedForever(&p, kChunkedHead, "1;pad-pad-pad-pad\r\nx\r\n");
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, l.max_total_bytes + 64);
}

// --- Header block ------------------------------------------------------

TEST(HttpResponseTest, HeaderBlockWithoutEnd) {
  HttpResponseParser p;
  size_t fed = FeedForever(&p, "HTTP/1.1 200 OK\r\nx-a: ", std::string(4096, 'a'));
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, (64u << 10) + 4096);
  EXPECT_LE(p.peak_buffered_bytes(), 64u << 10);
}

TEST(HttpResponseTest, StatusLineWithoutEnd) {
  HttpResponseParser p;
  size_t fed = FeedForever(&p, "HTTP/1.1 200 ", std::string(4096, 'O'));
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, (64u << 10) + 4096);
}

TEST(HttpResponseTest, HundredThousandTinyHeaders) {
  std::string wire = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 100000; ++i) wire += "a:b\r\n";
  wire += "content-length: 2\r\n\r\n{}";
  HttpResponseParser p;
  EXPECT_EQ(p.Feed(wire), State::kFailed);
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(p.peak_buffered_bytes(), 64u << 10);

  // Without the field count cap the header block size cap still ends it.
  HttpResponseLimits l;
  l.max_header_fields = 1000000;
  HttpResponseParser q(l);
  EXPECT_EQ(q.Feed(wire), State::kFailed);
  EXPECT_EQ(q.result().error, HttpResponseError::kTooLarge) << q.result().message;
}

TEST(HttpResponseTest, MalformedStatusLines) {
  for (const char* bad : {"HTTP/2 200 OK\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n",
                          "HTTP/1.1 999 Nope\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
                          "\x16\x03\x01\x02\xfc\r\n", "SSH-2.0-OpenSSH_9.6\r\n"}) {
    HttpResponse r = ParseAll(bad);
    EXPECT_EQ(r.error, HttpResponseError::kMalformed) << bad << " → " << r.message;
  }
}

TEST(HttpResponseTest, MalformedHeaderFields) {
  for (const char* bad : {"no colon here\r\n", ": empty-name\r\n", "bad name: 1\r\n",
                          " folded: 1\r\n", "x-a: a\rb\r\n", "x-a: nul\x01\r\n"}) {
    HttpResponse r = ParseAll(std::string("HTTP/1.1 200 OK\r\n") + bad + "\r\n");
    EXPECT_EQ(r.error, HttpResponseError::kMalformed) << bad << " → " << r.message;
  }
}

// --- Content-Length and Transfer-Encoding ------------------------------

TEST(HttpResponseTest, BadContentLength) {
  for (const char* bad : {"-1", "12abc", "", "1 2", "0x10", "+5", "1,1", "99999999999999999999",
                          "9223372036854775808"}) {
    HttpResponse r =
        ParseAll(std::string("HTTP/1.1 200 OK\r\ncontent-length: ") + bad + "\r\n\r\n{}");
    EXPECT_EQ(r.error, HttpResponseError::kMalformed) << "'" << bad << "' → " << r.message;
  }
  HttpResponse r = ParseAll("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}");
  EXPECT_EQ(r.error, HttpResponseError::kMalformed) << r.message;
}

TEST(HttpResponseTest, ContentLengthOverTheCap) {
  // Rejected at the end of the head: no byte of the body is buffered.
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\ncontent-length: 9223372036854775807\r\n\r\n"),
            State::kFailed);
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;

  HttpResponse r = ParseAll("HTTP/1.1 200 OK\r\ncontent-length: 16777217\r\n\r\n");
  EXPECT_EQ(r.error, HttpResponseError::kTooLarge) << r.message;
  r = ParseAll("HTTP/1.1 200 OK\r\ncontent-length: 16777216\r\n\r\n");  // at the cap: truncated
  EXPECT_EQ(r.error, HttpResponseError::kTruncated) << r.message;
}

TEST(HttpResponseTest, BodyUntilCloseOverTheCap) {
  HttpResponseLimits l = SmallLimits();
  HttpResponseParser p(l);
  size_t fed = FeedForever(&p, "HTTP/1.1 200 OK\r\n\r\n", std::string(4096, 'b'));
  EXPECT_EQ(p.result().error, HttpResponseError::kTooLarge) << p.result().message;
  EXPECT_LE(fed, l.max_body_bytes + 4096 + 32);
  EXPECT_LE(p.peak_buffered_bytes(), l.max_body_bytes);
}

TEST(HttpResponseTest, UnsupportedTransferCodings) {
  for (const char* te : {"gzip", "gzip, chunked", "chunked;q=1", "x-custom"}) {
    HttpResponse r = ParseAll(std::string("HTTP/1.1 200 OK\r\ntransfer-encoding: ") + te +
                              "\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    EXPECT_EQ(r.error, HttpResponseError::kUnsupported) << te << " → " << r.message;
  }
  for (const char* te : {"chunked, chunked", "chunked, identity"}) {
    HttpResponse r = ParseAll(std::string("HTTP/1.1 200 OK\r\ntransfer-encoding: ") + te +
                              "\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    EXPECT_EQ(r.error, HttpResponseError::kMalformed) << te << " → " << r.message;
  }
}

TEST(HttpResponseTest, ChunkedWithContentLength) {
  HttpResponse r = ParseAll(
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\n{}\r\n0\r\n"
      "\r\n");
  EXPECT_EQ(r.error, HttpResponseError::kMalformed) << r.message;
}

// --- Truncation --------------------------------------------------------

TEST(HttpResponseTest, TruncatedStreams) {
  const std::string full = UvicornContentLength(kDoc);
  const std::string chunked = UvicornChunked();
  for (const std::string& wire :
       {std::string(), full.substr(0, 10), full.substr(0, 40), full.substr(0, full.size() - 1),
        chunked.substr(0, chunked.size() - 2), chunked.substr(0, chunked.size() / 2)}) {
    HttpResponseParser p;
    p.Feed(wire);
    EXPECT_EQ(p.Finish(), State::kFailed) << wire;
    EXPECT_EQ(p.result().error, HttpResponseError::kTruncated) << wire;
    EXPECT_TRUE(p.result().body.empty());
  }
}

TEST(HttpResponseTest, FailedParserStaysFailed) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("nonsense\r\n"), State::kFailed);
  EXPECT_EQ(p.Feed(UvicornContentLength(kDoc)), State::kFailed);
  EXPECT_EQ(p.Finish(), State::kFailed);
  EXPECT_STREQ(HttpResponseErrorName(p.result().error), "malformed");
}

}  // namespace
}  // namespace perfd::http
