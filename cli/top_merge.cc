#include "cli/top_merge.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "daemon/aggregator/latency_sketch.h"
#include "daemon/api/sketch_convert.h"

namespace perfd::cli {
namespace {

// A sketch being merged; empty until the first non-empty one arrives, so an
// unset sketch (accuracy 0: a node without completed requests) is skipped.
class SketchSum {
 public:
  void Add(const v1::LatencySketch& proto) {
    if (proto.counts_size() == 0 && proto.zero_count() == 0) return;
    try {
      LatencySketch sketch = SketchFromProto(proto);
      if (!sum_) {
        sum_ = std::move(sketch);
      } else {
        sum_->Merge(sketch);  // false (skipped) for another accuracy
      }
    } catch (const std::invalid_argument&) {
      // An accuracy LatencySketch rejects: nothing to merge.
    }
  }
  // Writes the merged sketch and its quantiles (0 when empty, as perfd does).
  void Write(v1::LatencySketch* sketch, double* p50, double* p90, double* p99) const {
    if (!sum_ || sum_->empty()) return;
    SketchToProto(*sum_, sketch);
    *p50 = sum_->Quantile(0.50);
    *p90 = sum_->Quantile(0.90);
    *p99 = sum_->Quantile(0.99);
  }

 private:
  std::optional<LatencySketch> sum_;
};

// A mean over nodes, weighted.
struct Mean {
  double sum = 0, weight = 0;
  void Add(double value, double w) {
    sum += value * w;
    weight += w;
  }
  double Get() const { return weight > 0 ? sum / weight : 0; }
};

struct FindingSum {
  v1::NPlusOne finding;  // first seen: identity fields
  Mean count, seconds;
  uint64_t requests = 0;
  uint32_t max_count = 0;
};

struct FanOutSum {
  v1::DbFanOut fan_out;
  Mean count;
  uint64_t requests = 0;
};

struct RouteSum {
  v1::RouteStats stats;  // identity, counters, maps
  SketchSum latency, queue;
  Mean db_seconds, db_call_seconds, queries;
  std::vector<std::string> finding_order, fan_out_order;  // first-seen order
  std::map<std::string, FindingSum> findings;
  std::map<std::string, FanOutSum> fan_outs;
};

void AddRoute(RouteSum& sum, const v1::RouteStats& r) {
  v1::RouteStats& s = sum.stats;
  s.set_requests(s.requests() + r.requests());
  s.set_errors(s.errors() + r.errors());
  s.set_aborted(s.aborted() + r.aborted());
  s.set_requests_per_second(s.requests_per_second() + r.requests_per_second());
  s.set_max_seconds(std::max(s.max_seconds(), r.max_seconds()));
  s.set_in_flight(s.in_flight() + r.in_flight());
  for (const auto& [code, n] : r.status_codes()) (*s.mutable_status_codes())[code] += n;
  s.set_cpu_seconds(s.cpu_seconds() + r.cpu_seconds());
  for (const auto& [category, seconds] : r.cpu_seconds_by_category()) {
    (*s.mutable_cpu_seconds_by_category())[category] += seconds;
  }
  sum.latency.Add(r.latency());
  sum.queue.Add(r.queue());

  const double db_weight = static_cast<double>(r.db_requests());
  s.set_db_requests(s.db_requests() + r.db_requests());
  s.set_db_calls(s.db_calls() + r.db_calls());
  sum.db_seconds.Add(r.db_seconds_per_request(), db_weight);
  sum.db_call_seconds.Add(r.db_call_seconds_per_request(), db_weight);
  sum.queries.Add(r.queries_per_request(), db_weight);
  s.set_queries_per_request_p99(std::max(s.queries_per_request_p99(), r.queries_per_request_p99()));

  for (const auto& f : r.n_plus_one()) {
    auto [it, fresh] = sum.findings.try_emplace(f.fingerprint_id());
    FindingSum& fs = it->second;
    if (fresh) {
      sum.finding_order.push_back(f.fingerprint_id());
      fs.finding = f;
    }
    const double w = static_cast<double>(f.requests());
    fs.requests += f.requests();
    fs.count.Add(f.mean_count(), w);
    fs.seconds.Add(f.mean_seconds(), w);
    fs.max_count = std::max(fs.max_count, f.max_count());
  }
  for (const auto& f : r.db_fan_out()) {
    auto [it, fresh] = sum.fan_outs.try_emplace(f.fingerprint_id());
    FanOutSum& fs = it->second;
    if (fresh) {
      sum.fan_out_order.push_back(f.fingerprint_id());
      fs.fan_out = f;
    }
    fs.requests += f.requests();
    fs.count.Add(f.mean_count(), static_cast<double>(f.requests()));
  }
}

void Finish(RouteSum& sum, v1::RouteStats* out) {
  *out = sum.stats;
  const double requests = static_cast<double>(out->requests());
  out->set_error_ratio(requests > 0 ? static_cast<double>(out->errors()) / requests : 0);
  out->set_cpu_seconds_per_request(requests > 0 ? out->cpu_seconds() / requests : 0);
  double p50 = 0, p90 = 0, p99 = 0;
  sum.latency.Write(out->mutable_latency(), &p50, &p90, &p99);
  out->set_p50_seconds(p50);
  out->set_p90_seconds(p90);
  out->set_p99_seconds(p99);
  p50 = p90 = p99 = 0;
  sum.queue.Write(out->mutable_queue(), &p50, &p90, &p99);
  out->set_queue_p50_seconds(p50);
  out->set_queue_p90_seconds(p90);
  out->set_queue_p99_seconds(p99);
  out->set_db_seconds_per_request(sum.db_seconds.Get());
  out->set_db_call_seconds_per_request(sum.db_call_seconds.Get());
  out->set_queries_per_request(sum.queries.Get());
  for (const std::string& id : sum.finding_order) {
    FindingSum& fs = sum.findings[id];
    v1::NPlusOne* f = out->add_n_plus_one();
    *f = fs.finding;
    f->set_requests(fs.requests);
    f->set_mean_count(fs.count.Get());
    f->set_mean_seconds(fs.seconds.Get());
    f->set_max_count(fs.max_count);
  }
  for (const std::string& id : sum.fan_out_order) {
    FanOutSum& fs = sum.fan_outs[id];
    v1::DbFanOut* f = out->add_db_fan_out();
    *f = fs.fan_out;
    f->set_requests(fs.requests);
    f->set_mean_count(fs.count.Get());
  }
}

// GC figures add over nodes (each node's workers are its own); the longest
// pause is the max. Generations merge by name, in perfd's order.
void AddGc(const v1::GcStats& from, v1::GcStats* to) {
  to->set_workers_attached(to->workers_attached() + from.workers_attached());
  to->set_workers_no_usdt(to->workers_no_usdt() + from.workers_no_usdt());
  to->set_workers_failed(to->workers_failed() + from.workers_failed());
  to->set_workers_unsampled(to->workers_unsampled() + from.workers_unsampled());
  to->set_pauses(to->pauses() + from.pauses());
  to->set_total_seconds(to->total_seconds() + from.total_seconds());
  to->set_max_seconds(std::max(to->max_seconds(), from.max_seconds()));
  for (const v1::GcGeneration& g : from.generations()) {
    v1::GcGeneration* into = nullptr;
    for (auto& have : *to->mutable_generations()) {
      if (have.generation() == g.generation()) into = &have;
    }
    if (into == nullptr) {
      into = to->add_generations();
      into->set_generation(g.generation());
    }
    into->set_pauses(into->pauses() + g.pauses());
    into->set_total_seconds(into->total_seconds() + g.total_seconds());
    into->set_max_seconds(std::max(into->max_seconds(), g.max_seconds()));
  }
}

// "0", "1", "2", then anything else ("_OTHER") by name.
void SortGenerations(v1::GcStats* gc) {
  auto rank = [](const std::string& name) {
    return name.size() == 1 && name[0] >= '0' && name[0] <= '2' ? name[0] - '0' : 3;
  };
  auto* g = gc->mutable_generations();
  std::stable_sort(g->begin(), g->end(), [&](const v1::GcGeneration& a, const v1::GcGeneration& b) {
    return std::make_pair(rank(a.generation()), a.generation()) <
           std::make_pair(rank(b.generation()), b.generation());
  });
}

}  // namespace

RouteKey KeyOf(const v1::RouteStats& route) { return {route.method(), route.route()}; }

MergedTop MergeTop(const std::vector<NodeTop>& nodes) {
  MergedTop merged;
  v1::GetTopResponse& top = merged.top;
  std::vector<RouteKey> order;  // first-seen, as the nodes listed them
  std::map<RouteKey, RouteSum> sums;
  Mean exact;
  for (const NodeTop& node : nodes) {
    const v1::GetTopResponse& t = node.top;
    if (top.service().empty()) {
      top.set_service(t.service());
      top.set_window_seconds(t.window_seconds());
    }
    top.set_timestamp_unix_nanos(std::max(top.timestamp_unix_nanos(), t.timestamp_unix_nanos()));
    if (top.sample_period_seconds() == 0) top.set_sample_period_seconds(t.sample_period_seconds());
    double node_cpu = 0;
    for (const auto& r : t.routes()) {
      node_cpu += r.cpu_seconds();
      const RouteKey key = KeyOf(r);
      auto [it, fresh] = sums.try_emplace(key);
      if (fresh) {
        order.push_back(key);
        it->second.stats.set_method(r.method());
        it->second.stats.set_route(r.route());
      }
      AddRoute(it->second, r);
      merged.route_nodes[key].push_back(node.node);
    }
    exact.Add(t.cpu_exact_share(), node_cpu);
    if (t.has_loop() && t.loop().traced()) {  // sums over nodes; the worst is the max
      v1::EventLoopStats* l = top.mutable_loop();
      l->set_traced(true);
      l->set_busy_seconds(l->busy_seconds() + t.loop().busy_seconds());
      l->set_iterations(l->iterations() + t.loop().iterations());
      l->set_blocking_events(l->blocking_events() + t.loop().blocking_events());
      // Each node names its own top site: the merged one is the heaviest.
      if (t.loop().has_top_blocking() &&
          (!l->has_top_blocking() ||
           t.loop().top_blocking().total_seconds() > l->top_blocking().total_seconds()))
        *l->mutable_top_blocking() = t.loop().top_blocking();
      l->set_worst_blocking_seconds(
          std::max(l->worst_blocking_seconds(), t.loop().worst_blocking_seconds()));
      l->set_blocking_threshold_seconds(
          std::max(l->blocking_threshold_seconds(), t.loop().blocking_threshold_seconds()));
    }
    if (t.has_gc()) AddGc(t.gc(), top.mutable_gc());
  }
  if (top.has_gc()) SortGenerations(top.mutable_gc());
  top.set_cpu_exact_share(exact.Get());
  for (const RouteKey& key : order) Finish(sums[key], top.add_routes());
  return merged;
}

v1::ListServicesResponse MergeServices(const std::vector<v1::ListServicesResponse>& nodes) {
  std::map<std::string, v1::Service> by_name;
  for (const auto& node : nodes) {
    for (const auto& service : node.services()) {
      auto [it, fresh] = by_name.try_emplace(service.name(), service);
      if (!fresh) {
        for (const auto& w : service.workers()) *it->second.add_workers() = w;
        it->second.set_requests_total(it->second.requests_total() + service.requests_total());
      }
    }
  }
  v1::ListServicesResponse out;
  for (auto& [name, service] : by_name) *out.add_services() = std::move(service);
  return out;
}

}  // namespace perfd::cli
