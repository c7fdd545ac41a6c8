#include "daemon/pipeline/openapi_fetcher.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/routes/openapi.h"

namespace perfd {

namespace {

constexpr size_t kMaxDocument = 16 << 20;
constexpr int kMaxAttempts = 6;

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::set<uint64_t> SocketInodes(uint32_t pid, const std::string& proc_root) {
  std::set<uint64_t> out;
  std::string dir = proc_root + "/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char target[64];
    std::string link = dir + "/" + e->d_name;
    ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = 0;
    unsigned long long inode;
    if (std::sscanf(target, "socket:[%llu]", &inode) == 1) out.insert(inode);
  }
  closedir(d);
  return out;
}

// /proc/net/tcp{,6}: "sl local rem st ... inode"; st 0A = LISTEN.
void TcpListeners(const std::string& file, bool v6, const std::set<uint64_t>& inodes,
                  std::vector<std::string>* out) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string sl, local, remote, st, txrx, tr, retr, uid, timeout;
    uint64_t inode = 0;
    if (!(ls >> sl >> local >> remote >> st >> txrx >> tr >> retr >> uid >> timeout >> inode))
      continue;
    if (st != "0A" || !inodes.count(inode)) continue;
    auto colon = local.find(':');
    if (colon == std::string::npos) continue;
    unsigned port = std::stoul(local.substr(colon + 1), nullptr, 16);
    std::string ip = "127.0.0.1";  // wildcard listeners answer on loopback
    if (!v6 && local.substr(0, colon) != "00000000") {
      uint32_t raw = std::stoul(local.substr(0, colon), nullptr, 16);
      in_addr a{raw};  // already in network order as printed by the kernel
      ip = inet_ntoa(a);
    } else if (v6 && local.substr(0, colon) != std::string(32, '0')) {
      ip = "::1";
    }
    out->push_back("tcp:" + ip + ":" + std::to_string(port));
  }
}

// /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path";
// Flags 00010000 = __SO_ACCEPTCON (listening).
void UnixListeners(const std::string& file, const std::set<uint64_t>& inodes,
                   std::vector<std::string>* out) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string num, ref, proto, flags, type, st, path;
    uint64_t inode = 0;
    if (!(ls >> num >> ref >> proto >> flags >> type >> st >> inode >> path)) continue;
    if (flags != "00010000" || !inodes.count(inode) || path.empty() || path[0] == '@') continue;
    out->push_back("unix:" + path);
  }
}

int Connect(const std::string& addr, uint32_t timeout_ms, std::string* err) {
  int fd = -1;
  int rc = -1;
  if (addr.rfind("unix:", 0) == 0) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, addr.c_str() + 5, sizeof(a.sun_path) - 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    std::string hostport = addr.substr(4);
    auto colon = hostport.rfind(':');
    std::string host = hostport.substr(0, colon);
    uint16_t port = std::stoi(hostport.substr(colon + 1));
    sockaddr_storage ss{};
    socklen_t len;
    if (host.find(':') != std::string::npos) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(port);
      inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr);
      len = sizeof(*a6);
    } else {
      auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
      a4->sin_family = AF_INET;
      a4->sin_port = htons(port);
      inet_pton(AF_INET, host.c_str(), &a4->sin_addr);
      len = sizeof(*a4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
        soerr == 0)
      rc = 0;
    else
      errno = soerr ? soerr : ETIMEDOUT;
  }
  if (rc != 0) {
    *err = addr + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// Minimal HTTP/1.1 client for one GET with Connection: close.
FetchResult Get(const std::string& addr, const std::string& path, uint32_t timeout_ms) {
  FetchResult r;
  int fd = Connect(addr, timeout_ms, &r.error);
  if (fd < 0) return r;
  const std::string req = "GET " + path +
                          " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: perfd\r\nAccept: "
                          "application/json\r\nConnection: close\r\n\r\n";
  const uint64_t deadline = NowMs() + timeout_ms;
  size_t sent = 0;
  std::string in;
  char buf[16384];
  while (true) {
    uint64_t now = NowMs();
    if (now >= deadline) {
      r.error = addr + ": timed out after " + std::to_string(timeout_ms) + " ms";
      close(fd);
      return r;
    }
    pollfd p{fd, static_cast<short>(sent < req.size() ? POLLOUT : POLLIN), 0};
    if (poll(&p, 1, deadline - now) <= 0) continue;
    if (sent < req.size()) {
      ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) break;
      if (n > 0) sent += n;
      continue;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN) continue;
      break;
    }
    in.append(buf, n);
    if (in.size() > kMaxDocument) {
      r.error = addr + ": document larger than 16 MiB";
      close(fd);
      return r;
    }
  }
  close(fd);
  auto head_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || in.size() < 12) {
    r.error = addr + ": not an HTTP response";
    return r;
  }
  r.status = std::atoi(in.c_str() + 9);
  std::string head = in.substr(0, head_end);
  std::string body = in.substr(head_end + 4);
  for (auto& c : head) c = std::tolower(static_cast<unsigned char>(c));
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::strtoul(body.c_str() + pos, nullptr, 16);
      if (len == 0) break;
      out.append(body, eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    body = std::move(out);
  }
  r.body = std::move(body);
  r.ok = r.status == 200;
  if (!r.ok) r.error = addr + ": HTTP " + std::to_string(r.status);
  return r;
}

