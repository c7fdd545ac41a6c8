#include "daemon/pipeline/openapi_fetcher.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "daemon/pipeline/http_response.h"
#include "daemon/pipeline/worker_netns.h"
#include "daemon/pipeline/worker_socket_path.h"
#include "daemon/routes/openapi.h"
#include "daemon/routes/route_table.h"

namespace perfd {

namespace {

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

// A connected (or failed: -1, *outcome and *err set) nonblocking socket to
// addr, within the deadline.
int Connect(const std::string& addr, const FetchDeadline& deadline, const std::string& root,
            FetchOutcome* outcome, std::string* err) {
  int fd = -1;
  int rc = -1;
  *outcome = FetchOutcome::kUnreachable;
  if (addr.rfind("unix:", 0) == 0) {
    bool refused = false;
    int path_fd = OpenSocketInRoot(root, addr.substr(5), err, &refused);
    if (path_fd < 0) {
      if (refused) *outcome = FetchOutcome::kPathRefused;
      *err = "unix:" + *err;
      return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0) rc = ConnectThroughPathFd(fd, path_fd);
    const int saved = errno;
    close(path_fd);
    errno = saved;
    if (fd < 0) {
      *err = addr + ": socket: " + std::strerror(errno);
      return -1;
    }
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
    if (fd < 0) {
      *err = addr + ": socket: " + std::strerror(errno);
      return -1;
    }
    rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    const int n = poll(&p, 1, deadline.PollMs());
    if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
      rc = 0;
    } else if (n == 0) {
      *outcome = FetchOutcome::kTimedOut;
      errno = ETIMEDOUT;
    } else {
      errno = soerr ? soerr : errno;
    }
  }
  if (rc != 0) {
    *err = addr + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// Closes the connection on every path out of FetchFromAddress, exceptions
// included.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  const int fd_;
};

FetchResult FromParser(const std::string& addr, http::HttpResponseParser* parser) {
  FetchResult r;
  if (parser->state() == http::HttpResponseParser::State::kFailed) {
    const http::HttpResponse& resp = parser->result();
    r.outcome = resp.error == http::HttpResponseError::kTooLarge ? FetchOutcome::kTooLarge
                                                                 : FetchOutcome::kMalformedResponse;
    r.status = resp.status;
    r.error = addr + ": " + resp.message;
    return r;
  }
  r.status = parser->status();
  if (r.status != 200) {
    r.outcome = FetchOutcome::kHttpError;
    r.error = addr + ": HTTP " + std::to_string(r.status);
    return r;
  }
  r.outcome = FetchOutcome::kOk;
  r.body = parser->TakeResult().body;
  return r;
}

}  // namespace

// One GET with Connection: close. This function only moves bytes; framing,
// validation and every size cap are HttpResponseParser's.
FetchResult FetchFromAddress(const std::string& addr, const std::string& path,
                             const FetchDeadline& deadline, const std::string& root) {
  FetchResult r;
  int fd = Connect(addr, deadline, root, &r.outcome, &r.error);
  if (fd < 0) return r;
  FdCloser closer(fd);
  const std::string req = "GET " + path +
                          " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: perfd\r\nAccept: "
                          "application/json\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  http::HttpResponseParser parser;
  char buf[16384];
  while (parser.state() == http::HttpResponseParser::State::kIncomplete) {
    // A status other than 200 is the answer; its body is not needed.
    if (parser.head_complete() && parser.status() != 200) break;
    if (deadline.Expired()) {
      r.outcome = FetchOutcome::kTimedOut;
      r.error = addr + ": no complete answer within the fetch's " +
                std::to_string(deadline.timeout_ms()) + " ms";
      return r;
    }
    pollfd p{fd, static_cast<short>(sent < req.size() ? POLLOUT : POLLIN), 0};
    if (poll(&p, 1, deadline.PollMs()) <= 0) continue;
    if (sent < req.size()) {
      ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        r.error = addr + ": " + std::strerror(errno);
        return r;
      }
      if (n > 0) sent += n;
      continue;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) {
      parser.Finish();
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      r.error = addr + ": " + std::strerror(errno);
      return r;
    }
    parser.Feed(std::string_view(buf, static_cast<size_t>(n)));
  }
  return FromParser(addr, &parser);
}

FetchResult FetchFromAddress(const std::string& addr, const std::string& path,
                             uint32_t timeout_ms) {
  return FetchFromAddress(addr, path, FetchDeadline(timeout_ms), "/");
}

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

