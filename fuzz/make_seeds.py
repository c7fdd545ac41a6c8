#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/seed-* from the unit tests'
fixtures (request/status lines, responses, OpenAPI documents, route
templates, CPython line tables, code objects laid out with the real
per-version offsets, configs). Rerun after changing a target's input
format; inputs the fuzzers added (other names) are left alone.

Several targets read their input with FuzzedDataProvider, which takes
strings from the front and numbers from the back (last byte first): the
seeds below put their numbers after the strings for that reason.
"""
import json
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old.startswith("seed-"):
            os.remove(os.path.join(d, old))
    for i, data in enumerate(seeds):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(data)


def fdp_strings(*texts):
    """Strings as ConsumeRandomLengthString reads them: '\\' doubled, each
    ended by a backslash and another byte."""
    out = b""
    for t in texts:
        if isinstance(t, str):
            t = t.encode()
        out += t.replace(b"\\", b"\\\\") + b"\\\n"
    return out


LINES = [
    "GET /users/42 HTTP/1.1", "POST /items HTTP/1.0", "GET http://host:8000/a/b HTTP/1.1",
    "OPTIONS * HTTP/1.1", "GET /x HTT", "DELETE /orders/7", "HEAD / HTTP/1.",
    "HTTP/1.1 200 OK", "HTTP/1.0 404 Not Found", "HTTP/1.1 101 Switching Protocols",
    "HTTP/1.1 100 Continue", "HTTP/1.1 503",
]

RESPONSES = [
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n2;x=y\n{}\n0\nx-t: 1\n\n",
    "HTTP/1.1 204 No Content\r\ncontent-length: 99\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\nbody until close",
    "HTTP/1.1 404 Not Found\r\ncontent-length: 22\r\n\r\n{\"detail\":\"Not Found\"}",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: identity, chunked\r\n\r\nffffffffffffffec\r\n",
]

OPENAPI = [
    '{"openapi":"3.1.0","paths":{"/items/{item_id}":{},"/users/me":{},"/users/{user_id}":{}}}',
    '{"swagger": "2.0", "basePath": "/api/v2/", "paths": {"/pets/{petId}": {}, "/pets": {}}}',
    '{"openapi": "3.1.0", "servers": [{"url": "/prefix"}], "basePath": "/ignored", '
    '"paths": {"/a": {}, "x-ext": {}}}',
    '{"openapi": "3.0.2", "paths": {"/files/{p:path}": {}, "/r/{id}.csv": {}, "/n/{x:float}": {}}}',
    '{"openapi": "3.0.2", "paths": ["/a"]}',
    '{"paths": {}} trailing',
]

TEMPLATES = [
    ("/users/{user_id}", "/users/me", "/users/42", "/users/", "/users/42/x"),
    ("/items/{item_id:int}", "/items/{x:float}", "/items/17", "/items/1.5", "/items/abc"),
    ("/u/{id:uuid}", "/u/me", "/u/123e4567-e89b-12d3-a456-426614174000", "/u/123E4567"),
    ("/files/{p:path}", "/files/{p:path}/raw", "/files/a/b/c", "/files/", "/files/a/raw"),
    ("/reports/{id}.csv", "/reports/{a}-{b}.{c}", "/reports/7.csv", "/reports/a-b-c.d.e"),
    ("/{a:path}/x/{b:path}/y", "/{z}", "/1/x/2/y", "/x/x/y/y", "/a/b/x/c/d/y"),
    ("/x/{a}{b}", "/users/{id", "/x/ab"),
]

PATHS = ["/users/42", "/users/me", "/items/17?x=1", "/orders/8f14e45fceea167a5a36dedd4bea2543",
         "http://h/users/7", "/a/b/c", "/files/x/y", "/\xff/bytes", "/u/123e4567-e89b-12d3-a456-426614174000"]

CONFIGS = [
    "",
    "listen:\n  metrics: 0.0.0.0:9464\n  grpc_socket: /run/perfd/perfd.sock\n",
    "services:\n  - {match: 'uvicorn .*shop', name: shop}\nroutes:\n  openapi: true\n"
    "  max_per_service: 200\n  rules:\n    - {service: shop, pattern: '/users/{id:int}'}\n",
    "python:\n  sampling: yes\n  sample_hz: 99\n  categories:\n"
    "    - {module: 'sqlalchemy.*', category: db}\n",
    "http: {response_idle_timeout_ms: 3000}\naggregation: {window_max_seconds: 3600}\n"
    "log: {level: debug}\ndiscovery: {scan_interval_ms: 250}\n",
    "listen:\n  metrics: [unclosed\n",
    "a: 1\n---\nb: 2\n",
    "listen: {grpc_tcp: '[::1]:50051', grpc_socket: '', grpc_socket_group: perfd}\n",
]


def linetable_seeds():
    seeds = []
    fixtures = os.path.join(ROOT, "tests", "unit", "python_sym", "linetable_fixtures.inc")
    rows = re.findall(r'\{3, (\d+), "[^"]*", (-?\d+), \d+,\s*"([0-9a-f]*)"', open(fixtures).read())
    for minor, first, table in rows[:40]:
        fmt = 1 if minor == "10" else 0  # ConsumeBool: kLnotab310 when odd
        raw = (int(first) + 2**31) % 2**32  # ConsumeIntegral<int32_t> adds INT32_MIN
        seeds.append(bytes.fromhex(table) + struct.pack("<I", raw) + bytes([1, fmt]))
    return seeds


PY_OFFSET_FIELDS = [
    "runtime_interp_head", "interp_tstate_head", "tstate_next", "tstate_thread_id",
    "tstate_frame", "cframe_current", "frame_code", "frame_previous", "frame_instr",
    "frame_owner", "frame_gen", "code_adaptive", "code_firstlineno", "code_filename",
    "code_name", "code_qualname", "code_linetable", "unicode_data", "bytes_data", "var_size",
    "tstate_context", "context_vars", "major", "minor", "owner_generator", "owner_cstack",
]
NONE = 0xFFFF
BASE = 0x7F0000001000  # FakeMemory's first address (tests/unit/python_sym/fake_memory.h)


def code_reader_seeds():
    inc = open(os.path.join(ROOT, "daemon", "python", "offsets_table.inc")).read()
    rows = re.findall(r'^\{"[^"]+", \{([^}]*)\}', inc, re.M)
    seeds = []
    for index, row in enumerate(rows):
        off = dict(zip(PY_OFFSET_FIELDS, [int(v, 0) for v in row.split(",")]))
        image = bytearray(256)  # the code object at BASE

        def put(fmt, at, value):
            struct.pack_into(fmt, image, at, value)

        def add(obj):
            while len(image) % 16:
                image.append(0)
            addr = BASE + len(image)
            image.extend(obj)
            return addr

        def ascii_str(s, kind=1, ascii=True):
            size = off["unicode_data"] + (0 if ascii else (24 if off["minor"] <= 11 else 16))
            obj = bytearray(size)
            struct.pack_into("<q", obj, 16, len(s))
            struct.pack_into("<I", obj, 32, 1 | (kind << 2) | (1 << 5) | ((1 if ascii else 0) << 6))
            for ch in s:
                obj += ord(ch).to_bytes(kind, "little")
            return add(bytes(obj) + b"\0" * 4)

        def py_bytes(data):
            obj = bytearray(off["bytes_data"])
            struct.pack_into("<q", obj, off["var_size"], len(data))
            return add(bytes(obj) + data + b"\0")

        put("<i", off["code_firstlineno"], 12)
        put("<Q", off["code_filename"], ascii_str("/srv/app/main.py"))
        put("<Q", off["code_name"], ascii_str("handler"))
        if off["code_qualname"] != NONE:
            put("<Q", off["code_qualname"], ascii_str("Shop.h\u00e9llo\u2603", kind=2, ascii=False))
        put("<Q", off["code_linetable"], py_bytes(bytes.fromhex("80018e02")))
        # Numbers come off the back: the row index, then "just a str" (0 mod 4).
        seeds.append(bytes(image) + bytes([1, index]))
        seeds.append(bytes(image[256:]) + bytes([0, index]))
    return seeds


def kubernetes_seeds():
    """First byte: 0 a /proc/<pid>/cgroup text, 1 a PodList, 2 a watch stream."""
    uid = "0f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    cid = "3b0f6c9ad0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b"
    systemd = ("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
               "cri-containerd-%s.scope\n" % (uid.replace("-", "_"), cid))
    cgroupfs = "12:pids:/kubepods/besteffort/pod%s/%s\n1:name=systemd:/\n0::/\n" % (uid, cid)
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": "u1", "namespace": "ns", "uid": "u1", "resourceVersion": "5",
                        "labels": {"app": "shop"}},
           "status": {"containerStatuses": [{"name": "api", "containerID": "containerd://" + cid}]}}
    pod_list = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
                "items": [pod]}
    events = [{"type": "ADDED", "object": pod}, {"type": "MODIFIED", "object": pod},
              {"type": "DELETED", "object": pod},
              {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "9"}}},
              {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}]
    return [b"\x00" + systemd.encode(), b"\x00" + cgroupfs.encode(),
            b"\x01" + json.dumps(pod_list).encode(),
            b"\x02" + "\n".join(json.dumps(e) for e in events).encode() + b"\n"]


def main():
    write("line_parser", LINES)
    write("http_tracker", [fdp_strings(l) * 2 + bytes(range(0, 64, 3)) for l in LINES[:4]] +
          [fdp_strings("GET /a HTTP/1.1", "HTTP/1.1 200 OK") + b"\x02\x03\x00\x01" * 8])
    write("http_response", [r.encode() + b"\xff" * 24 + b"\x00" for r in RESPONSES] +
          [b"{\"a\": [1, 2, 3]}" + b"\x05\x01" * 12 + b"\x01"])
    write("openapi", [doc.encode() + bytes([n]) for n, doc in enumerate(OPENAPI)])  # max_paths
    write("route_template", [fdp_strings(*t) for t in TEMPLATES])
    # From the back: max_routes, min_requests, document, rule count, template count.
    write("route_table", [fdp_strings(*[x.lstrip("/") for x in t[:2] * 2 + tuple(PATHS)]) +
                          bytes([2, 2, doc, 1, 4]) for t in TEMPLATES[:5] for doc in (0, 1)])
    write("linetable", linetable_seeds())
    write("code_reader", code_reader_seeds())
    example = open(os.path.join(ROOT, "deploy", "perfd.example.yaml")).read()
    write("config", CONFIGS + [example])
    write("kubernetes", kubernetes_seeds())


if __name__ == "__main__":
    main()
