// Hosts the perfd.v1 service on a unix socket and/or TCP. The unix socket is
// the access control: 0600 root-owned by default, or root:<group> 0660 when a
// group is configured; it is created with that mode (never wider, not even
// for a moment) in a directory only root can write to.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace perfd {

class ApiServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ApiServer {
 public:
  // service must outlive the server.
  explicit ApiServer(grpc::Service& service);
  ~ApiServer();  // Shutdown()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the socket's parent directory (0755) if missing, checks it is
  // root's (or this process's user's) and not group/world-writable, replaces
  // a stale socket file (never a symlink or another kind of file), listens
  // on unix:<path> and, when tcp_address is non-empty, on that host:port.
  // An empty unix_socket_path means TCP only; both empty is an error.
  // Throws ApiServerError naming the path or address on failure (unknown
  // group, unsafe directory, path not a socket, another perfd listening,
  // bind error).
  // tcp_credentials secure the TCP listener (GrpcTcpCredentials: mTLS);
  // nullptr is plaintext. The unix socket is always plaintext.
  void Start(const std::string& unix_socket_path, const std::string& socket_group,
             const std::string& tcp_address,
             std::shared_ptr<grpc::ServerCredentials> tcp_credentials = nullptr);
  // Stops accepting, waits briefly for in-flight calls, removes the socket.
  void Shutdown();

  // The bound TCP port (useful with "127.0.0.1:0"); 0 without TCP.
  int tcp_port() const { return tcp_port_; }

 private:
  grpc::Service& service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
  int tcp_port_ = 0;
  std::string tcp_security_;  // "mTLS" or "plaintext", for the log line
};

}  // namespace perfd
