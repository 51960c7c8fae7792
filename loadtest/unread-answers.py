#!/usr/bin/env python3
"""Memory held by batch answers that are never read.

Starts `jiangcheng serve` on the demo lists, reads its resident memory when idle, then opens
CLIENTS connections that each send a batch of SUBJECTS listed subjects (an answer of about
640 bytes a subject) and never read the answer. Prints the idle RSS, the peak RSS while the
clients hold on, and how each client's answer began (200, or 503 when shed).

    python3 loadtest/unread-answers.py ./target/release/jiangcheng [--clients 100] [--seconds 20] [-- serve flags]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("serve_flags", nargs="*")
    args = parser.parse_args()

    lists = os.path.join(ROOT, "rulesets/qiqihar/demo-lists.jsonl")
    subjects = sorted({json.loads(line)["subject_id"] for line in open(lists)})
    body = json.dumps({
        "matter": "gov_procurement",
        "subjects": [{"id": subjects[i % len(subjects)]} for i in range(args.subjects)],
    }).encode()
    request = (
        b"POST /v1/decide/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )

    port = free_port()
    server = subprocess.Popen(
        [args.binary, "serve", "--listen", f"127.0.0.1:{port}", "--log", "warn", *args.serve_flags],
        cwd=ROOT,
        env={**os.environ, "JC_REGISTER": "off"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        # One batch read whole, so that the idle figure includes what a first batch allocates.
        warm = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/decide/batch", data=body,
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(warm).read()
        time.sleep(1)
        idle = rss_kib(server.pid)

        clients = []
        for _ in range(args.clients):
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", port))
            client.sendall(request)
            clients.append(client)
        peak, started = idle, time.time()
        while time.time() - started < args.seconds:
            peak = max(peak, rss_kib(server.pid))
            time.sleep(0.2)
        held = rss_kib(server.pid)

        statuses = {}
        for client in clients:
            client.setblocking(False)
            try:
                head = client.recv(16).decode(errors="replace")
                status = head.split(" ")[1] if head.startswith("HTTP/") else "no answer"
            except BlockingIOError:
                status = "no answer yet"
            except OSError as err:
                status = f"closed ({err.strerror})"
            statuses[status] = statuses.get(status, 0) + 1
            client.close()
        print(f"idle RSS {idle / 1024:.0f} MiB; with {args.clients} clients not reading: "
              f"peak {peak / 1024:.0f} MiB (+{(peak - idle) / 1024:.0f}), "
              f"after {args.seconds:.0f} s {held / 1024:.0f} MiB (+{(held - idle) / 1024:.0f}); "
              f"answers: {statuses}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
