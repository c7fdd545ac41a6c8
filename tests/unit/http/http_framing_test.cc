// The kernel's HTTP/1.x framing (bpf/http_framing.h) on the host: which line
// starts may leave the kernel, for streams split every way a socket splits
// them.
#include "bpf/http_framing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

constexpr size_t kScanMax = 512;  // PERFD_SCAN_MAX

// One connection as the kernel sees it: each read/write shows the first
// min(len, window) bytes of what it transferred.
class Framer {
 public:
  // Feeds one buffer; returns the stream offsets of the lines emitted.
  std::vector<uint64_t> Feed(bool write, const std::string& bytes, size_t window = kScanMax) {
    uint64_t& pos = write ? wpos_ : rpos_;
    std::vector<uint64_t> out;
    size_t n = std::min({bytes.size(), window, kScanMax});
    std::string buf(2 * kScanMax, '\xee');  // stale bytes past n
    std::copy(bytes.begin(), bytes.begin() + static_cast<long>(n), buf.begin());
    perfd_frame_ctx c{};
    c.n = static_cast<uint32_t>(n);
    int scan = perfd_frame_begin(&c, &fc_, write, bytes.size());
    if (scan)
      for (uint32_t w = 0; w < kScanMax / 8; ++w)
        if (perfd_frame_word(w, &c, reinterpret_cast<const perfd_frame_win*>(buf.data()))) break;
    losses_ += perfd_frame_end(&c, &fc_, scan, bytes.size());
    if (scan)
      for (int k = 0; k < c.nlines; ++k) out.push_back(pos + c.line_off[k]);
    pos += bytes.size();
    return out;
  }
  std::vector<uint64_t> Read(const std::string& b, size_t window = kScanMax) {
    return Feed(false, b, window);
  }
  std::vector<uint64_t> Write(const std::string& b, size_t window = kScanMax) {
    return Feed(true, b, window);
  }
  int losses() const { return losses_; }
  uint8_t read_mode() const { return fc_.rd.mode; }
  uint8_t write_mode() const { return fc_.wr.mode; }

 private:
  perfd_frame_conn fc_{};
  uint64_t rpos_ = 0, wpos_ = 0;
  int losses_ = 0;
};

using Offs = std::vector<uint64_t>;

const std::string kGet = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kFakeLines =
    "x\r\nGET /fake HTTP/1.1\r\n\r\nPOST /f HTTP/1.1\r\n\r\nHTTP/1.1 500 X\r\n";

std::string Post(const std::string& body) {
  return "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string Chunked(const std::vector<std::string>& chunks, const std::string& trailer = "") {
  std::string s = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  char hex[32];
  for (const auto& c : chunks) {
    snprintf(hex, sizeof hex, "%zx", c.size());
    s += std::string(hex) + "\r\n" + c + "\r\n";
  }
  return s + "0\r\n" + trailer + "\r\n";
}

TEST(HttpFraming, SimpleAndPipelinedRequests) {
  Framer f;
  EXPECT_EQ(f.Read(kGet), Offs{0});
  EXPECT_EQ(f.Read(kGet + kGet), (Offs{kGet.size(), 2 * kGet.size()}));
  EXPECT_EQ(f.losses(), 0);
  EXPECT_EQ(f.read_mode(), PERFD_FM_BOUNDARY);
}

TEST(HttpFraming, RequestLinesInsideALengthBodyStayInTheKernel) {
  Framer f;
  std::string post = Post(kFakeLines);
  EXPECT_EQ(f.Read(post + kGet), (Offs{0, post.size()}));
  EXPECT_EQ(f.losses(), 0);
}

TEST(HttpFraming, BodyReadSeparatelyThatStartsLikeARequest) {
  Framer f;
  std::string body = "GET /fake HTTP/1.1\r\n\r\n" + kFakeLines;
  std::string head = Post(body).substr(0, Post(body).size() - body.size());
  EXPECT_EQ(f.Read(head), Offs{0});
  EXPECT_EQ(f.Read(body.substr(0, 10)), Offs{});
  EXPECT_EQ(f.Read(body.substr(10)), Offs{});
  uint64_t at = head.size() + body.size();
  EXPECT_EQ(f.Read(kGet), Offs{at});
  EXPECT_EQ(f.losses(), 0);
}

