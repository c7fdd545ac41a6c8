// Loads bpf/http_trace.bpf.c into the running kernel, tracks this test
// process, drives real sockets and checks the events that come back.
#include "daemon/loader/http_probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace perfd {
namespace {

struct Event {
  perfd_http_event_header h;
  std::vector<std::string> lines;
  std::string raw;  // every byte of the record's lines area
};

class HttpProbesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;  // each test skips
    try {
      probes_ = HttpProbes::Open().release();
    } catch (const LoaderError& e) {
      open_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete probes_;
    probes_ = nullptr;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_NE(probes_, nullptr) << open_error_;
    Drain();
    probes_->TrackPid(getpid());
  }
  void TearDown() override {
    if (probes_) probes_->UntrackPid(getpid());
  }

  // Collects this process's events until none arrive for 100 ms.
  std::vector<Event> Drain() {
    std::vector<Event> out;
    HttpProbes::EventFn fn = [&](const perfd_http_event_header& h,
                                 const char(*lines)[PERFD_LINE_MAX]) {
      if (h.tgid != static_cast<uint32_t>(getpid())) return;
      Event e{h, {}, {}};
      if (lines) {
        for (int i = 0; i < h.nlines; ++i) e.lines.emplace_back(lines[i], h.line_len[i]);
        e.raw.assign(lines[0], PERFD_MAX_LINES * PERFD_LINE_MAX);
      }
      out.push_back(std::move(e));
    };
    while (probes_->Poll(100, fn) > 0) {
    }
    return out;
  }

  // A connected TCP pair: {client, accepted server fd}.
  std::pair<int, int> TcpPair() {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(ls, 8), 0);
    socklen_t len = sizeof(a);
    getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    int s = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    close(ls);
    return {c, s};
  }

  static std::vector<Event> OfKind(const std::vector<Event>& evs, int kind, int fd) {
    std::vector<Event> out;
    for (const auto& e : evs)
      if (e.h.kind == kind && e.h.fd == fd) out.push_back(e);
    return out;
  }

  static HttpProbes* probes_;
  static std::string open_error_;
};
HttpProbes* HttpProbesTest::probes_ = nullptr;
std::string HttpProbesTest::open_error_;

void SendAll(int fd, const std::string& s) {
  ASSERT_EQ(send(fd, s.data(), s.size(), 0), (ssize_t)s.size());
}

TEST_F(HttpProbesTest, AcceptReadWriteCloseOverTcp) {
  auto [c, s] = TcpPair();
  SendAll(c,
          "GET /users/42?token=SECRET HTTP/1.1\r\nAuthorization: Bearer SECRET2\r\nCookie: "
          "s=SECRET3\r\n\r\n");
  char buf[4096];
  ssize_t n = read(s, buf, sizeof(buf));
  ASSERT_GT(n, 0);
  std::string resp = "HTTP/1.1 200 OK\r\nset-cookie: s=SECRET4\r\ncontent-length: 2\r\n\r\nok";
  ASSERT_EQ(write(s, resp.data(), resp.size()), (ssize_t)resp.size());
  close(s);
  close(c);
  auto evs = Drain();

  auto accepts = OfKind(evs, PERFD_EV_ACCEPT, s);
  auto reads = OfKind(evs, PERFD_EV_READ, s);
  auto writes = OfKind(evs, PERFD_EV_WRITE, s);
  auto closes = OfKind(evs, PERFD_EV_CLOSE, s);
  ASSERT_EQ(accepts.size(), 1u);
  ASSERT_EQ(reads.size(), 1u);
  ASSERT_EQ(writes.size(), 1u);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(reads[0].h.ret, n);
  ASSERT_EQ(reads[0].lines.size(), 1u);
  EXPECT_EQ(reads[0].lines[0], "GET /users/42");  // cut at '?'
  EXPECT_TRUE(reads[0].h.line_flags[0] & PERFD_LINE_QUERY_CUT);
  ASSERT_EQ(writes[0].lines.size(), 1u);
  EXPECT_EQ(writes[0].lines[0], "HTTP/1.1 200 OK");
  EXPECT_EQ(writes[0].h.ret, (int64_t)resp.size());
  // One connection id throughout, and time moves forward.
  EXPECT_EQ(reads[0].h.conn_id, accepts[0].h.conn_id);
  EXPECT_EQ(closes[0].h.conn_id, accepts[0].h.conn_id);
  EXPECT_LE(reads[0].h.ts_ns, writes[0].h.ts_ns);
  // Nothing secret left the kernel, not even in unused line bytes.
  for (const auto& e : evs)
    EXPECT_EQ(e.raw.find("SECRET"), std::string::npos) << "leaked: " << e.raw;
}

