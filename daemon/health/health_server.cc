#include "daemon/health/health_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace perfd {

namespace {

// "host:port" / "[v6]:port" → host, port (validated by the config already).
void SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
}

int BindListen(const std::string& address, uint16_t* bound_port) {
  std::string host, port;
  SplitHostPort(address, &host, &port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) throw std::runtime_error("cannot resolve " + address + ": " + gai_strerror(gai));
  int err = 0;
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 16) != 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) throw std::runtime_error("cannot listen on " + address + ": " + std::strerror(err));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound_port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    default:
      return "Service Unavailable";
  }
}

}  // namespace

HealthReply HealthAnswer(const std::string& request_line, const HealthState& state,
                         uint64_t now_ns) {
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.find(' ', sp1 == std::string::npos ? sp1 : sp1 + 1);
  if (sp1 == std::string::npos) return {405, "bad request\n"};
  const std::string method = request_line.substr(0, sp1);
  std::string target = request_line.substr(sp1 + 1, sp2 == std::string::npos ? sp2 : sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  if (target != "/healthz" && target != "/readyz") return {404, "not found\n"};
  if (method != "GET" && method != "HEAD") return {405, "method not allowed\n"};
  if (target == "/healthz")
    return state.Alive(now_ns) ? HealthReply{200, "ok\n"}
                               : HealthReply{503, "event loop stalled or not started\n"};
  if (state.Ready(now_ns)) return {200, "ready\n"};
  return {503, state.Alive(now_ns) ? "starting: BPF programs or first discovery scan pending\n"
                                   : "event loop stalled or not started\n"};
}

HealthServer::HealthServer(const std::string& address, const HealthState& state, Clock clock)
    : state_(state), clock_(std::move(clock)) {
  listen_fd_ = BindListen(address, &port_);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    close(listen_fd_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { Serve(); });
}

HealthServer::~HealthServer() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  close(wake_fd_);
  close(listen_fd_);
}

void HealthServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd);
    close(fd);
  }
}

void HealthServer::Answer(int fd) {
  // A silent or slow client holds the thread for at most this long.
  const timeval deadline{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, sizeof deadline);
  std::string head;
  char buf[512];
  // Only the request line matters; headers are read up to a small cap so the
  // client sees a clean close.
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 4096) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    head.append(buf, size_t(n));
  }
  const size_t eol = head.find_first_of("\r\n");
  if (eol == std::string::npos) return;
  const HealthReply r = HealthAnswer(head.substr(0, eol), state_, clock_());
  const bool head_only = head.compare(0, 5, "HEAD ") == 0;
  std::string out =
      "HTTP/1.0 " + std::to_string(r.status) + " " + Reason(r.status) +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(r.body.size()) +
      "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += r.body;
  (void)!write(fd, out.data(), out.size());
}

}  // namespace perfd
