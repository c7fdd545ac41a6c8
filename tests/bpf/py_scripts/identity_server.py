"""perfd BPF test workload: request identity on a real interpreter.

A minimal HTTP/1.1 server shaped like uvicorn: the protocol's data_received
(outside any task) creates one task per request line it reads. Each request
of path /<x> burns CPU in functions named for its path, so a sample's leaf
tells which request it worked for:
  - burn_<x>: in the request's own task, in slices that yield to the loop
    (the two requests' tasks interleave);
  - child_<x>: in a child task (asyncio.gather);
  - thread_<x>: in a worker thread (asyncio.to_thread copies the context).
Prints "ready <port>"; stops after argv[1] seconds.
"""
import asyncio
import sys
import time

SLICE = 0.01


def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def burn_a(s):
    spin(s)


def burn_b(s):
    spin(s)


def thread_a(s):
    spin(s)


def thread_b(s):
    spin(s)


async def child_a(s):
    await asyncio.sleep(0)
    spin(s)


async def child_b(s):
    await asyncio.sleep(0)
    spin(s)


FUNCS = {"a": (burn_a, child_a, thread_a), "b": (burn_b, child_b, thread_b)}


async def handle(transport, name):
    burn, child, thread = FUNCS[name]
    for _ in range(20):  # 0.2 s in slices
        burn(SLICE)
        await asyncio.sleep(0)
    await asyncio.gather(child(0.1), child(0.1))
    await asyncio.to_thread(thread, 0.2)
    transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


class Protocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        for line in data.split(b"\r\n"):
            if line.startswith(b"GET /"):
                name = line.split()[1][1:].decode()
                asyncio.get_running_loop().create_task(handle(self.transport, name))


async def main(lifetime):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Protocol, "127.0.0.1", 0)
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(lifetime)


asyncio.run(main(float(sys.argv[1])))
