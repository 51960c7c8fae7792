#!/usr/bin/env python3
"""How long slow clients hold a connection, and how long a stuck one delays a stop.

Starts `jiangcheng serve` on the demo lists and measures, for three slow bodies sent to
POST /v1/decide (a Content-Length of 1000 with 10 bytes sent, a body trickled one byte every
2 s, a chunked body that never ends), the answer and the time until the server closes the
connection; then, with a client stuck half-way through a request, the time from SIGTERM to the
process's exit.

    python3 loadtest/slow-clients.py ./target/release/jiangcheng [--limit 60] [-- serve flags]
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAD = b"POST /v1/decide HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
PATTERNS = [
    ("Content-Length 1000, 10 bytes sent", HEAD + b"Content-Length: 1000\r\n\r\n{\"subject\"", None),
    ("one byte every 2 s", HEAD + b"Content-Length: 1000\r\n\r\n{", b" "),
    ("unterminated chunked body", HEAD + b"Transfer-Encoding: chunked\r\n\r\nb\r\n{\"subject\":\r\n", None),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(binary, flags):
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--log", "warn", *flags],
        cwd=ROOT, env={**os.environ, "JC_REGISTER": "off"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz").status == 200:
                return server, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def slow(port, name, first, trickle, limit, results):
    client = socket.create_connection(("127.0.0.1", port))
    client.settimeout(0.1)
    started = last = time.time()
    client.sendall(first)
    answer, closed = b"", None
    while time.time() - started < limit:
        if trickle and time.time() - last >= 2:
            try:
                client.sendall(trickle)
            except OSError:
                pass
            last = time.time()
        try:
            data = client.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            data = b""
        if not data:
            closed = time.time() - started
            break
        answer += data
    status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "none"
    results[name] = (status, closed)
    client.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("serve_flags", nargs="*")
    args = parser.parse_args()

    server, port = start(args.binary, args.serve_flags)
    try:
        results = {}
        threads = [threading.Thread(target=slow, args=(port, name, first, trickle, args.limit, results))
                   for name, first, trickle in PATTERNS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name, _, _ in PATTERNS:
            status, closed = results[name]
            shown = f"closed after {closed:.1f} s" if closed is not None else f"still open after {args.limit:.0f} s"
            print(f"{name}: answer {status}, {shown}")
    finally:
        server.terminate()
        server.wait()

    server, port = start(args.binary, args.serve_flags)
    stuck = socket.create_connection(("127.0.0.1", port))
    stuck.sendall(PATTERNS[0][1])
    time.sleep(0.5)
    stopping = time.time()
    server.terminate()
    server.wait()
    print(f"SIGTERM with a client stuck mid-request: exited after {time.time() - stopping:.1f} s")
    stuck.close()


if __name__ == "__main__":
    sys.exit(main())
