// perfctl: the command-line client of perfd's gRPC API (docs/PERFCTL.md).
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/blocking_table.h"
#include "cli/breakdown_merge.h"
#include "cli/breakdown_table.h"
#include "cli/duration.h"
#include "cli/endpoint.h"
#include "cli/explain_view.h"
#include "cli/fan_out.h"
#include "cli/folded.h"
#include "cli/functions_table.h"
#include "cli/json_output.h"
#include "cli/nodes.h"
#include "cli/nodes_json.h"
#include "cli/pprof_export.h"
#include "cli/queries_table.h"
#include "cli/services_table.h"
#include "cli/top_merge.h"
#include "cli/top_table.h"
#include "perfd/v1/perfd.grpc.pb.h"

namespace perfd::cli {
namespace {

constexpr const char* kDefaultTimeout = "3s";
// GetProfile blocks for its duration; this is on top of it.
constexpr auto kProfileDeadlineSlack = std::chrono::seconds(30);
constexpr size_t kDefaultFunctionLimit = 30;
constexpr size_t kDefaultQueryLimit = 20;
constexpr size_t kDefaultBlockingLimit = 20;
constexpr const char* kDefaultPprofFile = "profile.pb.gz";
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

struct Flags {
  std::vector<std::string> endpoints;  // empty: kDefaultEndpoint
  ClientTls tls;
  std::string timeout = kDefaultTimeout;
  std::string output = "table";
  std::string service;
  std::string window = "60s";
  std::string sort;  // "" = rps for routes, own for --functions
  std::string interval = "1s";
  bool once = false;
  bool functions = false;
  bool breakdown = false;  // top --breakdown
  bool by_node = false;
  bool stacks = false;  // blocking --stacks
  std::string route;
  size_t limit = 0;  // routes: 0 = all; functions: see limit_set
  bool limit_set = false;
  // profile
  std::string duration = "30s";
  std::string format = "folded";
  std::string output_file;

  std::chrono::milliseconds rpc_timeout() const { return *ParseDuration(timeout); }
};

class Client {
 public:
  Client(const Node& node, const Flags& flags)
      : stub_(v1::Perfd::NewStub(CreatePerfdChannel(node.target, flags.tls, node.tls_name))),
        timeout_(flags.rpc_timeout()) {}