TEST(HttpFraming, ChunkedBodyWithExtensionsAndTrailers) {
  Framer f;
  std::string c = Chunked({kFakeLines, "GET /x HTTP/1.1\r\n", std::string(40, 'z')}, "X-T: 1\r\n");
  c.insert(c.find("\r\n", c.find("\r\n\r\n") + 4), ";ext=GET /e HTTP/1.1");
  EXPECT_EQ(f.Read(c + kGet), (Offs{0, c.size()}));
  EXPECT_EQ(f.losses(), 0);
  EXPECT_EQ(f.read_mode(), PERFD_FM_BOUNDARY);
}

// Every way of cutting a stream into two reads gives the same lines.
TEST(HttpFraming, EverySplitPointGivesTheSameLines) {
  std::string post = Post(kFakeLines);
  std::string chunked = Chunked({kFakeLines, "abc"});
  std::string stream = kGet + post + chunked + kGet;
  Offs want = {0, kGet.size(), kGet.size() + post.size(),
               kGet.size() + post.size() + chunked.size()};
  ASSERT_LT(stream.size(), kScanMax);
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    Framer f;
    Offs got = f.Read(stream.substr(0, cut));
    Offs rest = f.Read(stream.substr(cut));
    got.insert(got.end(), rest.begin(), rest.end());
    // A read cut inside a start line's first 5 bytes cannot be recognised.
    bool in_start = false;
    for (uint64_t w : want) in_start |= cut > w && cut < w + 5;
    if (in_start) continue;
    EXPECT_EQ(got, want) << "cut at " << cut;
    EXPECT_EQ(f.losses(), 0) << "cut at " << cut;
  }
}

// Many messages cut into random reads (seeded): the same lines, no loss.
TEST(HttpFraming, RandomReadSizes) {
  std::vector<std::string> msgs = {
      kGet,     Post(kFakeLines),        Chunked({"a", kFakeLines, "b"}),
      Post(""), Chunked({}, "T: x\r\n"), Post(std::string(700, 'p'))};
  std::string stream;
  Offs want;
  for (int k = 0; k < 60; ++k) {
    want.push_back(stream.size());
    stream += msgs[(k * 7 + k / 3) % msgs.size()];
  }
  uint32_t seed = 12345;
  for (int round = 0; round < 200; ++round) {
    Framer f;
    Offs got;
    size_t i = 0;
    while (i < stream.size()) {
      seed = seed * 1103515245 + 12345;
      size_t len = 1 + (seed >> 8) % 300;
      // Never cut inside a start line's first 5 bytes (unrecognisable).
      for (uint64_t w : want)
        if (i + len > w && i + len < w + 5) len = w + 5 - i;
      len = std::min(len, stream.size() - i);
      // At most PERFD_MAX_LINES starts per read (more are dropped, flagged).
      size_t starts = 0;
      for (uint64_t w : want)
        if (w >= i && w < i + len && ++starts > PERFD_FRAME_MAX_LINES) len = w - i;
      Offs o = f.Read(stream.substr(i, len));
      got.insert(got.end(), o.begin(), o.end());
      i += len;
    }
    ASSERT_EQ(got, want) << "round " << round;
    ASSERT_EQ(f.losses(), 0) << "round " << round;
  }
}

TEST(HttpFraming, EveryByteInItsOwnRead) {
  std::string stream = Post("GET /fake HTTP/1.1\r\n") + Chunked({"HTTP/1.1 200 OK\r\n"}) + kGet;
  Framer f;
  Offs got;
  // Start lines need their first 5 bytes together: feed those whole.
  size_t i = 0;
  Offs starts = {0, Post("GET /fake HTTP/1.1\r\n").size(),
                 Post("GET /fake HTTP/1.1\r\n").size() + Chunked({"HTTP/1.1 200 OK\r\n"}).size()};
  while (i < stream.size()) {
    size_t len = std::find(starts.begin(), starts.end(), i) != starts.end() ? 5 : 1;
    Offs o = f.Read(stream.substr(i, len));
    got.insert(got.end(), o.begin(), o.end());
    i += len;
  }
  EXPECT_EQ(got, starts);
  EXPECT_EQ(f.losses(), 0);
}

