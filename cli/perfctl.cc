// perfctl: the command-line client of perfd's gRPC API (docs/PERFCTL.md).
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cli/duration.h"
#include "cli/endpoint.h"
#include "cli/json_output.h"
#include "cli/services_table.h"
#include "cli/top_table.h"
#include "perfd/v1/perfd.grpc.pb.h"

namespace perfd::cli {
namespace {

constexpr auto kRpcDeadline = std::chrono::seconds(3);
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

struct Flags {
  std::string endpoint = kDefaultEndpoint;
  std::string output = "table";
  std::string service;
  std::string window = "60s";
  std::string sort = "rps";
  std::string interval = "1s";
  bool once = false;
  size_t limit = 0;
};

class Client {
 public:
  explicit Client(const std::string& endpoint)
      : stub_(v1::Perfd::NewStub(
            grpc::CreateChannel(ChannelTarget(endpoint), grpc::InsecureChannelCredentials()))) {}

  grpc::Status ListServices(v1::ListServicesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
    return stub_->ListServices(&ctx, v1::ListServicesRequest(), out);
  }
  grpc::Status GetTop(const std::string& service, uint32_t window, v1::GetTopResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
    v1::GetTopRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    return stub_->GetTop(&ctx, request, out);
  }

 private:
  std::unique_ptr<v1::Perfd::Stub> stub_;
};

int Fail(const grpc::Status& status, const Flags& flags) {
  std::cerr << DescribeRpcError(status, flags.endpoint) << std::endl;
  return kExitError;
}

int RunServices(const Flags& flags) {
  Client client(flags.endpoint);
  v1::ListServicesResponse services;
  if (grpc::Status s = client.ListServices(&services); !s.ok()) return Fail(s, flags);
  std::cout << (flags.output == "json" ? ToJson(services) : RenderServicesTable(services));
  return kExitOk;
}

// One GetTop (plus ListServices for the worker count) rendered as text.
int TopOnce(Client& client, const Flags& flags, uint32_t window, std::string* text) {
  v1::GetTopResponse top;
  if (grpc::Status s = client.GetTop(flags.service, window, &top); !s.ok()) {
    return Fail(s, flags);
  }
  if (flags.output == "json") {
    *text = ToJson(top);
    return kExitOk;
  }
  TopTableOptions options;
  options.sort = *ParseSortKey(flags.sort);
  options.limit = flags.limit;
  v1::ListServicesResponse services;
  if (grpc::Status s = client.ListServices(&services); !s.ok()) return Fail(s, flags);
  for (const auto& service : services.services()) {
    if (service.name() == flags.service) options.workers = service.workers_size();
  }
  *text = RenderTopTable(top, options);
  return kExitOk;
}

int RunTop(const Flags& flags) {
  Client client(flags.endpoint);
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  const auto interval = *ParseDuration(flags.interval);
  std::string text;
  if (flags.once || flags.output == "json") {
    const int rc = TopOnce(client, flags, window, &text);
    std::cout << text << std::flush;
    return rc;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) {
    if (int rc = TopOnce(client, flags, window, &text); rc != kExitOk) return rc;
    // Home + clear, then the frame: one write so the screen never flickers empty.
    std::cout << "\x1b[H\x1b[2J" << text << std::flush;
    for (auto slept = std::chrono::milliseconds(0); slept < interval && !g_stop;
         slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return kExitOk;
}

CLI::Validator DurationValidator(std::string (*check)(const std::string&), const char* name) {
  return CLI::Validator([check](std::string& text) { return check(text); }, name);
}

}  // namespace
}  // namespace perfd::cli

int main(int argc, char** argv) {
  using namespace perfd::cli;
  Flags flags;
  CLI::App app{"perfctl: per-route latency of the Python services perfd traces", "perfctl"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.add_option("--endpoint", flags.endpoint,
                 "perfd API: unix:///path/to.sock, a socket path, or host:port")
      ->envname("PERFCTL_ENDPOINT")
      ->capture_default_str();

  CLI::App* services = app.add_subcommand("services", "List traced services and their workers");
  services->add_option("-o,--output", flags.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  CLI::App* top = app.add_subcommand("top", "Per-route request rate, errors and latency");
  top->add_option("-s,--service", flags.service, "Service name (see `perfctl services`)")
      ->required();
  top->add_option("-w,--window", flags.window, "Sliding window, whole seconds (30s, 5m)")
      ->check(DurationValidator(CheckWindow, "DURATION"))
      ->capture_default_str();
  top->add_option("--sort", flags.sort, "Sort key, descending (route: by name)")
      ->check(CLI::IsMember(SortKeyNames()))
      ->capture_default_str();
  top->add_flag("--once", flags.once, "Print one table and exit");
  top->add_option("--interval", flags.interval, "Redraw period in live mode (>= 100ms)")
      ->check(DurationValidator(CheckInterval, "DURATION"))
      ->capture_default_str();
  top->add_option("-o,--output", flags.output, "table or json (json implies --once)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  top->add_option("--limit", flags.limit, "Show at most N routes (0: all)")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version exit 0; every usage error is 2, whatever CLI11's code.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return services->parsed() ? RunServices(flags) : RunTop(flags);
}
