"""Hardening: a worker with 2,000 threads (each blocked in read()) next to a normal
service, perfd run under a 1024-fd limit. perfd must stay up, keep the normal
service's counts exact, and count the threads it left unsampled."""
import os
import re

import pytest

from e2e_helpers import metric_sum, request, unique, wait_until

NORMAL = unique("e2e-fd-normal")
THREADED = unique("e2e-fd-threads")
APP_THREADS = 2000
MAX_THREADS_PER_WORKER = 256  # the default of python.max_threads_per_worker


@pytest.fixture(scope="module")
def perfd_wrapper():
    return ["prlimit", "--nofile=1024:1024"]


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def test_thread_heavy_worker_under_low_fd_limit(perfd, launch):
    limits = open(f"/proc/{perfd.proc.pid}/limits").read()
    assert re.search(r"Max open files\s+1024\s+1024", limits), limits

    normal = launch("latency_app:app", NORMAL)
    perfd.warm_up(normal)
    threaded = launch("threads_app:app", THREADED)
    perfd.wait_workers(THREADED, threaded.worker_pids())
    assert threaded.get("/threads")[0] == 200

    # The worker's threads past the cap are counted, not sampled.
    want_over = APP_THREADS + 1 - MAX_THREADS_PER_WORKER

    def capped():
        perfd.check_alive()
        return metric_sum(perfd.metrics_text(), "perfd_python_threads_over_cap_total", cap="per_worker") >= want_over
    wait_until(capped, 20, f"perfd to count >= {want_over} threads over the per-worker cap", 0.2)
    sampled = metric_sum(perfd.metrics_text(), "perfd_python_sampled_threads")
    # The gauge counts every tracked worker on the host: the capped one, the
    # normal one, and any other uvicorn running here (a shared test machine).
    others = sum(thread_count(pid) for svc, pids in perfd.services().items()
                 if svc != THREADED for pid in pids)
    assert sampled <= MAX_THREADS_PER_WORKER + others + 16, (sampled, others)
    # 2,000 threads blocked in read(): the process hit its syscall-argument quota.
    wait_until(lambda: metric_sum(perfd.metrics_text(), "perfd_args_quota_refused_total") > 0, 10,
               "perfd_args_quota_refused_total > 0", 0.2)

    # The normal service is still traced exactly, its worker never dropped.
    n = 150
    conn = normal.connection()
    try:
        for i in range(n):
            assert request(conn, "GET", f"/items/{i}")[0] == 200
    finally:
        conn.close()
    routes = perfd.wait_count(NORMAL, "GET", "/items/{item_id}", n)
    assert routes[("GET", "/items/{item_id}")]["requests"] == n, routes
    assert perfd.services().get(NORMAL) == normal.worker_pids()
    assert perfd.services().get(THREADED) == threaded.worker_pids()
    # No worker was removed and re-added (a false exit) during all this.
    log = perfd.proc.log_text()
    # (Only ours: other workers on a shared machine come and go.)
    gone = [line for line in log.splitlines() if "worker gone" in line
            and (f"service={NORMAL} " in line or f"service={THREADED} " in line)]
    assert not gone, perfd.proc.tail(40)
    perfd.check_alive()
