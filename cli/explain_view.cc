#include "cli/explain_view.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "cli/blocking_table.h"
#include "cli/clock_time.h"
#include "cli/db_text.h"
#include "cli/frame_label.h"
#include "cli/json_output.h"
#include "cli/terminal_text.h"
#include "cli/text_table.h"
#include "cli/top_table.h"

namespace perfd::cli {
namespace {

// JSON by hand around protobuf's own mapping of each message, so keys keep
// a fixed, documented order (a google.protobuf.Struct's would not).
std::string JsonOf(const google::protobuf::Message& message) {
  std::string json = ToJson(message);
  json.pop_back();  // its newline
  return json;
}
std::string JsonString(const std::string& text) {
  google::protobuf::Value v;
  v.set_string_value(text);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(v, &json);
  return json;
}
std::string JsonNumber(double value) {
  google::protobuf::Value v;
  v.set_number_value(value);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(v, &json);
  return json;
}
std::string JsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    out += (i ? "," : "") + JsonString(fields[i].first) + ":" + fields[i].second;
  }
  return out + "}";
}

// A finding's or fingerprint's text, cut to fit a line.
constexpr size_t kFingerprintWidth = 60;

std::string Indent(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += "  " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

std::string PartLabel(const std::string& part) {
  const PartName* name = FindPartName(part);
  return name == nullptr ? part : name->label;
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

double PerRequest(double seconds, const v1::RouteBreakdown& route) {
  return route.requests() > 0 ? seconds / static_cast<double>(route.requests()) : 0.0;
}

std::string Header(const ExplainData& d) {
  const v1::RouteBreakdown& r = d.route;
  std::string out = "service " + EscapeForTerminal(d.breakdown.service()) + "   route " +
                    EscapeForTerminal(r.route()) + "   window " +
                    std::to_string(d.breakdown.window_seconds()) + "s";
  if (const std::string at = ClockTime(d.breakdown.timestamp_unix_nanos()); !at.empty()) {
    out += "   at " + at;
  }
  out +=
      "\nrequests " + std::to_string(r.requests()) + "   mean " + FormatLatency(r.mean_seconds());
  if (r.tail_requests() > 0) {
    out += "   p99 " + FormatLatency(r.tail_threshold_seconds()) + "   tail " +
           Plural(r.tail_requests(), "request", "requests") + " (of the last " +
           std::to_string(r.recent_requests()) + ") at or above it, mean " +
           FormatLatency(r.tail_mean_seconds());
  }
  return out + "\n\n";
}

std::string Waterfall(const ExplainData& d) {
  const v1::RouteBreakdown& r = d.route;
  const bool tail = r.tail_requests() > 0;
  const bool quantiles = r.recent_requests() > 0;
  using A = TextTable::Align;
  TextTable table({{"PART", A::kLeft},
                   {"MEAN", A::kRight},
                   {"MEAN%", A::kRight},
                   {"TAIL", A::kRight},
                   {"TAIL%", A::kRight},
                   {"P50", A::kRight},
                   {"P99", A::kRight},
                   {"", A::kLeft}});
  std::vector<std::string> hidden;
  double before = 0;  // the mean of the parts above: where this part's bar starts
  for (const auto& p : r.parts()) {
    if (!(p.mean_seconds() > 0) && !(p.tail_mean_seconds() > 0)) {
      hidden.push_back(PartLabel(p.part()));
      continue;
    }
    const double whole = r.mean_seconds();
    table.AddRow(
        {PartLabel(p.part()), FormatMs(p.mean_seconds()), FormatShare(p.mean_seconds(), whole),
         tail ? FormatMs(p.tail_mean_seconds()) : "",
         tail ? FormatShare(p.tail_mean_seconds(), r.tail_mean_seconds()) : "",
         quantiles ? FormatMs(p.p50_seconds()) : "", quantiles ? FormatMs(p.p99_seconds()) : "",
         whole > 0 ? WaterfallBar(before / whole, p.mean_seconds() / whole, kWaterfallWidth) : ""});
    before += p.mean_seconds();
  }
  table.AddRow({"total", FormatMs(r.mean_seconds()), r.mean_seconds() > 0 ? "100%" : "-",
                tail ? FormatMs(r.tail_mean_seconds()) : "", tail ? "100%" : "", "", "", ""});
  std::string out = table.Render();
  if (!hidden.empty()) {
    std::string names;
    for (const auto& h : hidden) names += (names.empty() ? "" : ", ") + h;
    out += "(" + Plural(hidden.size(), "part", "parts") + " with no time hidden: " + names + ")\n";
  }
  out += "\nms per request. MEAN: over the window's " +
         Plural(r.requests(), "request", "requests") + "; TAIL: " +
         (tail ? "over the " + Plural(r.tail_requests(), "tail request", "tail requests") +
                     " (at or above p99)"
               : "no tail requests yet") +
         ";\nP50, P99: each part's own, over the last " +
         Plural(r.recent_requests(), "request", "requests") +
         ". The bars lay the parts end to end along the mean latency.\n";
  if (!(d.breakdown.sample_period_seconds() > 0)) {
    out +=
        "Python sampling is off in this perfd (python.sampling): CPU time is in \"other\" and "
        "functions are unknown.\n";
  }
  if (!(d.breakdown.blocking_threshold_seconds() > 0)) {
    out +=
        "Event-loop tracing is off in this perfd (event_loop.enabled): loop wait is only the "
        "waits to read replies that had arrived; waiting behind other code's blocking is in "
        "\"other\".\n";
  }
  return out;
}

std::string FunctionsSection(const ExplainData& d, const ExplainFunctions& f) {
  std::string out = "\n" + PartLabel(f.part) + "  " + FormatLatency(PartMean(d.route, f.part)) +
                    "/request; top functions by own CPU per request:\n";
  using A = TextTable::Align;
  TextTable table({{"OWN/REQ", A::kRight}, {"FUNCTION", A::kLeft}});
  size_t shown = 0;
  for (const auto& fn : f.functions.functions()) {
    if (shown == kExplainFunctions) break;
    if (fn.own_samples() == 0) continue;  // only on the stack: another row holds its time
    table.AddRow({FormatLatency(PerRequest(fn.own_seconds(), d.route)),
                  FrameLabel(fn.function(), fn.file(), fn.line())});
    ++shown;
  }
  if (shown == 0) return out + "  (no samples of it for the route in the window)\n";
  return out + Indent(table.Render());
}

std::string QueriesSection(const ExplainData& d) {
  std::string out = "\ndb wait  " + FormatLatency(PartMean(d.route, "db_wait")) +
                    "/request; top statements of the route:\n";
  const std::vector<RouteQuery> top = TopRouteQueries(d.queries, d.route.route(), kExplainQueries);
  if (top.empty()) return out + "  (no statements of the route in the window)\n";
  using A = TextTable::Align;
  TextTable table({{"SYSTEM", A::kLeft},
                   {"CALLS/REQ", A::kRight},
                   {"P99", A::kRight},
                   {"TOTAL", A::kRight},
                   {"FINGERPRINT", A::kLeft}});
  for (const RouteQuery& q : top) {
    const v1::QueryStats& s = *q.query;
    const std::string text =
        s.unresolved() ? "(prepared before perfd attached) " + s.fingerprint() : s.fingerprint();
    table.AddRow({s.system() + (s.housekeeping() ? " (hk)" : ""),
                  FormatCount(PerRequest(static_cast<double>(q.calls), d.route)),
                  FormatLatency(s.p99_seconds()), FormatLatency(q.seconds),
                  OneLine(text, kFingerprintWidth)});
  }
  out += Indent(table.Render());
  for (const auto& s : d.queries.queries()) {
    for (const auto& f : s.n_plus_one()) {
      if (f.route() != d.route.route()) continue;
      out += "  N+1  " + FormatCount(f.mean_count()) + "x/request (max " +
             std::to_string(f.max_count()) + ", " + Plural(f.requests(), "request", "requests") +
             ")  at " + EscapeForTerminal(f.call_site().empty() ? "(unknown)" : f.call_site()) +
             "  " + EscapeForTerminal(OneLine(s.fingerprint(), kFingerprintWidth)) + "  [" +
             s.id() + "]\n";
    }
  }
  return out +
         "  (CALLS/REQ over the route's requests; P99 over every route's calls of the statement; "
         "TOTAL: the route's calls x their mean time)\n";
}

std::string BlockingSection(const ExplainData& d) {
  const v1::GetBlockingResponse& b = d.blocking;
  std::string out = "\nthe route's own code held the event loop (>= " +
                    FormatLatency(b.blocking_threshold_seconds()) +
                    "): " + Plural(b.events(), "event", "events") + ", " +
                    FormatLatency(b.total_seconds()) +
                    " in the window, other requests waiting behind; top sites:\n";
  using A = TextTable::Align;
  TextTable table({{"KIND", A::kLeft},
                   {"EVENTS", A::kRight},
                   {"TOTAL", A::kRight},
                   {"MAX", A::kRight},
                   {"SITE", A::kLeft}});
  for (int i = 0; i < b.sites_size() && static_cast<size_t>(i) < kExplainSites; ++i) {
    const v1::BlockingSite& s = b.sites(i);
    table.AddRow({KindLabel(s), std::to_string(s.events()), FormatLatency(s.total_seconds()),
                  FormatLatency(s.max_seconds()), s.site().empty() ? "(no stack)" : s.site()});
  }
  return out + Indent(table.Render());
}

}  // namespace

std::vector<const PartName*> PartsToProfile(const v1::RouteBreakdown& route) {
  std::vector<const PartName*> parts;
  for (const PartName& p : kParts) {
    if (p.category != nullptr && PartMean(route, p.part) > 0) parts.push_back(&p);
  }
  return parts;
}

bool WantsQueries(const v1::RouteBreakdown& route) { return PartMean(route, "db_wait") > 0; }

std::vector<RouteQuery> TopRouteQueries(const v1::GetQueriesResponse& queries,
                                        const std::string& route, size_t n) {
  std::vector<RouteQuery> out;
  for (const auto& q : queries.queries()) {
    const auto it = q.routes().find(route);
    if (it == q.routes().end() || it->second == 0) continue;
    const double mean = q.calls() > 0 ? q.total_seconds() / static_cast<double>(q.calls()) : 0.0;
    out.push_back({&q, it->second, mean * static_cast<double>(it->second)});
  }
  std::stable_sort(out.begin(), out.end(), [](const RouteQuery& a, const RouteQuery& b) {
    return std::make_tuple(-a.seconds, -static_cast<double>(a.calls), a.query->id()) <
           std::make_tuple(-b.seconds, -static_cast<double>(b.calls), b.query->id());
  });
  if (out.size() > n) out.resize(n);
  return out;
}

std::string WaterfallBar(double start, double share, size_t width) {
  static const char* const kEighths[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  if (!(share > 0)) return "";
  const double w = static_cast<double>(width);
  const size_t offset = static_cast<size_t>(std::lround(std::clamp(start, 0.0, 1.0) * w));
  const size_t room = (width > offset ? width - offset : 0) * 8;
  size_t eighths = static_cast<size_t>(std::lround(std::min(share, 1.0) * w * 8));
  eighths = std::clamp<size_t>(eighths, 1, std::max<size_t>(room, 1));
  std::string bar(offset, ' ');
  for (size_t i = 0; i < eighths / 8; ++i) bar += "█";
  return bar + kEighths[eighths % 8];
}

std::string RenderExplain(const ExplainData& d) {
  std::string out = Header(d) + Waterfall(d);
  for (const ExplainFunctions& f : d.functions) out += FunctionsSection(d, f);
  if (d.has_queries) out += QueriesSection(d);
  if (const double wait = PartMean(d.route, "loop_wait"); wait > 0) {
    out += "\nloop wait  " + FormatLatency(wait) +
           "/request: waiting for the event loop (to read a reply, or behind other code "
           "holding it); `perfctl blocking -s " +
           EscapeForTerminal(d.breakdown.service()) + "` names the code that held it.\n";
  }
  if (d.has_blocking && d.blocking.traced() && d.blocking.sites_size() > 0) {
    out += BlockingSection(d);
  }
  if (!d.errors.empty()) {
    out += "\n";
    for (const auto& e : d.errors) out += "not shown: " + e + "\n";
  }
  return out;
}

std::string ExplainToJson(const ExplainData& d) {
  const v1::GetBreakdownResponse& b = d.breakdown;
  std::vector<std::string> functions;
  for (const ExplainFunctions& f : d.functions) {
    std::vector<std::string> list;
    for (const auto& fn : f.functions.functions()) {
      if (list.size() == kExplainFunctions) break;
      if (fn.own_samples() > 0) list.push_back(JsonOf(fn));
    }
    functions.push_back(JsonString(f.part) + ":" + JsonArray(list));
  }
  std::vector<std::string> queries, findings, sites, errors;
  if (d.has_queries) {
    for (const RouteQuery& q : TopRouteQueries(d.queries, d.route.route(), kExplainQueries)) {
      queries.push_back(JsonObject(
          {{"query", JsonOf(*q.query)},
           {"routeCalls", JsonString(std::to_string(q.calls))},  // uint64: a string, as protobuf's
           {"callsPerRequest", JsonNumber(PerRequest(static_cast<double>(q.calls), d.route))},
           {"routeSeconds", JsonNumber(q.seconds)}}));
    }
    for (const auto& s : d.queries.queries()) {
      for (const auto& f : s.n_plus_one()) {
        if (f.route() == d.route.route()) findings.push_back(JsonOf(f));
      }
    }
  }
  if (d.has_blocking) {
    for (int i = 0; i < d.blocking.sites_size() && static_cast<size_t>(i) < kExplainSites; ++i) {
      sites.push_back(JsonOf(d.blocking.sites(i)));
    }
  }
  for (const auto& e : d.errors) errors.push_back(JsonString(e));
  std::string functions_object = "{";
  for (size_t i = 0; i < functions.size(); ++i) functions_object += (i ? "," : "") + functions[i];
  functions_object += "}";
  return JsonObject({{"service", JsonString(b.service())},
                     {"windowSeconds", std::to_string(b.window_seconds())},
                     {"timestampUnixNanos", JsonString(std::to_string(b.timestamp_unix_nanos()))},
                     {"samplePeriodSeconds", JsonNumber(b.sample_period_seconds())},
                     {"blockingThresholdSeconds", JsonNumber(b.blocking_threshold_seconds())},
                     {"route", JsonOf(d.route)},
                     {"functions", functions_object},
                     {"queries", JsonArray(queries)},
                     {"nPlusOne", JsonArray(findings)},
                     {"blockingSites", JsonArray(sites)},
                     {"errors", JsonArray(errors)}}) +
         "\n";
}

std::string UnknownRouteMessage(const std::string& route, const v1::GetBreakdownResponse& all) {
  std::vector<std::string> names;
  for (const auto& r : all.routes()) names.push_back(r.route());
  std::sort(names.begin(), names.end());
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  return EscapeForTerminal("unknown route \"" + route + "\" of service \"" + all.service() +
                           "\" in the last " + std::to_string(all.window_seconds()) +
                           "s; known routes: " + (known.empty() ? "(none)" : known));
}

std::string AmbiguousRouteMessage(const std::string& route,
                                  const v1::GetBreakdownResponse& matches) {
  std::vector<std::string> names;
  for (const auto& r : matches.routes()) names.push_back(r.route());
  std::sort(names.begin(), names.end());
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return EscapeForTerminal("route \"" + route + "\" of service \"" + matches.service() +
                           "\" matches " + std::to_string(names.size()) + " routes: " + list +
                           "; name one with its method (--route \"" +
                           (names.empty() ? route : names.front()) + "\")");
}

}  // namespace perfd::cli
