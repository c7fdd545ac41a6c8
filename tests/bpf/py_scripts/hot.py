"""perfd BPF test workload: a known hot function nested a known depth.

<module> -> main() -> level1() -> level2() -> level3() -> hot(), where hot()
is a pure-Python busy loop (time.monotonic() is a C call: no Python frame).
Prints "ready" from main(), then spins until argv[1] seconds have passed; the
test kills it sooner. tests/bpf/py_stacks_test.cc reads this file to find the
lines of hot()'s body, so keep each function's body indented under its def.
"""
import sys
import time


def hot(deadline):
    x = 0
    while time.monotonic() < deadline:
        for i in range(10000):
            x += i * i
    return x


def level3(deadline):
    return hot(deadline)


def level2(deadline):
    return level3(deadline)


def level1(deadline):
    return level2(deadline)


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    print("ready", flush=True)
    return level1(deadline)


main()