TEST_F(HttpProbesTest, PipelinedRequestLinesInOneRead) {
  auto [c, s] = TcpPair();
  SendAll(c,
          "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
          "DELETE /c/9 HTTP/1.1\r\n\r\n");
  usleep(20000);
  char buf[4096];
  ASSERT_GT(recv(s, buf, sizeof(buf), 0), 0);
  close(s);
  close(c);
  auto reads = OfKind(Drain(), PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 1u);
  // The kernel follows Content-Length: the request glued to the body
  // ("abcDELETE") is found where the body ends.
  ASSERT_EQ(reads[0].lines.size(), 3u);
  EXPECT_EQ(reads[0].lines[0], "GET /a HTTP/1.1");
  EXPECT_EQ(reads[0].lines[1], "POST /b HTTP/1.1");
  EXPECT_EQ(reads[0].lines[2], "DELETE /c/9 HTTP/1.1");
}

// Request and status lines inside bodies are body bytes: they never leave the
// kernel, whether they follow a LF in the body or start a read or write.
TEST_F(HttpProbesTest, LinesInsideBodiesStayInTheKernel) {
  auto [c, s] = TcpPair();
  std::string fake = "x\r\nGET /fake HTTP/1.1\r\n\r\nHTTP/1.1 500 X\r\n";
  std::string second = "PUT /fake2 HTTP/1.1\r\n\r\n";
  SendAll(c, "POST /up HTTP/1.1\r\nContent-Length: " + std::to_string(fake.size() + second.size()) +
                 "\r\n\r\n" + fake);
  char buf[4096];
  usleep(20000);
  ASSERT_GT(recv(s, buf, sizeof(buf), 0), 0);
  SendAll(c, second);  // the rest of the body, in its own read
  usleep(20000);
  ASSERT_GT(recv(s, buf, sizeof(buf), 0), 0);
  std::string body = "HTTP/1.1 200 OK\r\n\r\n";
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(send(s, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(send(s, body.data(), body.size(), 0), static_cast<ssize_t>(body.size()));
  SendAll(c, "GET /next HTTP/1.1\r\n\r\n");
  usleep(20000);
  ASSERT_GT(recv(s, buf, sizeof(buf), 0), 0);
  close(s);
  close(c);
  auto evs = Drain();
  std::vector<std::string> reads, writes;
  for (const auto& e : OfKind(evs, PERFD_EV_READ, s))
    reads.insert(reads.end(), e.lines.begin(), e.lines.end());
  for (const auto& e : OfKind(evs, PERFD_EV_WRITE, s))
    writes.insert(writes.end(), e.lines.begin(), e.lines.end());
  EXPECT_EQ(reads, (std::vector<std::string>{"POST /up HTTP/1.1", "GET /next HTTP/1.1"}));
  EXPECT_EQ(writes, (std::vector<std::string>{"HTTP/1.1 200 OK"}));
}

TEST_F(HttpProbesTest, VectoredAndMsgSyscalls) {
  auto [c, s] = TcpPair();
  SendAll(c, "PUT /v HTTP/1.1\r\n\r\n");
  char b1[8], b2[256];
  iovec riov[2] = {{b1, sizeof(b1)}, {b2, sizeof(b2)}};
  ASSERT_GT(readv(s, riov, 2), 0);
  std::string h = "HTTP/1.1 201 Created\r\n\r\n";
  iovec wiov[1] = {{h.data(), h.size()}};
  ASSERT_GT(writev(s, wiov, 1), 0);
  msghdr m{};
  std::string h2 = "HTTP/1.1 404 Not Found\r\n\r\n";
  iovec miov[1] = {{h2.data(), h2.size()}};
  m.msg_iov = miov;
  m.msg_iovlen = 1;
  ASSERT_GT(sendmsg(s, &m, 0), 0);
  close(s);
  close(c);
  auto evs = Drain();
  auto reads = OfKind(evs, PERFD_EV_READ, s);
  auto writes = OfKind(evs, PERFD_EV_WRITE, s);
  ASSERT_EQ(reads.size(), 1u);
  ASSERT_EQ(reads[0].lines.size(), 1u);
  // Only the first iovec is read, and never past its 8 bytes.
  EXPECT_EQ(reads[0].lines[0], "PUT /v H");
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[0].lines.at(0), "HTTP/1.1 201 Created");
  EXPECT_EQ(writes[1].lines.at(0), "HTTP/1.1 404 Not Found");
}

TEST_F(HttpProbesTest, BodyReadsCarryNoLines) {
  auto [c, s] = TcpPair();
  SendAll(c, "POST /upload HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
  char buf[256];
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  SendAll(c, "password=1");
  ASSERT_EQ(read(s, buf, sizeof(buf)), 10);
  close(s);
  close(c);
  auto reads = OfKind(Drain(), PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].lines.size(), 1u);
  EXPECT_EQ(reads[1].lines.size(), 0u);
  EXPECT_EQ(reads[1].h.ret, 10);
}

TEST_F(HttpProbesTest, AdoptsConnectionsAcceptedBeforeTracking) {
  probes_->UntrackPid(getpid());
  auto [c, s] = TcpPair();  // accepted while untracked
  probes_->TrackPid(getpid());
  SendAll(c, "GET /old HTTP/1.1\r\n\r\n");
  char buf[256];
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  close(s);
  close(c);
  auto evs = Drain();
  auto reads = OfKind(evs, PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_TRUE(reads[0].h.flags & PERFD_F_ADOPTED);
  EXPECT_EQ(reads[0].h.arrival_ns, 0u);  // unknown: the socket was not registered
  EXPECT_EQ(reads[0].lines.at(0), "GET /old HTTP/1.1");
  EXPECT_EQ(OfKind(evs, PERFD_EV_CLOSE, s).size(), 1u);
}

TEST_F(HttpProbesTest, FilesThatLookLikeRequestsAreNotAdopted) {
  char path[] = "/tmp/perfd_bpf_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content = "GET /not-a-socket HTTP/1.1\r\n\r\n";
  ASSERT_EQ(write(fd, content.data(), content.size()), (ssize_t)content.size());
  lseek(fd, 0, SEEK_SET);
  char buf[128];
  ASSERT_GT(read(fd, buf, sizeof(buf)), 0);
  close(fd);
  unlink(path);
  auto evs = Drain();
  EXPECT_TRUE(OfKind(evs, PERFD_EV_READ, fd).empty());
}

TEST_F(HttpProbesTest, UnixSocketsAndUntrackedProcesses) {
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/perfd_bpf_test_%d.sock", getpid());
  unlink(a.sun_path);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(ls, 4), 0);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  int s = accept(ls, nullptr, nullptr);
  SendAll(c, "HEAD /unix HTTP/1.1\r\n\r\n");
  char buf[128];
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  auto evs = Drain();
  auto reads = OfKind(evs, PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].lines.at(0), "HEAD /unix HTTP/1.1");

  probes_->UntrackPid(getpid());
  SendAll(c, "GET /after HTTP/1.1\r\n\r\n");
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  EXPECT_TRUE(Drain().empty());
  close(s);
  close(c);
  close(ls);
  unlink(a.sun_path);
}

