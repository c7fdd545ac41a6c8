// perfctl: the command-line client of perfd's gRPC API (docs/PERFCTL.md).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cli/duration.h"
#include "cli/endpoint.h"
#include "cli/folded.h"
#include "cli/functions_table.h"
#include "cli/json_output.h"
#include "cli/pprof_export.h"
#include "cli/queries_table.h"
#include "cli/services_table.h"
#include "cli/top_table.h"
#include "perfd/v1/perfd.grpc.pb.h"

namespace perfd::cli {
namespace {

constexpr auto kRpcDeadline = std::chrono::seconds(3);
// GetProfile blocks for its duration; this is on top of it.
constexpr auto kProfileDeadlineSlack = std::chrono::seconds(30);
constexpr size_t kDefaultFunctionLimit = 30;
constexpr size_t kDefaultQueryLimit = 20;
constexpr const char* kDefaultPprofFile = "profile.pb.gz";
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

struct Flags {
  std::string endpoint = kDefaultEndpoint;
  std::string output = "table";
  std::string service;
  std::string window = "60s";
  std::string sort;  // "" = rps for routes, own for --functions
  std::string interval = "1s";
  bool once = false;
  bool functions = false;
  std::string route;
  size_t limit = 0;  // routes: 0 = all; functions: see limit_set
  bool limit_set = false;
  // profile
  std::string duration = "30s";
  std::string format = "folded";
  std::string output_file;
};

class Client {
 public:
  explicit Client(const std::string& endpoint)
      : stub_(v1::Perfd::NewStub(CreatePerfdChannel(endpoint))) {}

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
  grpc::Status GetFunctions(const std::string& service, uint32_t window, const std::string& route,
                            v1::GetFunctionsResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
    v1::GetFunctionsRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    return stub_->GetFunctions(&ctx, request, out);
  }
  grpc::Status GetQueries(const std::string& service, uint32_t window, const std::string& route,
                          v1::GetQueriesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
    v1::GetQueriesRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    return stub_->GetQueries(&ctx, request, out);
  }
  grpc::Status GetProfile(const std::string& service, uint32_t seconds, const std::string& route,
                          v1::GetProfileResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds) +
                     kProfileDeadlineSlack);
    v1::GetProfileRequest request;
    request.set_service(service);
    request.set_duration_seconds(seconds);
    request.set_route(route);
    return stub_->GetProfile(&ctx, request, out);
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
  options.sort = *ParseSortKey(flags.sort.empty() ? "rps" : flags.sort);
  options.limit = flags.limit;
  v1::ListServicesResponse services;
  if (grpc::Status s = client.ListServices(&services); !s.ok()) return Fail(s, flags);
  for (const auto& service : services.services()) {
    if (service.name() == flags.service) options.workers = service.workers_size();
  }
  *text = RenderTopTable(top, options);
  return kExitOk;
}

// One GetFunctions rendered as text (or JSON).
int FunctionsOnce(Client& client, const Flags& flags, uint32_t window, std::string* text) {
  v1::GetFunctionsResponse functions;
  if (grpc::Status s = client.GetFunctions(flags.service, window, flags.route, &functions);
      !s.ok()) {
    return Fail(s, flags);
  }
  if (flags.output == "json") {
    *text = ToJson(functions);
    return kExitOk;
  }
  FunctionsTableOptions options;
  options.sort = *ParseFunctionSortKey(flags.sort.empty() ? "own" : flags.sort);
  options.limit = flags.limit_set ? flags.limit : kDefaultFunctionLimit;
  options.route = flags.route;
  *text = RenderFunctionsTable(functions, options);
  return kExitOk;
}

int RunTop(const Flags& flags) {
  Client client(flags.endpoint);
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  const auto interval = *ParseDuration(flags.interval);
  const std::function<int(std::string*)> once = [&](std::string* text) {
    return flags.functions ? FunctionsOnce(client, flags, window, text)
                           : TopOnce(client, flags, window, text);
  };
  std::string text;
  if (flags.once || flags.output == "json") {
    const int rc = once(&text);
    std::cout << text << std::flush;
    return rc;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) {
    if (int rc = once(&text); rc != kExitOk) return rc;
    // Home + clear, then the frame: one write so the screen never flickers empty.
    std::cout << "\x1b[H\x1b[2J" << text << std::flush;
    for (auto slept = std::chrono::milliseconds(0); slept < interval && !g_stop;
         slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return kExitOk;
}

// Columns of the terminal on stdout; 0 (no cut) when it is not a terminal,
// so a pipe gets whole fingerprints.
size_t TerminalWidth() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) return ws.ws_col;
  return 0;
}

int RunQueries(const Flags& flags) {
  Client client(flags.endpoint);
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  v1::GetQueriesResponse queries;
  if (grpc::Status s = client.GetQueries(flags.service, window, flags.route, &queries); !s.ok()) {
    return Fail(s, flags);
  }
  if (flags.output == "json") {
    std::cout << ToJson(queries) << std::flush;
    return kExitOk;
  }
  QueriesTableOptions options;
  options.limit = flags.limit_set ? flags.limit : kDefaultQueryLimit;
  options.width = TerminalWidth();
  std::cout << RenderQueriesTable(queries, options) << std::flush;
  return kExitOk;
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (out) return true;
  std::cerr << "perfctl: cannot write " << path << ": " << std::strerror(errno) << std::endl;
  return false;
}

int RunProfile(const Flags& flags) {
  Client client(flags.endpoint);
  const auto seconds = static_cast<uint32_t>(ParseDuration(flags.duration)->count() / 1000);
  const std::string what = flags.service + (flags.route.empty() ? "" : " route " + flags.route);
  // stderr, so a folded profile on stdout stays clean.
  std::cerr << "perfctl: profiling " << what << " for " << seconds << "s..." << std::endl;
  v1::GetProfileResponse profile;
  if (grpc::Status s = client.GetProfile(flags.service, seconds, flags.route, &profile); !s.ok()) {
    return Fail(s, flags);
  }
  uint64_t samples = 0;
  for (const auto& stack : profile.stacks()) samples += stack.samples();
  if (samples == 0) {
    std::cerr << "perfctl: no Python samples of " << what << " in " << seconds << "s (was it busy?)"
              << std::endl;
  }

  std::string bytes, path = flags.output_file;
  if (flags.format == "pprof") {
    if (path.empty()) path = kDefaultPprofFile;
    std::string serialized;
    ToPprof(profile, "perfd profile of " + what).SerializeToString(&serialized);
    bytes = Gzip(serialized);
  } else {
    bytes = ToFolded(profile);
  }
  if (path.empty()) {
    std::cout << bytes << std::flush;
    return kExitOk;
  }
  if (!WriteFile(path, bytes)) return kExitError;
  std::cerr << "perfctl: wrote " << samples << " samples in " << profile.stacks_size()
            << " stacks to " << path << std::endl;
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
  CLI::App app{"perfctl: per-route latency and Python CPU of the services perfd traces", "perfctl"};
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

  CLI::App* top = app.add_subcommand(
      "top", "Per-route request rate, errors, latency and Python CPU; --functions: hot functions");
  top->add_option("-s,--service", flags.service, "Service name (see `perfctl services`)")
      ->required();
  top->add_option("-w,--window", flags.window, "Sliding window, whole seconds (30s, 5m)")
      ->check(DurationValidator(CheckWindow, "DURATION"))
      ->capture_default_str();
  std::vector<std::string> sort_names = SortKeyNames();
  for (const auto& name : FunctionSortKeyNames()) sort_names.push_back(name);
  top->add_option("--sort", flags.sort,
                  "Sort key, descending (route: by name); default rps, or own with --functions")
      ->check(CLI::IsMember(sort_names));
  top->add_flag("--once", flags.once, "Print one table and exit");
  top->add_option("--interval", flags.interval, "Redraw period in live mode (>= 100ms)")
      ->check(DurationValidator(CheckInterval, "DURATION"))
      ->capture_default_str();
  top->add_option("-o,--output", flags.output, "table or json (json implies --once)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  CLI::Option* limit = top->add_option(
      "--limit", flags.limit, "Show at most N routes (default 0: all) or functions (default 30)");
  CLI::Option* functions =
      top->add_flag("--functions", flags.functions, "Hot Python functions instead of routes");
  top->add_option("-r,--route", flags.route,
                  "With --functions: only this route (\"/users/{user_id}\" or \"GET /users/...\")")
      ->needs(functions);

  CLI::App* profile =
      app.add_subcommand("profile", "Record Python stacks for a while (flame graph / pprof)");
  profile->add_option("-s,--service", flags.service, "Service name (see `perfctl services`)")
      ->required();
  profile->add_option("-d,--duration", flags.duration, "How long to record, whole seconds")
      ->check(DurationValidator(CheckProfileDuration, "DURATION"))
      ->capture_default_str();
  profile->add_option("-r,--route", flags.route, "Only this route's samples");
  profile->add_option("-o,--format", flags.format, "folded (flamegraph.pl) or pprof")
      ->check(CLI::IsMember({"folded", "pprof"}))
      ->capture_default_str();
  profile->add_option("--output", flags.output_file,
                      "File to write (default: stdout for folded, profile.pb.gz for pprof)");

  CLI::App* queries = app.add_subcommand(
      "queries", "Database and cache statements by total time: rate, latency, rows, errors, N+1");
  queries->add_option("-s,--service", flags.service, "Service name (see `perfctl services`)")
      ->required();
  queries->add_option("-r,--route", flags.route,
                      "Only statements this route issued (\"/users/{user_id}\" or \"GET /...\")");
  queries->add_option("-w,--window", flags.window, "Sliding window, whole seconds (30s, 5m)")
      ->check(DurationValidator(CheckWindow, "DURATION"))
      ->capture_default_str();
  queries->add_option("-o,--output", flags.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  CLI::Option* query_limit = queries->add_option(
      "--limit", flags.limit, "Show at most N fingerprints (default 20; 0: all)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version exit 0; every usage error is 2, whatever CLI11's code.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  flags.limit_set = limit->count() > 0 || query_limit->count() > 0;
  if (top->parsed() && !flags.sort.empty()) {
    // One --sort flag serves both tables; each takes only its own keys.
    const bool function_key = ParseFunctionSortKey(flags.sort).has_value();
    if (function_key != flags.functions) {
      std::cerr << "--sort: " << flags.sort
                << (flags.functions ? " is not a --functions sort key (own, total)"
                                    : " sorts functions: use it with --functions")
                << std::endl;
      return kExitUsage;
    }
  }
  if (services->parsed()) return RunServices(flags);
  if (queries->parsed()) return RunQueries(flags);
  return profile->parsed() ? RunProfile(flags) : RunTop(flags);
}