namespace {

// Of two failures, the one that says more about the service: a refusal or a
// malformed answer over a timeout, a timeout over no listener at all.
int Telling(FetchOutcome o) {
  switch (o) {
    case FetchOutcome::kUnreachable:
      return 0;
    case FetchOutcome::kTimedOut:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

FetchResult FetchFromProcess(uint32_t pid, const std::string& path, uint32_t timeout_ms,
                             const std::string& proc_root) {
  const FetchDeadline deadline(timeout_ms);
  auto addrs = ListenAddresses(pid, proc_root);
  if (addrs.empty()) return {FetchOutcome::kUnreachable, 0, "", "no listening socket found"};
  WorkerNetns netns(pid, proc_root);
  if (!netns.entered()) return {FetchOutcome::kNetnsFailed, 0, "", netns.error()};
  const std::string root = proc_root + "/" + std::to_string(pid) + "/root";
  // The first address that answers HTTP decides. A listener that is not the
  // HTTP server (or is broken) must not hide one that is, so other failures
  // only keep the most telling one. All addresses share the one deadline.
  FetchResult best;
  for (const auto& a : addrs) {
    FetchResult r = FetchFromAddress(a, path, deadline, root);
    if (r.outcome == FetchOutcome::kOk || r.outcome == FetchOutcome::kHttpError) return r;
    if (Telling(r.outcome) > Telling(best.outcome) || best.error.empty()) best = std::move(r);
    if (deadline.Expired()) break;
  }
  return best;
}

OpenApiFetcher::OpenApiFetcher(std::string path, uint32_t timeout_ms, Install install, Fetch fetch,
                               uint64_t retry_backoff_ms)
    : path_(std::move(path)),
      timeout_ms_(timeout_ms),
      retry_backoff_ms_(retry_backoff_ms),
      install_(std::move(install)),
      fetch_(fetch ? std::move(fetch)
                   : [](uint32_t pid, const std::string& p,
                        uint32_t t) { return FetchFromProcess(pid, p, t); }),
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
    const uint64_t now = NowMs();
    uint64_t wake_ms = 0;
    auto next = NextJob(now, &wake_ms);
    if (next == jobs_.end()) {
      cv_.wait_for(lock, std::chrono::milliseconds(wake_ms - now));
      continue;
    }
    Job job = *next;
    jobs_.erase(next);
    lock.unlock();
    // An exception escaping this thread would terminate perfd: whatever a
    // service's bytes (or a bug of ours) make throw ends this job only,
    // counted, and the loop goes on with the next one.
    Attempt a{"internal_error", true, {}};
    try {
      a = Try(job);
    } catch (const std::exception& e) {
      a.error = e.what();
    } catch (...) {
      a.error = "unknown exception";
    }
    // The fetch's body (up to 16 MiB, grown by doubling) is freed by now, but
    // glibc keeps freed pages of this thread's arena resident: hand them back,
    // so perfd's RSS returns to where it was instead of keeping every large
    // document's high-water mark.
    malloc_trim(0);
    lock.lock();
    Record(job, a);
  }
}

std::deque<OpenApiFetcher::Job>::iterator OpenApiFetcher::NextJob(uint64_t now_ms,
                                                                  uint64_t* wake_ms) {
  // Fewest attempts first, then the earliest due, then the first queued: a
  // service retried because its listener was silent never goes before a
  // service not tried yet, so a silent listener delays any other service by
  // at most the one fetch under way (routes.openapi_timeout_ms).
  auto best = jobs_.end();
  *wake_ms = UINT64_MAX;
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (it->not_before_ms > now_ms) {
      *wake_ms = std::min(*wake_ms, it->not_before_ms);
      continue;
    }
    if (best == jobs_.end() || it->attempt < best->attempt ||
        (it->attempt == best->attempt && it->not_before_ms < best->not_before_ms))
      best = it;
  }
  return best;
}

OpenApiFetcher::Attempt OpenApiFetcher::Try(const Job& job) {
  FetchResult r = fetch_(job.pid, path_, timeout_ms_);
  switch (r.outcome) {
    case FetchOutcome::kOk:
      break;
    case FetchOutcome::kUnreachable:
      // Not listening yet (app still importing): retried with backoff.
      return {"unreachable", false, std::move(r.error)};
    case FetchOutcome::kTimedOut:
      // A listener that accepts and does not answer (or answers too slowly):
      // retried with backoff, behind every service not tried yet.
      return {"timed_out", false, std::move(r.error)};
    case FetchOutcome::kPathRefused:
      return {"socket_path_refused", true, std::move(r.error)};
    case FetchOutcome::kNetnsFailed:
      // Fetching from perfd's own namespace could reach another service's
      // listener at the same address and install its document.
      return {"netns_failed", true, std::move(r.error)};
    case FetchOutcome::kHttpError:
      return {"http_error", true, std::move(r.error)};
    case FetchOutcome::kMalformedResponse:
      return {"malformed_response", true, std::move(r.error)};
    case FetchOutcome::kTooLarge:
      return {"too_large", true, std::move(r.error)};
  }
  std::string perr;
  uint64_t omitted = 0;
  std::optional<std::vector<std::string>> paths =
      ParseOpenApiPaths(r.body, &perr, kMaxOpenApiTemplates, &omitted);
  r.body = std::string();  // up to 16 MiB: not kept while the templates are installed
  if (!paths) return {"invalid_document", true, std::move(perr)};
  if (omitted != 0) {
    spdlog::warn("service {}: {} paths in {}; the first {} are used", job.service,
                 paths->size() + omitted, path_, paths->size());
  } else {
    spdlog::info("service {}: {} route templates from {}", job.service, paths->size(), path_);
  }
  install_(job.service, std::move(*paths), omitted);
  return {"ok", true, {}};
}

void OpenApiFetcher::Record(const Job& job, const Attempt& a) {
  ++results_[a.result];
  const bool ok = std::string_view(a.result) == "ok";
  if (a.definite) {
    // A definite answer: done. Without a usable document heuristics stay in
    // charge; it is not retried (each try is a request to the service).
    if (!ok)
      spdlog::info("service {}: no OpenAPI document at {} ({}: {}); using heuristics", job.service,
                   path_, a.result, a.error);
    services_[job.service] = true;
  } else if (job.attempt + 1 < kMaxAttempts) {
    jobs_.push_back(
        {job.service, job.pid, job.attempt + 1, NowMs() + (retry_backoff_ms_ << job.attempt)});
  } else {
    spdlog::warn("service {}: OpenAPI fetch gave up: {}", job.service, a.error);
    services_[job.service] = true;
  }
}

}  // namespace perfd
