#include "daemon/kubernetes/pod_watcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace perfd::k8s {
namespace {

constexpr size_t kMaxListBytes = 64u << 20;  // ~110 pods of ~20 KiB each fit many times over
constexpr size_t kMaxEventBytes = 4u << 20;
constexpr long kWatchSeconds = 290;  // the server ends the watch; curl's own limit is above

// fieldSelector values are URL-encoded: node names are DNS subdomains
// ([a-z0-9.-]), so only '=' of the selector itself needs it.
std::string PodsPath(const std::string& node) {
  return "/api/v1/pods?fieldSelector=spec.nodeName%3D" + node;
}

}  // namespace

PodWatcher::PodWatcher(ApiEndpoint endpoint, std::string node_name, PodMap& map)
    : node_name_(std::move(node_name)), map_(map), client_(std::move(endpoint), &stop_) {}

void PodWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PodWatcher::Stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool PodWatcher::WaitSynced(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!map_.synced() && std::chrono::steady_clock::now() < deadline && !stop_) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  return map_.synced();
}

std::map<std::string, uint64_t> PodWatcher::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

void PodWatcher::Fail(const std::string& kind, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++failures_[kind];
  }
  if (!failing_) spdlog::warn("kubernetes: {} failed: {} (retrying with backoff)", kind, message);
  failing_ = true;
}

void PodWatcher::Working() {
  if (failing_) spdlog::info("kubernetes: pod list/watch working again");
  failing_ = false;
  backoff_ = std::chrono::seconds(1);
}

void PodWatcher::Backoff() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, backoff_, [this] { return stop_.load(); });
  backoff_ = std::min(backoff_ * 2, std::chrono::seconds(30));
}

void PodWatcher::ListAndWatch() {
  std::string body, error, rv;
  const long status = client_.Get(PodsPath(node_name_), kMaxListBytes, &body, &error);
  if (stop_) return;
  if (status != 200 || !error.empty()) {
    Fail("list", status == 0 || !error.empty() ? error : "HTTP " + std::to_string(status));
    return Backoff();
  }
  if (map_.ApplyList(body, &rv, &error) != PodMap::Result::kApplied) {
    Fail("list", error);
    return Backoff();
  }
  Working();
  spdlog::debug("kubernetes: {} pods on node {} (resourceVersion {})", map_.size(), node_name_, rv);
  while (!stop_) {
    bool relist = false;
    std::string event_error;
    const auto on_line = [&](std::string_view line) {
      std::string e;
      switch (map_.ApplyWatchEvent(line, &rv, &e)) {
        case PodMap::Result::kGone:
          relist = true;
          return false;
        case PodMap::Result::kError:
          // One unreadable event: count it, keep the stream.
          {
            std::lock_guard<std::mutex> lock(mu_);
            ++failures_["event"];
          }
          if (event_error.empty()) event_error = e;
          return true;
        default:
          return true;
      }
    };
    error.clear();
    const auto watch_start = std::chrono::steady_clock::now();
    const long ws = client_.Stream(PodsPath(node_name_) + "&watch=1&allowWatchBookmarks=true" +
                                       "&timeoutSeconds=" + std::to_string(kWatchSeconds) +
                                       "&resourceVersion=" + rv,
                                   kMaxEventBytes, on_line, kWatchSeconds + 30, &error);
    if (stop_) return;
    if (!event_error.empty()) spdlog::debug("kubernetes: unreadable watch event: {}", event_error);
    const bool short_watch =
        std::chrono::steady_clock::now() - watch_start < std::chrono::seconds(1);
    if (relist || ws == 410) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++failures_["gone"];
      }
      // List again at once: 410 is routine after compaction. Unless the
      // watch was refused right after a list: a server doing that every
      // time must not get a request loop.
      if (short_watch) Backoff();
      return;
    }
    if (ws != 200 || !error.empty()) {
      Fail("watch", ws == 0 || !error.empty() ? error : "HTTP " + std::to_string(ws));
      return Backoff();
    }
    // The server ended the watch (timeoutSeconds): watch again from rv. A
    // server that ends every watch at once would make that a busy loop.
    if (short_watch) Backoff();
  }
}

void PodWatcher::Run() {
  while (!stop_) ListAndWatch();
}

}  // namespace perfd::k8s
