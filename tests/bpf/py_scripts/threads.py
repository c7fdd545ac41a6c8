"""perfd BPF test workload: two Python threads, each with its own hot stack.

Main thread: <module> -> main() -> main_hot(). Second thread:
Thread._bootstrap -> ... -> worker() -> worker_hot(). Both spin in pure
Python (taking turns on the GIL) until argv[1] seconds have passed. Prints
"ready <main native tid> <worker native tid>" once both are running.
"""
import sys
import threading
import time


def worker_hot(deadline):
    x = 0
    while time.monotonic() < deadline:
        for i in range(10000):
            x += i * i
    return x


def worker(deadline, started):
    started.set()
    return worker_hot(deadline)


def main_hot(deadline):
    x = 0
    while time.monotonic() < deadline:
        for i in range(10000):
            x += i * i
    return x


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    started = threading.Event()
    t = threading.Thread(target=worker, args=(deadline, started), daemon=True)
    t.start()
    started.wait()
    print("ready", threading.get_native_id(), t.native_id, flush=True)
    main_hot(deadline)
    t.join()


main()
