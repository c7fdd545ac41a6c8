"""perfd BPF test workload: garbage collections known by construction.

Prints "ready", then waits (polling) until the file argv[2] exists. Then it
records every collection through gc.callbacks (generation and duration, the
callbacks wrap CPython's gc__start/gc__done probes), forces FULL collections
of generation 2 over a heap of cyclic garbage and YOUNG collections of
generation 0, and prints one line:
  "done <start_ns> <end_ns> <n0> <n1> <n2> <ns0> <ns1> <ns2>"
(CLOCK_MONOTONIC bounds of the measured part, collections per generation,
and their summed durations in ns as the callbacks saw them), then sleeps
until argv[1] seconds have passed; the test kills it sooner.
"""
import gc
import os
import sys
import time

FULL = 5
YOUNG = 20


class Node:
    def __init__(self):
        self.other = None


def garbage(n):
    # Pairs of objects pointing at each other: only the cycle collector frees them.
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    go = sys.argv[2]
    counts = [0, 0, 0]
    spent = [0, 0, 0]
    started = {}

    def on_gc(phase, info):
        if phase == "start":
            started["t"] = time.perf_counter_ns()
        elif "t" in started:
            g = info["generation"]
            counts[g] += 1
            spent[g] += time.perf_counter_ns() - started.pop("t")

    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    gc.callbacks.append(on_gc)
    start_ns = time.monotonic_ns()
    for _ in range(FULL):
        garbage(50000)
        gc.collect(2)
    for _ in range(YOUNG):
        garbage(100)
        gc.collect(0)
    end_ns = time.monotonic_ns()
    gc.callbacks.remove(on_gc)
    print("done", start_ns, end_ns, *counts, *spent, flush=True)
    while time.monotonic() < deadline:
        time.sleep(0.1)


main()
