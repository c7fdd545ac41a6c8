"""Issue 9 finding 5: a worker whose interpreter file was deleted and replaced.

/proc/<pid>/maps names a deleted file "<path> (deleted)". A worker (or anyone
who can write to the directory) may then put a FIFO or a symlink at that
name, and at the original path. perfd runs as root: opening such a path
blocks forever on the FIFO (discovery hangs, SIGTERM hangs) or opens any host
file the symlink names. perfd must open the interpreter through
/proc/<pid>/map_files (the inode actually mapped) and nothing else.

Two hostile workers per case, each with its interpreter in a temp dir that is
then deleted and replaced (a FIFO, or a symlink to a FIFO elsewhere):
  - "exe": a copy of Debian's /usr/bin/python3.11 (libpython linked in);
  - "libpython": pyenv's 3.11 (built --enable-shared) with a copy of its
    libpython3.11.so.1.0 loaded through LD_LIBRARY_PATH.
A dedicated perfd starts after the replacement, so its first look at the
workers sees "(deleted)". Then: perfd still answers, a normal service
launched next to them keeps exact counts, each hostile worker is sampled
through the mapped inode (counted in perfd_python_interpreter_opens_total),
and perfd exits 0 on SIGTERM.
"""
import os
import shutil
import signal
from pathlib import Path
from typing import List, Optional

import pytest

from conftest import DISCOVERY_TIMEOUT, Perfd, route_of
from e2e_helpers import (APPS_DIR, PY, REPO_ROOT, Proc, format_routes, free_port, metric_sum, one_shot, unique, wait_until)

REQUESTS = 40


def pyenv_311() -> Optional[Path]:
    """A pyenv CPython 3.11 built with a shared libpython, or None."""
    root = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
    for d in sorted(root.glob("3.11.*")):
        if (d / "bin" / "python3.11").exists() and (d / "lib" / "libpython3.11.so.1.0").exists():
            return d
    return None


class HostileWorker:
    """A uvicorn worker whose interpreter file is replaced after it started."""

    def __init__(self, workdir: Path, kind: str, replacement: str):
        self.kind, self.replacement = kind, replacement
        self.service = unique(f"e2e-hostile-{kind}-{replacement}")
        self.dir = workdir / f"{kind}-{replacement}"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        env = {"PERFD_SERVICE": self.service}
        if kind == "exe":
            self.victim = self.dir / "python3.11"
            shutil.copy2(PY, self.victim)
            interpreter = str(self.victim)
        else:
            prefix = pyenv_311()
            self.victim = self.dir / "libpython3.11.so.1.0"
            shutil.copy2(prefix / "lib" / "libpython3.11.so.1.0", self.victim)
            interpreter = str(prefix / "bin" / "python3.11")
            # LD_LIBRARY_PATH beats the binary's RUNPATH; Debian's fastapi
            # stack (pure Python + cpython-311 extensions) ahead of pyenv's.
            env.update(LD_LIBRARY_PATH=str(self.dir),
                       PYTHONPATH="/usr/lib/python3/dist-packages", PYTHONNOUSERSITE="1")
        argv = [interpreter, "-m", "uvicorn", "cpu_app:app", "--app-dir", str(APPS_DIR),
                "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = Proc(f"hostile-{kind}-{replacement}", argv,
                         workdir / f"hostile-{kind}-{replacement}.log", env=env, cwd=REPO_ROOT)
        wait_until(self._ready, 30, f"{self.proc.name} to serve /health", 0.1)
        assert str(self.victim) in self.maps(), f"{self.victim} is not mapped by {self.pid}"

    def _ready(self) -> bool:
        if not self.proc.alive():
            raise AssertionError(f"{self.proc.name} exited:\n{self.proc.tail(40)}")
        try:
            return one_shot(self.port, "GET", "/health")[0] == 200
        except OSError:
            return False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def maps(self) -> str:
        return Path(f"/proc/{self.pid}/maps").read_text()

    def replace(self) -> None:
        """Deletes the interpreter file and puts the hostile object both at its
        path and at the "<path> (deleted)" name /proc/<pid>/maps now shows."""
        deleted_name = f"{self.victim} (deleted)"
        self.victim.unlink()
        if self.replacement == "fifo":
            for p in (str(self.victim), deleted_name):
                os.mkfifo(p)
        else:
            elsewhere = self.dir / "elsewhere"
            elsewhere.mkdir()
            fifo = elsewhere / "fifo"
            os.mkfifo(fifo)
            for p in (str(self.victim), deleted_name):
                os.symlink(fifo, p)
        assert deleted_name in self.maps(), f"maps of {self.pid} does not show {deleted_name}"

    def stop(self) -> None:
        self.proc.stop(signal.SIGTERM, timeout=15)


@pytest.mark.parametrize("replacement", ["fifo", "symlink"])
def test_replaced_interpreter_is_read_through_map_files(bins, module_dir, launch_fn, replacement):
    kinds = ["exe"] + (["libpython"] if pyenv_311() else [])
    workdir = module_dir / replacement
    hostile: List[HostileWorker] = []
    perfd = None
    try:
        for kind in kinds:
            hostile.append(HostileWorker(workdir, kind, replacement))
        for w in hostile:
            w.replace()
        # Started after the replacement: its first look at the workers sees it.
        perfd = Perfd(bins, workdir / "perfd", {}, [])
        for w in hostile:
            perfd.wait_workers(w.service, [w.pid])

        # Discovery goes on: a normal service launched now is found and counted exactly.
        normal = launch_fn("cpu_app:app", unique(f"e2e-next-to-hostile-{replacement}"))
        perfd.warm_up(normal)
        for _ in range(REQUESTS):
            assert normal.get("/pid")[0] == 200
        routes = perfd.wait_count(normal.service, "GET", "/pid", REQUESTS)
        assert route_of(routes, "GET", "/pid")["requests"] == REQUESTS, format_routes(routes)

        # Each hostile worker was inspected through the inode it maps.
        def all_sampled() -> bool:
            perfd.check_alive()
            log = perfd.proc.log_text()
            return all(f"pid {w.pid}: sampling Python 3.11" in log for w in hostile)
        try:
            wait_until(all_sampled, DISCOVERY_TIMEOUT, "perfd to sample every hostile worker")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; perfd log:\n{perfd.proc.tail(40)}") from None
        text = perfd.metrics_text()
        opens = metric_sum(text, "perfd_python_interpreter_opens_total", result="map_files")
        assert opens >= len(hostile), text
    finally:
        if perfd is not None:
            rc = perfd.stop()
            assert rc == 0, f"perfd exited {rc} on SIGTERM (want 0); log:\n{perfd.proc.tail(40)}"
        for w in hostile:
            w.stop()
