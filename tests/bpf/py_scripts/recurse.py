"""perfd BPF test workload: a stack deeper than the BPF walker's limit.

recurse() calls itself argv[2] times (200 > PY_MAX_FRAMES = 128) and then
spins in its innermost call, so every sample's leaf is recurse() and the
walk runs out of frames before it reaches main(). Prints "ready" at the
bottom of the recursion; spins until argv[1] seconds have passed.
"""
import sys
import time


def recurse(n, deadline):
    if n > 0:
        return recurse(n - 1, deadline)
    print("ready", flush=True)
    x = 0
    while time.monotonic() < deadline:
        for i in range(10000):
            x += i * i
    return x


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    return recurse(int(sys.argv[2]), deadline)


main()
