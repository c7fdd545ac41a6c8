#include "daemon/discovery/discovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

namespace perfd {

namespace {

// " pod=ns/name container=name", or the cgroup's IDs until the API names them.
std::string PodForLog(const Worker& w) {
  if (w.pod_uid.empty()) return "";
  if (!w.k8s_pod.empty())
    return " pod=" + w.k8s_namespace + "/" + w.k8s_pod + " container=" + w.k8s_container;
  return " pod_uid=" + w.pod_uid + " container_id=" + w.container_id.substr(0, 12);
}

}  // namespace

bool Discovery::MayExecIntoServer(const std::string& comm) {
  return comm.rfind("python", 0) == 0 || comm == "uvicorn" || comm == "gunicorn";
}

Discovery::Discovery(const Config& config, ProcReader& reader, const k8s::PodResolver* pods)
    : reader_(reader), namer_(config.services), filter_(config.discovery_include), pods_(pods) {
  if (pods_) namer_.SetPodLabelKeys(config.kubernetes.service_label_keys);
}

void Discovery::CountReadError(int error) {
  ++scan_read_errors_;
  const char* name = error == EMFILE   ? "EMFILE"
                     : error == ENFILE ? "ENFILE"
                     : error == EACCES ? "EACCES"
                     : error == ENOMEM ? "ENOMEM"
                                       : "other";
  std::lock_guard<std::mutex> lock(mu_);
  ++read_errors_[name];
}

const ProcessInfo* Discovery::Lookup(uint32_t pid, Memo& memo, bool* unknown) {
  auto it = memo.find(pid);
  if (it == memo.end()) {
    MemoEntry e;
    e.info = reader_.ReadProcess(pid, &e.error);
    if (!e.info && !ProcessGone(e.error)) CountReadError(e.error);
    it = memo.emplace(pid, std::move(e)).first;
  }
  if (!it->second.info && !ProcessGone(it->second.error)) *unknown = true;
  // unordered_map nodes are stable: the pointer survives later inserts.
  return it->second.info ? &*it->second.info : nullptr;
}

bool Discovery::Reclassify(uint32_t pid, int rechecks, Memo& memo,
                           std::map<uint32_t, Worker>& workers, Diff& diff) {
  // A read that failed for a reason other than an exit (perfd out of fds,
  // say) leaves the pid as it was: classifying without its parent could turn
  // a worker into a non-worker. Nothing was recorded, so the next scan
  // queues it again (a new pid, or comm/ppid still differ from known_);
  // known_ entries being re-checked keep their re-check count.
  bool unknown = false;
  const ProcessInfo* info = Lookup(pid, memo, &unknown);
  if (info == nullptr) return false;  // exited meanwhile (the next scan drops it) or unknown
  const ProcessInfo* parent = info->ppid != 0 ? Lookup(info->ppid, memo, &unknown) : nullptr;
  const ProcessInfo* grandparent =
      (parent != nullptr && parent->ppid != 0) ? Lookup(parent->ppid, memo, &unknown) : nullptr;
  if (unknown) return false;
  const Classification c = ClassifyProcess(*info, parent, grandparent);

  auto old = known_.find(pid);
  const bool existed = old != known_.end();
  const Role old_role = existed ? old->second.role : Role::kNone;
  Known& k = known_[pid];
  k.start_time = info->start_time;
  k.ppid = info->ppid;
  k.comm = info->comm;
  k.role = c.role;
  k.rechecks_left = c.same_argv_as_parent ? rechecks : 0;
  k.watched_argv.clear();
  if (c.role == Role::kNone && MayExecIntoServer(info->comm)) k.watched_argv = info->argv;

  std::optional<Worker> now;
  const auto& naming_argv = (c.named_by_parent && parent) ? parent->argv : info->argv;
  // A worker discovery.include leaves out is not traced; its role stays
  // known, so its children are still classified as a worker's children.
  if (c.role == Role::kWorker && filter_.Includes(JoinArgv(naming_argv))) {
    Worker w;
    w.pid = pid;
    w.start_time = info->start_time;
    w.app_spec = c.app_spec;
    w.server = c.server;
    w.argv = info->argv;
    std::map<std::string, std::string> pod_labels;
    if (pods_) {
      if (auto pod = pods_->Resolve(pid)) {
        w.pod_uid = pod->pod_uid;
        w.container_id = pod->container_id;
        w.k8s_namespace = pod->namespace_name;
        w.k8s_pod = pod->pod_name;
        w.k8s_container = pod->container_name;
        pod_labels = std::move(pod->labels);
      }
    }
    w.service = namer_.Name(JoinArgv(naming_argv), info->env, c.app_spec, pod_labels);
    now = std::move(w);
  }
  auto cur = workers.find(pid);
  if (cur != workers.end() && now && cur->second.start_time == now->start_time &&
      cur->second.service == now->service && cur->second.app_spec == now->app_spec &&
      cur->second.server == now->server && cur->second.SamePod(*now)) {
    // Same worker, new title (setproctitle after fork): not a change.
    cur->second.argv = now->argv;
  } else {
    if (cur != workers.end()) {
      diff.changes.push_back({WorkerChange::Kind::kRemoved, cur->second});
      workers.erase(cur);
    }
    if (now) {
      diff.changes.push_back({WorkerChange::Kind::kAdded, *now});
      workers.emplace(pid, std::move(*now));
    }
  }
  return existed && old_role != c.role;
}

Discovery::Diff Discovery::Scan() {
  const auto start = std::chrono::steady_clock::now();
  ScanStats stats;
  scan_read_errors_ = 0;
  int list_error = 0;
  const std::vector<uint32_t> pids = reader_.ListPids(&list_error);
  if (list_error != 0) {
    // An incomplete pid list (EMFILE on opendir, a readdir error) says
    // nothing about which processes exited: change nothing this scan.
    CountReadError(list_error);
    spdlog::debug("discovery: listing {} failed: {}", reader_.root(), std::strerror(list_error));
    std::lock_guard<std::mutex> lock(mu_);
    last_scan_ = stats;
    last_scan_.read_errors = scan_read_errors_;
    return {};
  }
  std::unordered_map<uint32_t, ProcStat> live;
  // Pids whose stat could not be read for a reason other than an exit: kept
  // as they are (neither removed nor classified) until a later scan reads them.
  std::set<uint32_t> unknown;
  for (uint32_t pid : pids) {
    int error = 0;
    if (auto st = reader_.ReadStat(pid, &error)) {
      live.emplace(pid, std::move(*st));
    } else if (!ProcessGone(error)) {
      CountReadError(error);
      unknown.insert(pid);
    }
  }
  stats.processes = live.size();

  std::map<uint32_t, Worker> workers = workers_;  // only this thread writes workers_
  Diff diff;

  // Exits, and pids reused by a new process (different start time). Their
  // removals enter the diff before any addition below: a reused pid's old
  // worker is out before its new one is in.
  for (auto it = known_.begin(); it != known_.end();) {
    const auto l = live.find(it->first);
    if (l == live.end() && unknown.count(it->first) != 0) {
      ++it;  // not known to be gone: keep the worker, look again next scan
    } else if (l == live.end() || l->second.start_time != it->second.start_time) {
      const auto w = workers.find(it->first);
      if (w != workers.end()) {
        diff.changes.push_back({WorkerChange::Kind::kRemoved, w->second});
        workers.erase(w);
      }
      it = known_.erase(it);
    } else {
      ++it;
    }
  }

  // New pids; pids that exec'd (comm changed: e.g. a shell that execs
  // uvicorn keeps pid and start time) or were re-parented; pending re-checks.
  std::vector<std::pair<uint32_t, int>> todo_list;
  // Safety net: every kFullRecheckEvery scans, python-like non-workers are
  // classified afresh, so no race around an exec can hide a worker for long.
  const bool full_recheck = ++scans_ % kFullRecheckEvery == 0;
  // The pod map changed (a pod named, relabelled or deleted): every worker
  // is named again. Read before the re-checks, so a change made while they
  // run is seen by the next scan.
  bool pods_changed = false;
  if (pods_) {
    const uint64_t g = pods_->generation();
    pods_changed = g != pods_generation_;
    pods_generation_ = g;
  }
  for (const auto& [pid, st] : live) {
    const auto k = known_.find(pid);
    if (k == known_.end() || k->second.comm != st.comm || k->second.ppid != st.ppid) {
      todo_list.emplace_back(pid, kSameArgvRechecks);
    } else if (k->second.rechecks_left > 0) {
      todo_list.emplace_back(pid, k->second.rechecks_left - 1);
    } else if (pods_changed && k->second.role == Role::kWorker) {
      todo_list.emplace_back(pid, 0);
    } else if (full_recheck && k->second.role == Role::kNone && MayExecIntoServer(k->second.comm)) {
      todo_list.emplace_back(pid, 0);
    } else if (!k->second.watched_argv.empty()) {
      // exec into the same interpreter keeps pid, start time and comm; only
      // the command line tells.
      int error = 0;
      auto cmdline = reader_.ReadCmdline(pid, &error);
      if (!cmdline && !ProcessGone(error)) CountReadError(error);
      if (cmdline && ParseCmdline(*cmdline) != k->second.watched_argv)
        todo_list.emplace_back(pid, kSameArgvRechecks);
    }
  }
  std::sort(todo_list.begin(), todo_list.end());
  std::deque<std::pair<uint32_t, int>> todo(todo_list.begin(), todo_list.end());
  std::set<uint32_t> queued;
  for (const auto& item : todo_list) queued.insert(item.first);

  Memo memo;
  while (!todo.empty()) {
    const auto [pid, rechecks] = todo.front();
    todo.pop_front();
    ++stats.classified;
    if (Reclassify(pid, rechecks, memo, workers, diff)) {
      // A process that became (or stopped being) a supervisor changes what
      // its children are, e.g. a gunicorn master re-exec'd by USR2 whose
      // old master just exited.
      for (const auto& [child, st] : live) {
        if (st.ppid == pid && queued.insert(child).second) {
          todo.emplace_back(child, kSameArgvRechecks);
        }
      }
    }
  }

  for (const auto& [kind, w] : diff.changes) {
    if (kind == WorkerChange::Kind::kRemoved) {
      spdlog::info("discovery: worker gone pid={} start={} service={} app={}", w.pid, w.start_time,
                   w.service, w.app_spec);
    } else {
      spdlog::info("discovery: worker found pid={} start={} service={} app={} server={}{}", w.pid,
                   w.start_time, w.service, w.app_spec, w.server, PodForLog(w));
    }
  }
  stats.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  stats.read_errors = scan_read_errors_;
  if (scan_read_errors_ != 0) {
    spdlog::debug("discovery: {} /proc reads failed (not exits); retrying next scan",
                  scan_read_errors_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  workers_ = std::move(workers);
  last_scan_ = stats;
  return diff;
}

std::vector<Worker> Discovery::Workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Worker> out;
  out.reserve(workers_.size());
  for (const auto& [pid, w] : workers_) out.push_back(w);
  return out;
}

std::map<std::string, uint64_t> Discovery::read_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return read_errors_;
}

Discovery::ScanStats Discovery::last_scan() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_scan_;
}

}  // namespace perfd