// Enters the target's network namespace for the calling thread only.
class NetnsGuard {
 public:
  explicit NetnsGuard(uint32_t pid) {
    self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (self_ >= 0 && target >= 0) entered_ = setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) close(target);
  }
  ~NetnsGuard() {
    if (entered_) setns(self_, CLONE_NEWNET);
    if (self_ >= 0) close(self_);
  }

 private:
  int self_ = -1;
  bool entered_ = false;
};

}  // namespace

std::vector<std::string> ListenAddresses(uint32_t pid, const std::string& proc_root) {
  std::vector<std::string> out;
  auto inodes = SocketInodes(pid, proc_root);
  if (inodes.empty()) return out;
  std::string net = proc_root + "/" + std::to_string(pid) + "/net/";
  TcpListeners(net + "tcp", false, inodes, &out);
  TcpListeners(net + "tcp6", true, inodes, &out);
  UnixListeners(net + "unix", inodes, &out);
  return out;
}

FetchResult FetchFromProcess(uint32_t pid, const std::string& path, uint32_t timeout_ms) {
  auto addrs = ListenAddresses(pid);
  if (addrs.empty()) return {false, 0, "", "no listening socket found"};
  NetnsGuard netns(pid);
  FetchResult last;
  for (const auto& a : addrs) {
    last = Get(a, path, timeout_ms);
    if (last.ok || last.status != 0) return last;
  }
  return last;
}

OpenApiFetcher::OpenApiFetcher(std::string path, uint32_t timeout_ms, Install install)
    : path_(std::move(path)),
      timeout_ms_(timeout_ms),
      install_(std::move(install)),
      thread_([this] { Run(); }) {}

OpenApiFetcher::~OpenApiFetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void OpenApiFetcher::Request(const std::string& service, uint32_t pid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (services_.count(service)) return;
    services_[service] = false;
    jobs_.push_back({service, pid, 0, 0});
  }
  cv_.notify_all();
}

std::map<std::string, uint64_t> OpenApiFetcher::Results() const {
  std::lock_guard<std::mutex> lock(mu_);
  return results_;
}

void OpenApiFetcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (jobs_.empty()) {
      cv_.wait(lock);
      continue;
    }
    Job job = jobs_.front();
    uint64_t now = NowMs();
    if (job.not_before_ms > now) {
      cv_.wait_for(lock, std::chrono::milliseconds(job.not_before_ms - now));
      continue;
    }
    jobs_.pop_front();
    lock.unlock();
    FetchResult r = FetchFromProcess(job.pid, path_, timeout_ms_);
    std::string outcome;
    std::optional<std::vector<std::string>> paths;
    if (r.ok) {
      std::string perr;
      paths = ParseOpenApiPaths(r.body, &perr);
      outcome = paths ? "ok" : "invalid_document";
      if (!paths) r.error = perr;
    } else {
      outcome = r.status ? "http_error" : "unreachable";
    }
    if (paths) {
      spdlog::info("service {}: {} route templates from {}", job.service, paths->size(), path_);
      install_(job.service, std::move(*paths));
    }
    lock.lock();
    ++results_[outcome];
    if (paths || outcome == "http_error" || outcome == "invalid_document") {
      // A definite answer: the service has no usable document; heuristics
      // stay in charge. Not retried (each try is a request to the service).
      if (!paths)
        spdlog::info("service {}: no OpenAPI document at {} ({}); using heuristics", job.service,
                     path_, r.error);
      services_[job.service] = true;
    } else if (job.attempt + 1 < kMaxAttempts) {
      // Not listening yet (app still importing): retry with backoff.
      jobs_.push_back({job.service, job.pid, job.attempt + 1, NowMs() + (500ull << job.attempt)});
    } else {
      spdlog::warn("service {}: OpenAPI fetch gave up: {}", job.service, r.error);
      services_[job.service] = true;
    }
  }
}

}  // namespace perfd