// ---- arrival: time a request waited in the socket before the first read --

constexpr int64_t kMs = 1000000;
constexpr int64_t kWaitMs = 50;

int64_t QueueNs(const Event& read) {
  return static_cast<int64_t>(read.h.ts_ns) - static_cast<int64_t>(read.h.arrival_ns);
}

// A loopback listener on an ephemeral port.
struct Listener {
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd, 8), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  }
  ~Listener() { close(fd); }
  int Connect() const {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    return c;
  }
  int fd;
  sockaddr_in addr{};
};

TEST_F(HttpProbesTest, KeepAliveRequestThatWaitsInTheSocketCarriesItsArrival) {
  auto [c, s] = TcpPair();
  char buf[4096];
  SendAll(c, "GET /first HTTP/1.1\r\n\r\n");
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  std::string resp = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
  ASSERT_EQ(write(s, resp.data(), resp.size()), (ssize_t)resp.size());
  SendAll(c, "GET /second HTTP/1.1\r\n\r\n");
  usleep(kWaitMs * 1000);  // the "event loop" is busy: the request waits
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  close(s);
  close(c);
  auto reads = OfKind(Drain(), PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 2u);
  // The first request was read right after it was sent.
  ASSERT_NE(reads[0].h.arrival_ns, 0u);
  EXPECT_GE(QueueNs(reads[0]), 0);
  EXPECT_LT(QueueNs(reads[0]), 5 * kMs);
  // The second one waited kWaitMs (plus scheduling noise).
  ASSERT_NE(reads[1].h.arrival_ns, 0u);
  EXPECT_GE(QueueNs(reads[1]), (kWaitMs - 1) * kMs);
  EXPECT_LT(QueueNs(reads[1]), (kWaitMs + 8) * kMs);
  EXPECT_GT(reads[1].h.arrival_ns, reads[0].h.ts_ns);  // not the first request's mark
}

