"""An app that starts THREADS_APP_COUNT (default 2,000) idle threads at startup,
each blocked in read() on a pipe: what an untrusted worker can do to make
perfd open a perf event per thread and fill the kernel's per-thread
syscall-argument table. Serves the common routes."""
import os
import threading

from fastapi import FastAPI

from common import add_common_routes

app = FastAPI(title="threads_app")
add_common_routes(app)

_read_end, _write_end = os.pipe()  # never written: readers block until exit
_threads = []


def _block() -> None:
    try:
        os.read(_read_end, 1)
    except OSError:
        pass


@app.on_event("startup")
async def start_threads() -> None:
    threading.stack_size(256 * 1024)  # 2,000 threads: keep them small
    for _ in range(int(os.environ.get("THREADS_APP_COUNT", "2000"))):
        t = threading.Thread(target=_block, daemon=True)
        t.start()
        _threads.append(t)


@app.get("/threads")
async def threads() -> dict:
    return {"threads": threading.active_count(), "pid": os.getpid()}
