"""perfd BPF test workload: CPU work inside an asyncio Task.

The task runs handler() -> await step() -> cpu_work(). step() does 50 ms of
pure-Python work, then yields to the event loop (await asyncio.sleep(0)), so
the task is suspended and resumed many times while the test samples: its
outermost coroutine frame (handler's) must stay the sample's root_frame
across resumptions. Prints "ready" from inside the task; runs until argv[1]
seconds have passed.
"""
import asyncio
import sys
import time


def cpu_work(until):
    x = 0
    while time.monotonic() < until:
        for i in range(10000):
            x += i * i
    return x


async def step(slice_s):
    cpu_work(time.monotonic() + slice_s)
    await asyncio.sleep(0)


async def handler(deadline):
    print("ready", flush=True)
    while time.monotonic() < deadline:
        await step(0.05)


async def main(deadline):
    await asyncio.create_task(handler(deadline))


asyncio.run(main(time.monotonic() + float(sys.argv[1])))