TEST_F(HttpProbesTest, NewConnectionIsTimedWhileItWaitsToBeAccepted) {
  Listener l;
  // The first accept teaches the kernel side the listener's port.
  int c0 = l.Connect();
  int s0 = accept(l.fd, nullptr, nullptr);
  close(s0);
  close(c0);
  // The next connection sends at once; the worker accepts and reads later.
  int c = l.Connect();
  SendAll(c, "GET /new HTTP/1.1\r\n\r\n");
  usleep(kWaitMs * 1000);
  int s = accept(l.fd, nullptr, nullptr);
  char buf[256];
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  close(s);
  close(c);
  auto reads = OfKind(Drain(), PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 1u);
  ASSERT_NE(reads[0].h.arrival_ns, 0u);
  EXPECT_GE(QueueNs(reads[0]), (kWaitMs - 1) * kMs);
  EXPECT_LT(QueueNs(reads[0]), (kWaitMs + 8) * kMs);
}

TEST_F(HttpProbesTest, BytesLeftUnreadArriveNoLaterThanTheRead) {
  auto [c, s] = TcpPair();
  const std::string a = "GET /a HTTP/1.1\r\n\r\n", b = "GET /b HTTP/1.1\r\n\r\n";
  SendAll(c, a + b);  // pipelined; the worker reads one request at a time
  usleep(10000);
  char buf[256];
  ASSERT_EQ(read(s, buf, a.size()), (ssize_t)a.size());
  usleep(kWaitMs * 1000);
  ASSERT_EQ(read(s, buf, sizeof(buf)), (ssize_t)b.size());
  close(s);
  close(c);
  auto reads = OfKind(Drain(), PERFD_EV_READ, s);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_GE(QueueNs(reads[0]), 9 * kMs);
  // b's bytes were there at the first read's exit: its arrival is at the
  // latest that, never the later second read.
  ASSERT_NE(reads[1].h.arrival_ns, 0u);
  EXPECT_LE(reads[1].h.arrival_ns, reads[0].h.ts_ns);
  EXPECT_GE(reads[1].h.arrival_ns, reads[0].h.arrival_ns);
  EXPECT_GE(QueueNs(reads[1]), kWaitMs * kMs);
}

TEST_F(HttpProbesTest, UnixSocketsGetArrivalAfterAccept) {
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/perfd_bpf_arrival_%d.sock", getpid());
  unlink(a.sun_path);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(ls, 4), 0);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  // Sent before accept: no handshake event for unix sockets, so its arrival
  // is the accept (no later than the truth).
  SendAll(c, "GET /one HTTP/1.1\r\n\r\n");
  usleep(20000);
  int s = accept(ls, nullptr, nullptr);
  usleep(kWaitMs * 1000);
  char buf[128];
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  // Kept alive: the next request's arrival is its own (sk_data_ready).
  SendAll(c, "GET /two HTTP/1.1\r\n\r\n");
  usleep(kWaitMs * 1000);
  ASSERT_GT(read(s, buf, sizeof(buf)), 0);
  close(s);
  close(c);
  close(ls);
  unlink(a.sun_path);
  auto evs = Drain();
  auto accepts = OfKind(evs, PERFD_EV_ACCEPT, s);
  auto reads = OfKind(evs, PERFD_EV_READ, s);
  ASSERT_EQ(accepts.size(), 1u);
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_GE(reads[0].h.arrival_ns, accepts[0].h.ts_ns - 1 * kMs);
  EXPECT_GE(QueueNs(reads[0]), (kWaitMs - 1) * kMs);
  EXPECT_LT(QueueNs(reads[0]), (kWaitMs + 8) * kMs);
  ASSERT_NE(reads[1].h.arrival_ns, 0u);
  EXPECT_GE(QueueNs(reads[1]), (kWaitMs - 1) * kMs);
  EXPECT_LT(QueueNs(reads[1]), (kWaitMs + 8) * kMs);
}

TEST_F(HttpProbesTest, CountersAndProgramsReadable) {
  auto counters = probes_->Counters();
  EXPECT_EQ(counters[PERFD_CNT_RINGBUF_DROPS], 0u);
  EXPECT_EQ(counters[PERFD_CNT_SOCK_TABLE_FULL], 0u);
  auto progs = probes_->Programs();
  EXPECT_GE(progs.size(), 23u);  // syscalls + sk_data_ready + inet_sock_set_state
}

