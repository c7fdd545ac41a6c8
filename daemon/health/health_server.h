// A tiny HTTP/1.0 listener for Kubernetes probes (listen.health):
//   GET /healthz  200 while the event loop is alive, else 503
//   GET /readyz   200 once BPF is loaded and the first scan applied, else 503
// anything else 404. prometheus-cpp's Exposer serves registries only, so the
// probes get their own socket. One thread, one connection at a time, each
// with a short read deadline: probes are rare and tiny.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "daemon/health/health_state.h"

namespace perfd {

class HealthServer {
 public:
  using Clock = std::function<uint64_t()>;  // monotonic ns

  // Binds and listens on "host:port" (IPv4 or [IPv6] literal, or a name);
  // throws std::runtime_error naming the address when that fails.
  HealthServer(const std::string& address, const HealthState& state, Clock clock);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  uint16_t port() const { return port_; }  // the bound port (useful with port 0)

 private:
  void Serve();
  void Answer(int fd);

  const HealthState& state_;
  Clock clock_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: wakes Serve() at destruction
  uint16_t port_ = 0;
  std::thread thread_;
};

// The status line and body for a request line ("GET /healthz HTTP/1.1").
struct HealthReply {
  int status;
  std::string body;
};
HealthReply HealthAnswer(const std::string& request_line, const HealthState& state,
                         uint64_t now_ns);

}  // namespace perfd