  grpc::Status ListServices(v1::ListServicesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    return stub_->ListServices(&ctx, v1::ListServicesRequest(), out);
  }
  grpc::Status GetTop(const std::string& service, uint32_t window, v1::GetTopResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::GetTopRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    return stub_->GetTop(&ctx, request, out);
  }
  grpc::Status GetFunctions(const std::string& service, uint32_t window, const std::string& route,
                            const std::string& category, v1::GetFunctionsResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::GetFunctionsRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    request.set_category(category);
    return stub_->GetFunctions(&ctx, request, out);
  }
  grpc::Status GetBreakdown(const std::string& service, uint32_t window, const std::string& route,
                            v1::GetBreakdownResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::GetBreakdownRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    return stub_->GetBreakdown(&ctx, request, out);
  }
  grpc::Status GetQueries(const std::string& service, uint32_t window, const std::string& route,
                          v1::GetQueriesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::GetQueriesRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    return stub_->GetQueries(&ctx, request, out);
  }
  grpc::Status GetBlocking(const std::string& service, uint32_t window, const std::string& route,
                           uint32_t limit, v1::GetBlockingResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    v1::GetBlockingRequest request;
    request.set_service(service);
    request.set_window_seconds(window);
    request.set_route(route);
    request.set_limit(limit);
    return stub_->GetBlocking(&ctx, request, out);
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
  std::chrono::milliseconds timeout_;
};

int Fail(const grpc::Status& status, const std::string& node) {
  std::cerr << DescribeRpcError(status, node) << std::endl;
  return kExitError;
}

// The one node of a command that reads a single perfd (queries, profile,
// top --functions); nullopt (after a usage message) when there are several.
std::optional<Node> SingleNode(const std::vector<Node>& nodes, const char* what) {
  if (nodes.size() == 1) return nodes.front();
  std::cerr << "perfctl: " << what << " reads one perfd, but the endpoints name " << nodes.size()
            << " (";
  for (size_t i = 0; i < nodes.size(); ++i) std::cerr << (i ? ", " : "") << nodes[i].name;
  std::cerr << "): give one --endpoint" << std::endl;
  return std::nullopt;
}

// Several nodes: one warning line on stderr per node that did not answer.
void Warn(const std::vector<NodeFailure>& failed) {
  for (const auto& f : failed) {
    std::cerr << "perfctl: warning: no answer from " << f.node << " (" << f.error
              << "); the result is partial" << std::endl;
  }
}

int RunServices(const Flags& flags, const std::vector<Node>& nodes) {
  if (nodes.size() == 1) {
    Client client(nodes.front(), flags);
    v1::ListServicesResponse services;
    if (grpc::Status s = client.ListServices(&services); !s.ok()) {
      return Fail(s, nodes.front().name);
    }
    std::cout << (flags.output == "json" ? ToJson(services) : RenderServicesTable(services));
    return kExitOk;
  }
  const auto answers =
      CallEach<v1::ListServicesResponse>(nodes, [&](size_t i, v1::ListServicesResponse* out) {
        return Client(nodes[i], flags).ListServices(out);
      });
  std::vector<v1::ListServicesResponse> ok;
  std::vector<std::string> answered;
  std::vector<NodeFailure> failed;
  for (const auto& a : answers) {
    if (a.status.ok()) {
      ok.push_back(a.response);
      answered.push_back(a.node->name);
    } else {
      failed.push_back({a.node->name, DescribeRpcError(a.status, a.node->name)});
    }
  }
  if (ok.empty()) {
    for (const auto& f : failed) std::cerr << f.error << std::endl;
    return kExitError;
  }
  Warn(failed);
  const v1::ListServicesResponse merged = MergeServices(ok);
  std::cout << (flags.output == "json" ? ToJsonWithNodes(merged, answered, failed)
                                       : RenderServicesTable(merged));
  return failed.empty() ? kExitOk : kExitPartial;
}

// One node's part of `top`: its routes, and its worker count for the header.
struct NodeTopAnswer {
  v1::GetTopResponse top;
  int workers = 0;
};

grpc::Status GetNodeTop(Client& client, const Flags& flags, uint32_t window, NodeTopAnswer* out) {
  if (grpc::Status s = client.GetTop(flags.service, window, &out->top); !s.ok()) return s;
  if (flags.output == "json") return grpc::Status::OK;
  v1::ListServicesResponse services;
  if (grpc::Status s = client.ListServices(&services); !s.ok()) return s;
  for (const auto& service : services.services()) {
    if (service.name() == flags.service) out->workers = service.workers_size();
  }
  return grpc::Status::OK;
}

// One GetTop (plus ListServices for the worker count) rendered as text.
int TopOnce(Client& client, const Flags& flags, uint32_t window, const std::string& node,
            std::string* text) {
  NodeTopAnswer answer;
  if (grpc::Status s = GetNodeTop(client, flags, window, &answer); !s.ok()) return Fail(s, node);
  if (flags.output == "json") {
    *text = ToJson(answer.top);
    return kExitOk;
  }
  TopTableOptions options;
  options.sort = *ParseSortKey(flags.sort.empty() ? "rps" : flags.sort);
  options.limit = flags.limit;
  options.workers = answer.workers;
  *text = RenderTopTable(answer.top, options);
  return kExitOk;
}

// GetTop from every node at once, merged. A node that does not trace the
// service (NOT_FOUND) answered: it has no routes. warn: print the warning
// lines (not in live mode, where they would scroll the screen).
// clients[i] talks to nodes[i] (kept across live-mode frames: one channel,
// and one TLS handshake, per node).
int TopAcrossNodes(const std::vector<Node>& nodes, std::vector<Client>& clients, const Flags& flags,
                   uint32_t window, bool warn, std::string* text) {
  const auto answers = CallEach<NodeTopAnswer>(nodes, [&](size_t i, NodeTopAnswer* out) {
    return GetNodeTop(clients[i], flags, window, out);
  });
  std::vector<NodeTop> tops;
  std::vector<std::string> answered;
  std::vector<NodeFailure> failed;
  const grpc::Status* not_found = nullptr;
  int workers = 0;
  for (const auto& a : answers) {
    if (a.status.ok()) {
      tops.push_back({a.node->name, a.response.top});
      answered.push_back(a.node->name);
      workers += a.response.workers;
    } else if (a.status.error_code() == grpc::StatusCode::NOT_FOUND) {
      answered.push_back(a.node->name);
      not_found = not_found ? not_found : &a.status;
    } else {
      failed.push_back({a.node->name, DescribeRpcError(a.status, a.node->name)});
    }
  }
  if (tops.empty()) {
    // No node has the service, or none answered: an error, as with one perfd.
    for (const auto& f : failed) std::cerr << f.error << std::endl;
    if (not_found) std::cerr << DescribeRpcError(*not_found, answered.front()) << std::endl;
    return kExitError;
  }
  if (warn) Warn(failed);
  const MergedTop merged = MergeTop(tops);
  if (flags.output == "json") {
    *text = ToJsonWithNodes(merged.top, answered, failed, &merged.route_nodes,
                            flags.by_node ? &tops : nullptr);
  } else {
    TopTableOptions options;
    options.sort = *ParseSortKey(flags.sort.empty() ? "rps" : flags.sort);
    options.limit = flags.limit;
    options.workers = workers;
    options.route_nodes = &merged.route_nodes;
    options.nodes = answered.size();
    for (const auto& f : failed) options.failed_nodes.push_back(f.node);
    options.by_node = flags.by_node ? &tops : nullptr;
    *text = RenderTopTable(merged.top, options);
  }
  return failed.empty() ? kExitOk : kExitPartial;
}

// One GetFunctions rendered as text (or JSON).
int FunctionsOnce(Client& client, const Flags& flags, uint32_t window, const std::string& node,
                  std::string* text) {
  v1::GetFunctionsResponse functions;
  if (grpc::Status s = client.GetFunctions(flags.service, window, flags.route, "", &functions);
      !s.ok()) {
    return Fail(s, node);
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

// One GetBreakdown rendered as text (or JSON).
int BreakdownOnce(Client& client, const Flags& flags, uint32_t window, const std::string& node,
                  std::string* text) {
  v1::GetBreakdownResponse breakdown;
  if (grpc::Status s = client.GetBreakdown(flags.service, window, "", &breakdown); !s.ok()) {
    std::cerr << DescribeRpcError(s, node, "GetBreakdown") << std::endl;
    return kExitError;
  }
  if (flags.output == "json") {
    *text = ToJson(breakdown);
    return kExitOk;
  }
  BreakdownTableOptions options;
  if (!flags.sort.empty()) options.sort = flags.sort;
  options.limit = flags.limit;
  *text = RenderBreakdownTable(breakdown, options);
  return kExitOk;
}

// GetBreakdown from every node at once, merged (MergeBreakdown); nodes
// that fail and nodes without the service as TopAcrossNodes treats them.
int BreakdownAcrossNodes(const std::vector<Node>& nodes, std::vector<Client>& clients,
                         const Flags& flags, uint32_t window, bool warn, std::string* text) {
  const auto answers =
      CallEach<v1::GetBreakdownResponse>(nodes, [&](size_t i, v1::GetBreakdownResponse* out) {
        return clients[i].GetBreakdown(flags.service, window, "", out);
      });
  std::vector<NodeBreakdown> answered_nodes;
  std::vector<std::string> answered;
  std::vector<NodeFailure> failed;
  const grpc::Status* not_found = nullptr;
  for (const auto& a : answers) {
    if (a.status.ok()) {
      answered_nodes.push_back({a.node->name, a.response});
      answered.push_back(a.node->name);
    } else if (a.status.error_code() == grpc::StatusCode::NOT_FOUND) {
      answered.push_back(a.node->name);
      not_found = not_found ? not_found : &a.status;
    } else {
      failed.push_back({a.node->name, DescribeRpcError(a.status, a.node->name, "GetBreakdown")});
    }
  }
  if (answered_nodes.empty()) {
    for (const auto& f : failed) std::cerr << f.error << std::endl;
    if (not_found) std::cerr << DescribeRpcError(*not_found, answered.front()) << std::endl;
    return kExitError;
  }
  if (warn) Warn(failed);
  const MergedBreakdown merged = MergeBreakdown(answered_nodes);
  if (flags.output == "json") {
    *text = ToJsonWithNodes(merged.breakdown, answered, failed);
  } else {
    BreakdownTableOptions options;
    if (!flags.sort.empty()) options.sort = flags.sort;
    options.limit = flags.limit;
    options.route_nodes = &merged.route_nodes;
    options.nodes = answered.size();
    for (const auto& f : failed) options.failed_nodes.push_back(f.node);
    options.unsampled_nodes = merged.unsampled_nodes;
    options.untraced_loop_nodes = merged.untraced_loop_nodes;
    *text = RenderBreakdownTable(merged.breakdown, options);
  }
  return failed.empty() ? kExitOk : kExitPartial;
}

// One frame: its exit code, and the text in *text. warn: print warning
// lines on stderr (not in live mode, where they would scroll the screen).
using DrawFrame = std::function<int(bool warn, std::string* text)>;

// --once or -o json: one frame. Else redraws every --interval until Ctrl-C
// or SIGTERM (exit 0), or until a frame fails.
int RunLive(const Flags& flags, const DrawFrame& once) {
  std::string text;
  if (flags.once || flags.output == "json") {
    const int rc = once(true, &text);
    std::cout << text << std::flush;
    return rc;
  }
  const auto interval = *ParseDuration(flags.interval);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) {
    // A partial frame is drawn (its header says PARTIAL); no node at all ends it.
    if (int rc = once(false, &text); rc != kExitOk && rc != kExitPartial) return rc;
    // Home + clear, then the frame: one write so the screen never flickers empty.
    std::cout << "\x1b[H\x1b[2J" << text << std::flush;
    for (auto slept = std::chrono::milliseconds(0); slept < interval && !g_stop;
         slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return kExitOk;
}

int RunTop(const Flags& flags, const std::vector<Node>& nodes) {
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  // --by-node with one perfd still shows the node: the same table as several.
  const bool several = nodes.size() > 1 || flags.by_node;
  std::optional<Node> single;
  if (flags.functions && !(single = SingleNode(nodes, "top --functions"))) return kExitUsage;
  if (!several) single = nodes.front();
  std::optional<Client> client;
  if (single) client.emplace(*single, flags);
  std::vector<Client> clients;
  if (several && !flags.functions) {
    for (const Node& node : nodes) clients.emplace_back(node, flags);
  }
  const auto once = [&](bool warn, std::string* text) {
    if (flags.functions) return FunctionsOnce(*client, flags, window, single->name, text);
    if (flags.breakdown) {
      if (several) return BreakdownAcrossNodes(nodes, clients, flags, window, warn, text);
      return BreakdownOnce(*client, flags, window, single->name, text);
    }
    if (several) return TopAcrossNodes(nodes, clients, flags, window, warn, text);
    return TopOnce(*client, flags, window, single->name, text);
  };
  return RunLive(flags, once);
}

// Columns of the terminal on stdout; 0 (no cut) when it is not a terminal,
// so a pipe gets whole fingerprints.
size_t TerminalWidth() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) return ws.ws_col;
  return 0;
}

int RunQueries(const Flags& flags, const std::vector<Node>& nodes) {
  const std::optional<Node> node = SingleNode(nodes, "queries");
  if (!node) return kExitUsage;
  Client client(*node, flags);
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  v1::GetQueriesResponse queries;
  if (grpc::Status s = client.GetQueries(flags.service, window, flags.route, &queries); !s.ok()) {
    return Fail(s, node->name);
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

// Reads one perfd, as `queries` does: several endpoints are a usage error.
int RunBlocking(const Flags& flags, const std::vector<Node>& nodes) {
  const std::optional<Node> node = SingleNode(nodes, "blocking");
  if (!node) return kExitUsage;
  Client client(*node, flags);
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  // --limit 0 is "all", as for queries; the server's 0 is its default.
  const size_t limit = flags.limit_set ? flags.limit : kDefaultBlockingLimit;
  const auto request_limit =
      static_cast<uint32_t>(std::min<size_t>(limit == 0 ? UINT32_MAX : limit, UINT32_MAX));
  BlockingTableOptions options;
  options.route = flags.route;
  options.stacks = flags.stacks;
  return RunLive(flags, [&](bool /*warn*/, std::string* text) {
    v1::GetBlockingResponse blocking;
    if (grpc::Status s =
            client.GetBlocking(flags.service, window, flags.route, request_limit, &blocking);
        !s.ok()) {
      return Fail(s, node->name);
    }
    *text = flags.output == "json" ? ToJson(blocking) : RenderBlockingTable(blocking, options);
    return kExitOk;
  });
}

// The route `explain` is about, from GetBreakdown(route): into data, or
// (after a message) exit 1 when the service or route is unknown, the route
// names several, or the call fails.
int FindExplainedRoute(Client& client, const Flags& flags, uint32_t window, const std::string& node,
                       ExplainData* data) {
  v1::GetBreakdownResponse answer;
  const grpc::Status s = client.GetBreakdown(flags.service, window, flags.route, &answer);
  if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
    std::cerr << DescribeRpcError(s, node, "GetBreakdown") << std::endl;
    return kExitError;
  }
  if (s.ok() && answer.routes_size() == 1) {
    data->route = answer.routes(0);
    data->breakdown = std::move(answer);
    return kExitOk;
  }
  if (s.ok() && answer.routes_size() > 1) {
    std::cerr << "perfctl: " << AmbiguousRouteMessage(flags.route, answer) << std::endl;
    return kExitError;
  }
  // No such route (an empty answer, or NOT_FOUND): name the ones there are.
  // When the service itself is unknown, this call fails too and the
  // server's message (which names the services) is the one to show.
  v1::GetBreakdownResponse all;
  if (grpc::Status s_all = client.GetBreakdown(flags.service, window, "", &all); !s_all.ok()) {
    std::cerr << DescribeRpcError(s_all, node, "GetBreakdown") << std::endl;
    return kExitError;
  }
  std::cerr << "perfctl: " << UnknownRouteMessage(flags.route, all) << std::endl;
  return kExitError;
}

// Reads one perfd: the route's breakdown, then what explains its parts.
// A detail call that fails leaves its section out, says so (stderr and the
// output) and makes the exit code 1.
int RunExplain(const Flags& flags, const std::vector<Node>& nodes) {
  const std::optional<Node> node = SingleNode(nodes, "explain");
  if (!node) return kExitUsage;
  Client client(*node, flags);
  const auto window = static_cast<uint32_t>(ParseDuration(flags.window)->count() / 1000);
  ExplainData data;
  if (int rc = FindExplainedRoute(client, flags, window, node->name, &data); rc != kExitOk) {
    return rc;
  }
  // Details by the route's full name ("GET /x"), whatever form was asked.
  const std::string route = data.route.route();
  for (const PartName* part : PartsToProfile(data.route)) {
    ExplainFunctions f{part->part, {}};
    if (grpc::Status s =
            client.GetFunctions(flags.service, window, route, part->category, &f.functions);
        s.ok()) {
      data.functions.push_back(std::move(f));
    } else {
      data.errors.push_back(DescribeRpcError(s, node->name));
    }
  }
  if (WantsQueries(data.route)) {
    if (grpc::Status s = client.GetQueries(flags.service, window, route, &data.queries); s.ok()) {
      data.has_queries = true;
    } else {
      data.errors.push_back(DescribeRpcError(s, node->name));
    }
  }
  if (grpc::Status s = client.GetBlocking(flags.service, window, route,
                                          static_cast<uint32_t>(kExplainSites), &data.blocking);
      s.ok()) {
    data.has_blocking = true;
  } else {
    data.errors.push_back(DescribeRpcError(s, node->name));
  }
  std::cout << (flags.output == "json" ? ExplainToJson(data) : RenderExplain(data)) << std::flush;
  for (const auto& e : data.errors) std::cerr << e << std::endl;
  return data.errors.empty() ? kExitOk : kExitError;
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (out) return true;
  std::cerr << "perfctl: cannot write " << path << ": " << std::strerror(errno) << std::endl;
  return false;
}

int RunProfile(const Flags& flags, const std::vector<Node>& nodes) {
  const std::optional<Node> node = SingleNode(nodes, "profile");
  if (!node) return kExitUsage;
  Client client(*node, flags);
  const auto seconds = static_cast<uint32_t>(ParseDuration(flags.duration)->count() / 1000);
  const std::string what = flags.service + (flags.route.empty() ? "" : " route " + flags.route);
  // stderr, so a folded profile on stdout stays clean.
  std::cerr << "perfctl: profiling " << what << " for " << seconds << "s..." << std::endl;
  v1::GetProfileResponse profile;
  if (grpc::Status s = client.GetProfile(flags.service, seconds, flags.route, &profile); !s.ok()) {
    return Fail(s, node->name);
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

// One --sort flag serves the three tables of `top`; each takes only its
// own keys. "" when the key fits the table, else why not (after the key).
std::string SortKeyError(const Flags& flags) {
  const std::string& key = flags.sort;
  if (flags.breakdown) {
    if (IsBreakdownSortKey(key)) return "";
    std::string names;
    for (const auto& n : BreakdownSortKeyNames()) names += (names.empty() ? "" : ", ") + n;
    return " is not a --breakdown sort key (" + names + ")";
  }
  if (flags.functions) {
    return ParseFunctionSortKey(key) ? "" : " is not a --functions sort key (own, total)";
  }
  if (ParseSortKey(key)) return "";
  return ParseFunctionSortKey(key) ? " sorts functions: use it with --functions"
                                   : " sorts --breakdown: use it with --breakdown";
}

CLI::Validator DurationValidator(std::string (*check)(const std::string&), const char* name) {
  return CLI::Validator([check](std::string& text) { return check(text); }, name);
}

}  // namespace
}  // namespace perfd::cli

int main(int argc, char** argv) {
  using namespace perfd::cli;
  // perfctl says what failed in one line of its own (DescribeRpcError, which
  // carries gRPC's reason, e.g. a TLS handshake error); gRPC's log lines
  // would repeat it. GRPC_VERBOSITY set in the environment keeps them.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});
  Flags flags;
  CLI::App app{"perfctl: per-route latency and Python CPU of the services perfd traces", "perfctl"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.add_option("--endpoint", flags.endpoints,
                 "perfd API: unix:///path/to.sock, a socket path, or host:port; repeat it (or "
                 "separate with commas) to ask several perfd; a host:port whose name resolves to "
                 "several addresses asks each")
      ->envname("PERFCTL_ENDPOINT")
      ->delimiter(',')
      ->default_str(kDefaultEndpoint);
  app.add_option("--tls-ca", flags.tls.ca,
                 "TCP endpoints: CA (PEM) that signed perfd's certificate; turns TLS on")
      ->envname("PERFCTL_TLS_CA");
  app.add_option("--tls-cert", flags.tls.cert, "TCP endpoints: client certificate (PEM) for mTLS")
      ->envname("PERFCTL_TLS_CERT");
  app.add_option("--tls-key", flags.tls.key, "TCP endpoints: client private key (PEM) for mTLS")
      ->envname("PERFCTL_TLS_KEY");
  app.add_option("--timeout", flags.timeout,
                 "Deadline of each call, per endpoint (a slower endpoint is reported and left out)")
      ->envname("PERFCTL_TIMEOUT")
      ->check(DurationValidator(CheckTimeout, "DURATION"))
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
  for (const auto& name : BreakdownSortKeyNames()) sort_names.push_back(name);
  top->add_option("--sort", flags.sort,
                  "Sort key, descending (route: by name); default rps, own with --functions, "
                  "time with --breakdown")
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
  CLI::Option* breakdown = top->add_flag(
      "--breakdown", flags.breakdown,
      "Where each route's request time goes: ms per request in each part (queued, CPU by "
      "category, DB, loop, GC, other)");
  breakdown->excludes(functions);
  top->add_flag("--by-node", flags.by_node,
                "Under each route, one row per node (perfd endpoint) with its own numbers")
      ->excludes(functions)
      ->excludes(breakdown);
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

  CLI::App* blocking = app.add_subcommand(
      "blocking", "Event-loop blocking events by call site: what held the loop, who waited");
  blocking->add_option("-s,--service", flags.service, "Service name (see `perfctl services`)")
      ->required();
  blocking->add_option("-r,--route", flags.route,
                       "Only events this route held the loop for (\"/users/{user_id}\" or \"GET "
                       "/...\")");
  blocking->add_option("-w,--window", flags.window, "Sliding window, whole seconds (30s, 5m)")
      ->check(DurationValidator(CheckWindow, "DURATION"))
      ->capture_default_str();
  CLI::Option* blocking_limit = blocking->add_option(
      "--limit", flags.limit, "Show at most N sites, largest total first (default 20; 0: all)");
  blocking->add_flag("--stacks", flags.stacks, "Under each site, its Python stack (leaf first)");
  blocking->add_flag("--once", flags.once, "Print one table and exit");
  blocking->add_option("--interval", flags.interval, "Redraw period in live mode (>= 100ms)")
      ->check(DurationValidator(CheckInterval, "DURATION"))
      ->capture_default_str();
  blocking->add_option("-o,--output", flags.output, "table or json (json implies --once)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  CLI::App* explain =
      app.add_subcommand("explain",
                         "One route's request time part by part, with the functions, queries and "
                         "blocking behind each part");
  explain->add_option("-s,--service", flags.service, "Service name (see `perfctl services`)")
      ->required();
  explain
      ->add_option("-r,--route", flags.route,
                   "The route: \"GET /users/{user_id}\", or \"/users/{user_id}\" when one method "
                   "serves it")
      ->required();
  explain->add_option("-w,--window", flags.window, "Sliding window, whole seconds (30s, 5m)")
      ->check(DurationValidator(CheckWindow, "DURATION"))
      ->capture_default_str();
  explain->add_option("-o,--output", flags.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version exit 0; every usage error is 2, whatever CLI11's code.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  flags.limit_set = limit->count() > 0 || query_limit->count() > 0 || blocking_limit->count() > 0;
  if (top->parsed() && !flags.sort.empty()) {
    if (const std::string error = SortKeyError(flags); !error.empty()) {
      std::cerr << "--sort: " << flags.sort << error << std::endl;
      return kExitUsage;
    }
  }
  if (const std::string error = CheckClientTls(flags.tls); !error.empty()) {
    std::cerr << "perfctl: " << error << std::endl;
    return kExitUsage;
  }
  if (flags.endpoints.empty()) flags.endpoints.push_back(kDefaultEndpoint);
  const std::vector<Node> nodes = ExpandEndpoints(flags.endpoints);
  if (services->parsed()) return RunServices(flags, nodes);
  if (queries->parsed()) return RunQueries(flags, nodes);
  if (blocking->parsed()) return RunBlocking(flags, nodes);
  if (explain->parsed()) return RunExplain(flags, nodes);
  return profile->parsed() ? RunProfile(flags, nodes) : RunTop(flags, nodes);
}
