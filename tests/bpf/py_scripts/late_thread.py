"""perfd BPF test workload: a thread started after perfd attached.

Prints "ready", waits until the file argv[2] exists (perfd is attached by
then), starts a thread that spins in pure Python for argv[3] seconds of its
own CPU time (late_hot), prints "started <native tid>", joins it and prints
"done". Gives up after argv[1] seconds without the file.
"""
import os
import sys
import threading
import time


def late_hot(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(1000):
            x += i * i
    return x


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    print("ready", flush=True)
    while not os.path.exists(sys.argv[2]):
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)
    t = threading.Thread(target=late_hot, args=(float(sys.argv[3]),))
    t.start()
    print("started", t.native_id, flush=True)
    t.join()
    print("done", flush=True)


main()
