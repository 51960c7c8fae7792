"""A small client for jiangcheng's v1 API, on the Python standard library only.

Copy this file into your platform. It covers the bearer key (read from the environment, never
written in code), connect and read timeouts, retries of 429 and 503 answers that honour
`Retry-After`, and problem+json errors as a typed exception.
"""

import http.client
import json
import logging
import os
import random
import time
import urllib.parse
from dataclasses import dataclass, field

log = logging.getLogger("jiangcheng_client")

# Answers that mean "refused before doing anything, come back later": retrying them repeats
# nothing. Every other 4xx is the request's own fault, and the same request would fail again.
RETRIED_STATUSES = (429, 503)


@dataclass
class FieldError:
    """One field a 400 answer names, with what is wrong with it in plain words."""

    field: str
    message: str


@dataclass
class ApiError(Exception):
    """An answer other than 2xx, read from its problem+json body."""

    status: int
    code: str | None
    title: str | None = None
    detail: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    retry_after: int | None = None

    def __str__(self):
        return f"{self.status} {self.code}: {self.detail or self.title}"


class Client:
    """Calls one jiangcheng service; one instance may be shared by a program's threads.

    connect_timeout bounds the TCP (and TLS) connect, read_timeout each wait for the answer.
    A 429 or 503 is retried up to max_attempts in all, after the whole seconds its `Retry-After`
    asks plus up to half a second of jitter (so that refused clients do not come back in step);
    one that asks for more than max_retry_wait seconds is raised at once instead.
    """

    def __init__(
        self,
        base_url=None,
        key=None,
        connect_timeout=2.0,
        read_timeout=10.0,
        max_attempts=4,
        max_retry_wait=10,
    ):
        base_url = base_url or os.environ.get("JC_URL", "http://127.0.0.1:8080")
        self._url = urllib.parse.urlsplit(base_url)
        if self._url.scheme not in ("http", "https"):
            raise ValueError(f"JC_URL must be an http or https URL, not {base_url!r}")
        # The key comes from the environment (or the caller's secret store), never from code.
        self._key = key if key is not None else os.environ.get("JC_KEY")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.max_retry_wait = max_retry_wait

    def decide(self, subject_id, matter, id_type=None, department=None, case_ref=None):
        """One decision: allow, flag or block, with its reasons."""
        subject = {"id": subject_id}
        if id_type:
            subject["id_type"] = id_type
        body = {"subject": subject, "matter": matter}
        if department:
            body["department"] = department
        if case_ref:
            body["case_ref"] = case_ref
        return self._call("POST", "/v1/decide", body)

    def decide_batch(self, matter, subject_ids, case_ref=None):
        """Screens many subjects (bidders) in one matter; results in the order asked."""
        body = {"matter": matter, "subjects": [{"id": i} for i in subject_ids]}
        if case_ref:
            body["case_ref"] = case_ref
        return self._call("POST", "/v1/decide/batch", body)

    def subject(self, subject_id):
        """The subject's profile: its entries, their windows, states and disputes."""
        return self._call("GET", "/v1/subjects/" + urllib.parse.quote(subject_id, safe=""))

    def _call(self, method, path, body=None):
        # Every call here only reads (a decision reads the lists and leaves a register record),
        # and a 429 or 503 is given before anything is done, so retrying cannot repeat an effect.
        attempt = 1
        while True:
            try:
                return self._once(method, path, body)
            except ApiError as error:
                if (
                    error.status not in RETRIED_STATUSES
                    or attempt >= self.max_attempts
                    or error.retry_after > self.max_retry_wait
                ):
                    raise
                wait = error.retry_after + random.uniform(0, 0.5)
                log.warning(
                    "retry %d/%d after %d %s: waiting %.1f s",
                    attempt,
                    self.max_attempts - 1,
                    error.status,
                    error.code,
                    wait,
                )
                time.sleep(wait)
                attempt += 1

    def _once(self, method, path, body):
        connection_type = (
            http.client.HTTPSConnection
            if self._url.scheme == "https"
            else http.client.HTTPConnection
        )
        connection = connection_type(self._url.netloc, timeout=self.connect_timeout)
        try:
            connection.connect()
            connection.sock.settimeout(self.read_timeout)
            headers = {"Accept": "application/json", "Accept-Language": "zh-CN,en;q=0.8"}
            if self._key:
                headers["Authorization"] = "Bearer " + self._key
            data = None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                headers["Content-Type"] = "application/json"
            connection.request(method, self._url.path.rstrip("/") + path, data, headers)
            answer = connection.getresponse()
            payload = answer.read()
            if 200 <= answer.status < 300:
                return json.loads(payload)
            raise _problem(answer.status, answer.getheader("Content-Type", ""),
                           answer.getheader("Retry-After"), payload)
        finally:
            connection.close()


def _problem(status, content_type, retry_after, payload):
    """Reads an error answer; a body that is not problem+json (a proxy's page) keeps its text."""
    try:
        seconds = max(1, int(retry_after)) if retry_after is not None else 1
    except ValueError:
        seconds = 1
    if content_type.startswith("application/problem+json"):
        try:
            problem = json.loads(payload)
        except ValueError:
            problem = None
        if isinstance(problem, dict):
            return ApiError(
                status=status,
                code=problem.get("code"),
                title=problem.get("title"),
                detail=problem.get("detail"),
                errors=[FieldError(e.get("field"), e.get("message"))
                        for e in problem.get("errors") or []],
                retry_after=seconds,
            )
    text = payload.decode("utf-8", errors="replace")[:200]
    return ApiError(status=status, code=None, detail=text, retry_after=seconds)
