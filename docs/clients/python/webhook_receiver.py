"""A department's receiver of jiangcheng's pushed list events, with the Python standard library.

    JC_PUSH_SECRET=<the subscription's secret> python3 webhook_receiver.py 127.0.0.1 8800

It checks each request's signature (X-Jiangcheng-Signature: t=<unix seconds>,v1=<hex>, the hex
being HMAC-SHA256 of "<t>.<body>" keyed with the secret) over the body exactly as received,
refuses a signature more than five minutes from its clock, answers 2xx only once the event is
handled, and handles each event id once: the push sends at least once, so an event may come
again after a retry.
"""

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["JC_PUSH_SECRET"].encode()
TOLERANCE_SECONDS = 300


def verify(header, body, now=None):
    """Whether `header` signs `body` (bytes) with SECRET, within the tolerance of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - t) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(SECRET, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class Receiver(BaseHTTPRequestHandler):
    seen = set()  # a real receiver keeps the ids it handled in its database

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not verify(self.headers.get("X-Jiangcheng-Signature", ""), body):
            self.send_response(401)
            self.end_headers()
            print("refused: the signature does not verify", flush=True)
            return
        event = json.loads(body)
        if event["id"] not in self.seen:
            self.seen.add(event["id"])
            entry = event["entry"] or {}
            print(f"event {event['id']} {event['type']} {entry.get('list')} "
                  f"{entry.get('entry_id')} at {event['occurred_at']}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    HTTPServer((host, port), Receiver).serve_forever()