TEST(HttpFraming, ResponsesWithLengthChunkedAndNoBody) {
  Framer f;
  f.Read(kGet + "HEAD /h HTTP/1.1\r\n\r\n" + kGet + kGet);
  std::string r1 = "HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\nHTTP/1.1 500 X\r\n\n";
  std::string r2 = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";  // HEAD: no body
  std::string r3 =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
  std::string r4h = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  EXPECT_EQ(f.Write(r1), Offs{0});
  EXPECT_EQ(f.Write(r2), Offs{r1.size()});
  uint64_t at = r1.size() + r2.size();
  EXPECT_EQ(f.Write(r3), (Offs{at, at + 25}));
  at += r3.size();
  EXPECT_EQ(f.Write(r4h), Offs{at});
  // uvicorn writes each chunk, then the terminator, separately.
  EXPECT_EQ(f.Write("f\r\nHTTP/1.1 200 \r\n\r\n"), Offs{});
  EXPECT_EQ(f.Write("0\r\n\r\n"), Offs{});
  EXPECT_EQ(f.write_mode(), PERFD_FM_BOUNDARY);
  EXPECT_EQ(f.losses(), 0);
}

TEST(HttpFraming, BodyWrittenSeparatelyThatStartsLikeAStatusLine) {
  Framer f;
  f.Read(kGet + kGet);
  std::string h = "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n";
  EXPECT_EQ(f.Write(h), Offs{0});
  EXPECT_EQ(f.Write("HTTP/1.1 404 Nope\r\n"), Offs{});
  EXPECT_EQ(f.Write(h), Offs{h.size() + 19});
}

TEST(HttpFraming, HeadersPastTheWindowLoseUntilTheServerAnswers) {
  Framer f;
  std::string big = "GET /big HTTP/1.1\r\nCookie: " + std::string(600, 'c') + "\r\n\r\n";
  EXPECT_EQ(f.Read(big), Offs{0});
  EXPECT_EQ(f.read_mode(), PERFD_FM_LOST);
  EXPECT_EQ(f.losses(), 1);
  // Nothing may be trusted before the response: a body could follow.
  EXPECT_EQ(f.Read(kGet), Offs{});
  EXPECT_EQ(f.Write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), Offs{0});
  EXPECT_EQ(f.Read("rest of a body"), Offs{});  // a failed resync keeps the permission
  uint64_t at = big.size() + kGet.size() + 14;
  EXPECT_EQ(f.Read(kGet), Offs{at});
  EXPECT_EQ(f.read_mode(), PERFD_FM_BOUNDARY);
  EXPECT_EQ(f.losses(), 1);
}

TEST(HttpFraming, BodyPastTheWindowIsSkippedByCount) {
  Framer f;
  std::string post = Post(std::string(5000, 'b') + "GET /x HTTP/1.1\r\n");
  EXPECT_EQ(f.Read(post.substr(0, 3000)), Offs{0});
  EXPECT_EQ(f.Read(post.substr(3000)), Offs{});
  EXPECT_EQ(f.Read(kGet), Offs{post.size()});
  EXPECT_EQ(f.losses(), 0);
}

TEST(HttpFraming, FirstIovecShorterThanTheWrite) {
  Framer f;
  f.Read(kGet + kGet);
  std::string h = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
  // writev([headers, body]): only the headers' iovec is seen.
  EXPECT_EQ(f.Write(h + "body", h.size()), Offs{0});
  EXPECT_EQ(f.write_mode(), PERFD_FM_BOUNDARY);
  // writev([headers, body, next headers]): a start in unseen bytes.
  EXPECT_EQ(f.Write(h + "body" + h + "body", h.size()), Offs{h.size() + 4});
  EXPECT_EQ(f.write_mode(), PERFD_FM_LOST);
}

TEST(HttpFraming, MalformedFramingIsLost) {
  for (const std::string& bad :
       {std::string("POST /p HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
        std::string("POST /p HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"),
        std::string("POST /p HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n"),
        std::string("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        std::string("garbage\r\n\r\n")}) {
    Framer f;
    f.Read(bad);
    EXPECT_EQ(f.read_mode(), PERFD_FM_LOST) << bad;
    EXPECT_EQ(f.losses(), 1) << bad;
    EXPECT_EQ(f.Read(kGet), Offs{}) << bad;
  }
}

TEST(HttpFraming, BareLineFeedsAndLowerCaseNames) {
  Framer f;
  std::string s = "POST /p HTTP/1.1\ncontent-length:  3\n\nabcGET /n HTTP/1.1\n\n";
  EXPECT_EQ(f.Read(s), (Offs{0, 40}));
}

TEST(HttpFraming, UpgradeStopsTheWriteSide) {
  Framer f;
  f.Read("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(f.Write("HTTP/1.1 101 Switching Protocols\r\n\r\n"), Offs{0});
  EXPECT_EQ(f.write_mode(), PERFD_FM_LOST);
  EXPECT_EQ(f.Read("\x81\x85mask"), Offs{});
}

}  // namespace
