#!/usr/bin/env python3
"""Sends N POSTs of one decide request to PATH on 127.0.0.1:PORT over one keep-alive connection,
one at a time, and exits non-zero on any answer but 200: a fixed, countable load for callgrind
(docs/performance.md, "HTTP conventions: what each request pays").

usage: keepalive-posts.py PORT PATH N
"""
import http.client
import sys

port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = b'{"subject":{"id":"91230202MAG6KQ7Y4X"},"matter":"gov_procurement"}'
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"{path}: {response.status}")
