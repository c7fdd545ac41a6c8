// A minimal HTTPS client for the Kubernetes API (libcurl): GET a resource,
// or stream a watch line by line. Each request re-reads the ServiceAccount
// token from its file: projected tokens are rotated by the kubelet (about
// hourly), so a token read once at start would expire under a long-running
// perfd. The token is only ever put in the Authorization header: never
// logged, never in an error message.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace perfd::k8s {

struct ApiEndpoint {
  std::string server;      // "https://10.96.0.1:443"
  std::string token_path;  // "" or a missing file: no Authorization header
  std::string ca_path;     // PEM bundle the server's certificate must chain to
};

// The in-cluster API server from KUBERNETES_SERVICE_HOST/_PORT, "" when
// they are not set (not running in a pod).
std::string InClusterServer();

class ApiClient {
 public:
  // stop (optional) aborts a request in progress within about a second.
  ApiClient(ApiEndpoint endpoint, const std::atomic<bool>* stop)
      : endpoint_(std::move(endpoint)), stop_(stop) {}

  // GET path (with query). Returns the HTTP status, or 0 when no response
  // came (*error says why). The body is refused past max_body bytes.
  long Get(const std::string& path, size_t max_body, std::string* body, std::string* error) const;

  // GET path and hand every complete line of the body to on_line until the
  // server ends the response, on_line returns false, or stop. A line longer
  // than max_line ends the stream with an error. Returns the HTTP status
  // (0 when no response came); a non-2xx response's body is not streamed.
  long Stream(const std::string& path, size_t max_line,
              const std::function<bool(std::string_view line)>& on_line, long timeout_s,
              std::string* error) const;

 private:
  const ApiEndpoint endpoint_;
  const std::atomic<bool>* stop_;
};

}  // namespace perfd::k8s
