// perfd's own health: every drop, truncation and failure, in one table of
// names. The event thread fills a SelfStats snapshot about once a second;
// Prometheus scrapes read the latest snapshot (never blocking the event
// thread).
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace perfd {

enum class SelfMetricType { kCounter, kGauge };

struct SelfMetricDef {
  const char* name;
  SelfMetricType type;
  const char* help;
};

// The table: every self-metric perfd exports. Tests check names against it.
extern const std::vector<SelfMetricDef> kSelfMetrics;

struct SelfSample {
  std::string name;  // must be in kSelfMetrics
  std::map<std::string, std::string> labels;
  double value = 0;
};

// add(name, value[, labels]) appends one sample to *s: how the Add*Stats
// functions fill the list they publish.
struct SelfSampleSink {
  std::vector<SelfSample>* s;
  void operator()(std::string name, double v,
                  std::map<std::string, std::string> labels = {}) const {
    s->push_back({std::move(name), std::move(labels), v});
  }
};

class SelfMetrics : public prometheus::Collectable {
 public:
  // Replaces the snapshot. Unknown names throw std::invalid_argument (a
  // programming error caught by tests, not a runtime condition).
  void Publish(std::vector<SelfSample> samples);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mu_;
  std::vector<SelfSample> samples_;
};

}  // namespace perfd