// ---- per-process quota on the shared syscall-argument table ---------------

// Polls cond every 5 ms for up to timeout; true when it held.
template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST_F(HttpProbesTest, OneProcessBlockedInReadsCannotFillTheArgumentTable) {
  // The attacker: this process, with more threads blocked in read() than
  // the whole table (16384 entries) holds. The victim: another tracked
  // process whose request read must still be traced.
  constexpr int kThreads = 16384 + 128;
  int sv[2], go[2], block[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(block, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Waits untracked for "go", then reads the request: that read is the
    // one under test.
    char b;
    if (read(go[0], &b, 1) != 1) _exit(2);
    char buf[256];
    _exit(read(sv[1], buf, sizeof buf) > 0 ? 0 : 3);
  }
  probes_->TrackPid(child);
  const uint64_t refused_before = probes_->Counters()[PERFD_CNT_ARGS_QUOTA];

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);  // 16k threads: keep them small
  std::vector<pthread_t> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    pthread_t t;
    const int err = pthread_create(
        &t, &attr,
        [](void* fd) -> void* {
          char b;
          (void)!read(static_cast<int>(reinterpret_cast<intptr_t>(fd)), &b, 1);
          return nullptr;
        },
        reinterpret_cast<void*>(static_cast<intptr_t>(block[0])));
    ASSERT_EQ(err, 0) << "thread " << i << ": " << strerror(err);
    threads.push_back(t);
  }
  pthread_attr_destroy(&attr);
  // Every thread has entered read() once it is either holding an entry or
  // was refused by the quota.
  const uint32_t self = getpid();
  auto entered = [&] {
    const int64_t held = probes_->StashHeld(self);
    const uint64_t refused = probes_->Counters()[PERFD_CNT_ARGS_QUOTA] - refused_before;
    return held >= 0 && held + static_cast<int64_t>(refused) >= kThreads;
  };
  const bool all_entered = WaitFor(entered);
  const int64_t held = probes_->StashHeld(self);
  // Cost of the periodic sweep over a populated table; every thread is
  // alive, so nothing may be reclaimed.
  const auto sweep_start = std::chrono::steady_clock::now();
  const auto sweep = probes_->ReclaimStash();
  const auto sweep_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - sweep_start)
                            .count();
  RecordProperty("stash_sweep_us", static_cast<int>(sweep_us));
  std::printf("stash sweep: %zu entries in %lld us\n", sweep.entries,
              static_cast<long long>(sweep_us));
  EXPECT_EQ(sweep.reclaimed, 0u);

  SendAll(sv[0], "GET /victim HTTP/1.1\r\n\r\n");
  ASSERT_EQ(write(go[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::vector<perfd_http_event_header> victim;
  std::vector<std::string> lines;
  HttpProbes::EventFn fn = [&](const perfd_http_event_header& h, const char(*l)[PERFD_LINE_MAX]) {
    if (h.tgid != static_cast<uint32_t>(child) || h.kind != PERFD_EV_READ) return;
    victim.push_back(h);
    if (l && h.nlines > 0) lines.emplace_back(l[0], h.line_len[0]);
  };
  while (probes_->Poll(100, fn) > 0) {
  }
  probes_->UntrackPid(child);

  close(block[1]);  // EOF: every reader returns
  for (pthread_t t : threads) pthread_join(t, nullptr);
  // Every entry was released at its exit: the count is exact, not drifting.
  EXPECT_TRUE(WaitFor([&] { return probes_->StashHeld(self) == 0; }, std::chrono::seconds(5)))
      << "held " << probes_->StashHeld(self);
  for (int fd : {sv[0], sv[1], go[0], go[1], block[0]}) close(fd);

  ASSERT_TRUE(all_entered) << "held " << held << ", refused "
                           << probes_->Counters()[PERFD_CNT_ARGS_QUOTA] - refused_before;
  // The quota, overshot at most by threads racing on other CPUs.
  EXPECT_LE(held, PERFD_STASH_QUOTA + static_cast<int64_t>(sysconf(_SC_NPROCESSORS_CONF)));
  EXPECT_GE(held, PERFD_STASH_QUOTA);
  ASSERT_EQ(victim.size(), 1u) << "the other process's read was not traced";
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "GET /victim HTTP/1.1");
}

TEST_F(HttpProbesTest, SweepReclaimsEntriesOfExitedThreads) {
  // A missed syscall exit leaves an entry the kernel keeps counting. Made
  // here by hand: an entry for a thread id of this process that does not
  // exist, counted as the kernel would have.
  const uint32_t self = getpid();
  const int64_t before = std::max<int64_t>(probes_->StashHeld(self), 0);
  const uint64_t dead_tid = 0x7ffffff0;  // above pid_max: never a live thread
  const uint64_t key = (uint64_t{self} << 32) | dead_tid;
  ASSERT_TRUE(probes_->InjectStaleStashForTest(key));
  EXPECT_EQ(probes_->StashHeld(self), before + 1);
  const auto sweep = probes_->ReclaimStash();
  EXPECT_GE(sweep.entries, 1u);
  EXPECT_EQ(sweep.reclaimed, 1u);
  EXPECT_EQ(probes_->StashHeld(self), before);
  EXPECT_EQ(probes_->ReclaimStash().reclaimed, 0u);  // nothing left to reclaim
}

// Client connections: a connect() is tracked; a PostgreSQL opening makes
// the connection's bytes (first PERFD_DATA_MAX of each transfer, across
// iovecs) leave the kernel; an outbound HTTP request is untracked at its
// first write and none of its bytes leave.
TEST_F(HttpProbesTest, ClientConnectionsClassifiedAtTheFirstWrite) {
  struct ClientEvent {
    perfd_http_event_header h;
    std::string data;
  };
  std::vector<ClientEvent> client;
  probes_->SetClientHandler([&](const perfd_http_event_header& h, std::string_view d) {
    if (h.tgid == static_cast<uint32_t>(getpid())) client.push_back({h, std::string(d)});
  });
  auto [pg_c, pg_s] = TcpPair();
  auto [http_c, http_s] = TcpPair();
  // SSLRequest, then a startup message split over two iovecs.
  const std::string ssl("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
  SendAll(pg_c, ssl);
  std::string startup("\x00\x00\x00\x15\x00\x03\x00\x00user\0postgres\0\0", 21);
  iovec iov[2] = {{startup.data(), 10}, {startup.data() + 10, startup.size() - 10}};
  ASSERT_EQ(writev(pg_c, iov, 2), (ssize_t)startup.size());
  std::string big(3000, 'x');
  SendAll(pg_s, big);
  char buf[4096];
  size_t got = 0;
  while (got < big.size()) {
    ssize_t n = read(pg_c, buf, sizeof(buf));
    ASSERT_GT(n, 0);
    got += n;
  }
  SendAll(http_c, "POST /charge HTTP/1.1\r\nAuthorization: Bearer SECRET\r\n\r\n");
  SendAll(http_c, "more SECRET");
  for (int fd : {pg_c, pg_s, http_c, http_s}) close(fd);
  Drain();
  probes_->SetClientHandler(nullptr);

  std::vector<ClientEvent> pg, http;
  for (auto& e : client) (e.h.fd == pg_c ? pg : e.h.fd == http_c ? http : client).push_back(e);
  ASSERT_GE(pg.size(), 4u);
  EXPECT_EQ(pg[0].h.kind, PERFD_EV_CONNECT);
  EXPECT_EQ(pg[1].h.kind, PERFD_EV_WRITE);
  EXPECT_EQ(pg[1].h.proto, PERFD_PROTO_PGSQL);
  EXPECT_EQ(pg[1].data, ssl);
  EXPECT_EQ(pg[2].data, startup);  // both iovecs
  EXPECT_EQ(pg[3].h.kind, PERFD_EV_READ);
  EXPECT_EQ(pg[3].data, big.substr(0, std::min<size_t>(pg[3].h.ret, PERFD_DATA_MAX)));
  EXPECT_EQ(pg.back().h.kind, PERFD_EV_CLOSE);
  for (const auto& e : pg) EXPECT_EQ(e.h.conn_id, pg[0].h.conn_id);
  // The HTTP client: connect, then its first write untracks it (a CLOSE),
  // and nothing it wrote ever left the kernel.
  ASSERT_EQ(http.size(), 2u);
  EXPECT_EQ(http[0].h.kind, PERFD_EV_CONNECT);
  EXPECT_EQ(http[1].h.kind, PERFD_EV_CLOSE);
  for (const auto& e : client) EXPECT_EQ(e.data.find("SECRET"), std::string::npos);
  for (const auto& e : http) EXPECT_TRUE(e.data.empty());
}

}  // namespace
}  // namespace perfd
