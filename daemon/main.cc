// perfd: finds uvicorn workers on this host, traces their HTTP requests with
// eBPF, and serves per-route latency over Prometheus and gRPC.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "daemon/api/grpc_tls.h"
#include "daemon/config/config.h"
#include "daemon/daemon.h"
#include "daemon/fd_limits.h"
#include "daemon/kubernetes/kube_settings.h"
#include "daemon/privileges.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"perfd: eBPF request profiler for Python ASGI services"};
  std::string config_path, metrics, grpc_socket, grpc_tcp, log_level;
  bool check_config = false;
  app.add_option("-c,--config", config_path, "YAML config file (docs/CONFIG.md)");
  app.add_flag("--check-config", check_config, "Validate the config and exit (0 = valid, 2 = not)");
  app.add_option("--metrics-address", metrics, "Override listen.metrics (host:port)");
  app.add_option("--grpc-socket", grpc_socket, "Override listen.grpc_socket (path)");
  app.add_option("--grpc-tcp", grpc_tcp, "Override listen.grpc_tcp (host:port)");
  app.add_option("--log-level", log_level, "Override log.level");
  app.set_version_flag("--version", "perfd 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  perfd::Config config;
  try {
    if (!config_path.empty()) config = perfd::LoadConfigFile(config_path);
    // Flags go through the same validation as the file: render them as a
    // YAML document, parse it, and copy the fields that were given.
    std::string listen;
    auto item = [&listen](const char* key, const std::string& v) {
      if (!v.empty()) listen += std::string(listen.empty() ? "" : ", ") + key + ": '" + v + "'";
    };
    item("metrics", metrics);
    item("grpc_socket", grpc_socket);
    item("grpc_tcp", grpc_tcp);
    std::string doc = listen.empty() ? "" : "listen: {" + listen + "}\n";
    if (!log_level.empty()) doc += "log: {level: '" + log_level + "'}\n";
    const perfd::Config flags = perfd::ParseConfig(doc);
    if (!metrics.empty()) config.metrics_address = flags.metrics_address;
    if (!grpc_socket.empty()) config.grpc_socket = flags.grpc_socket;
    if (!grpc_tcp.empty()) config.grpc_tcp = flags.grpc_tcp;
    if (!log_level.empty()) config.log_level = flags.log_level;
    perfd::CheckListenSecurity(config);
    // kubernetes.* depends on the environment (NODE_NAME, in-cluster
    // variables): checked here so a bad setup exits 2 like a bad key.
    perfd::k8s::ResolveKubeSettings(config.kubernetes,
                                    [](const char* n) { return std::getenv(n); });
  } catch (const perfd::ConfigError& e) {
    std::cerr << "perfd: invalid configuration: " << e.what() << "\n";
    return 2;
  }
  if (check_config) {
    std::cout << "perfd: configuration OK\n";
    return 0;
  }
  try {
    // Not with --check-config: that checks the file, which may be validated
    // where the certificates are not mounted.
    perfd::CheckGrpcTlsFiles(config);
  } catch (const perfd::ConfigError& e) {
    std::cerr << "perfd: invalid configuration: " << e.what() << "\n";
    return 2;
  }

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  auto missing = perfd::MissingCapabilities();
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    std::cerr << "perfd: needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE; missing: " << list
              << "\n";
    return 1;
  }
  if (const std::string warning = perfd::MissingSysAdminWarning(); !warning.empty())
    spdlog::warn("{}", warning);

  // Every sampled thread of every worker costs descriptors, and running out
  // must not be what makes /proc reads fail: use all the hard limit allows.
  const perfd::FdLimitChange fds = perfd::RaiseFdLimit();
  if (fds.error != 0) {
    spdlog::warn("cannot raise RLIMIT_NOFILE (soft {}, hard {}): {}; continuing with {}",
                 fds.before, fds.hard, std::strerror(fds.error), fds.before);
  } else {
    spdlog::info("RLIMIT_NOFILE: soft limit {} (was {}, hard {})", fds.after, fds.before, fds.hard);
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return perfd::RunDaemon(config, g_stop);
}
