"""The machinery the Evolution and WPPConnect fakes share: a real HTTP server in a thread.

A `FakeServer` subclass answers requests in `route()`; this module records every request,
plays scripted failures, holds "hang" requests until released, and POSTs webhooks. See
`ispdesk.testing.fakes` for how tests use it.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

logger = logging.getLogger("ispdesk.testing.fakes")

# A bounded wait for "hang", only in case a test never releases it.
HANG_LIMIT = 60.0
# Failures every fake knows; each fake adds its own (see its FAILURES).
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # None when the body is not JSON


@dataclass(frozen=True)
class _Failure:
    name: str
    path: str
    retry_after: float | None


class FakeServer:
    """State and scripting shared by the fakes; subclasses implement `route` and `failure`."""

    name: ClassVar[str] = "fake"
    # Failure names the subclass answers in `failure()`, besides "hang".
    failures: ClassVar[tuple[str, ...]] = ()
    # Paths a failure applies to unless `fail_next(path=...)` says otherwise.
    send_path_parts: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.requests: list[RecordedRequest] = []
        # What the gateway accepted to send (the request body plus its "id").
        self.accepted: list[dict[str, Any]] = []
        self._failures: deque[_Failure] = deque()
        self._changed = threading.Condition(threading.RLock())
        self._released = threading.Event()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- scripting and assertions ------------------------------------------------------------

    def fail_next(
        self, name: str, times: int = 1, *, retry_after: float | None = None, path: str = ""
    ) -> None:
        """Answer the next `times` send calls (or calls whose path contains `path`; "/" for
        any call) with the failure `name`."""
        if name != "hang" and name not in self.failures:
            raise ValueError(f"unknown failure {name!r}; choose from {[*self.failures, 'hang']}")
        with self._changed:
            self._failures.extend([_Failure(name, path, retry_after)] * times)

    def release(self) -> None:
        """Let every hanging request finish (answered 504); later "hang" failures do not wait."""
        self._released.set()

    def requests_to(self, suffix: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path ends with `suffix` (and with `method`, if given)."""
        with self._changed:
            return [
                r
                for r in self.requests
                if r.path.endswith(suffix) and (method is None or r.method == method)
            ]

    def paths(self) -> list[str]:
        """`"METHOD /path"` of every recorded request, in order."""
        with self._changed:
            return [f"{r.method} {r.path}" for r in self.requests]

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The accepted sends once there are at least `count`; TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.accepted) >= count, timeout):
                raise TimeoutError(f"{len(self.accepted)} of {count} messages after {timeout}s")
            return list(self.accepted)

    def post_webhook(
        self, url: str, payload: dict[str, Any] | bytes, *, timeout: float = 10.0
    ) -> httpx.Response:
        """POST a webhook body to `url` as the gateway would, and return the answer."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"{self.name}-fake"}
        with httpx.Client(timeout=timeout) as client:
            return client.post(url, content=body, headers=headers)

    # ---- for subclasses ----------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        raise NotImplementedError

    def accept(self, body: dict[str, Any], message_id: str) -> None:
        with self._changed:
            self.accepted.append({**body, "id": message_id})
            self._changed.notify_all()

    def next_number(self) -> int:
        return next(self._ids)

    def redact_log(self, line: str) -> str:
        """The fake's own log line without credentials (tests assert no secret is logged)."""
        return line

    # ---- serving -----------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Answer:
        failure = self._record(request)
        if failure is None:
            return self.route(request)
        if failure.name == "hang":
            self._released.wait(HANG_LIMIT)
            return json_answer(504, {"status": 504, "error": "Gateway Timeout"})
        answer = self.failure(failure.name, request, failure.retry_after)
        if failure.retry_after is not None:
            answer[1].setdefault("Retry-After", f"{failure.retry_after:g}")
        return answer

    def _record(self, request: RecordedRequest) -> _Failure | None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            for index, failure in enumerate(self._failures):
                if self._applies(failure, request.path):
                    del self._failures[index]
                    return failure
            return None

    def _applies(self, failure: _Failure, path: str) -> bool:
        if failure.path:
            return failure.path in path
        return any(part in path for part in self.send_path_parts)


def json_answer(status: int, data: Any, headers: dict[str, str] | None = None) -> Answer:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(data).encode(),
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=data,
        )
        try:
            status, headers, answer = self.server.fake.handle(request)
        except Exception:  # a bug in the fake must show, not hang the client
            logger.exception("%s failed on %s %s", self.server.fake.name, self.command, self.path)
            status, headers, answer = json_answer(500, {"error": "fake server bug"})
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        fake = self.server.fake
        logger.debug("%s: %s", fake.name, fake.redact_log(format % args))


class _KeepAliveHandler(_Handler):
    # HTTP/1.1: a connection serves request after request, as the real gateways' do.
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm the body waits
    # for the client's delayed ACK of the headers, 40 ms per answer on a reused connection.
    disable_nagle_algorithm = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


F = TypeVar("F", bound=FakeServer)


@contextmanager
def serving(fake: F, *, keep_alive: bool = False) -> Iterator[F]:
    """Serve `fake` on a free port until the block ends; hanging requests are released.

    Each connection serves one request unless `keep_alive` (the benchmark's gateways): a
    test's pooled client then never reaches a server stopped since through an old one."""
    server = _Server((fake.host, 0), _KeepAliveHandler if keep_alive else _Handler)
    server.fake = fake
    fake.port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=fake.name, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        fake.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class WebhookSink(FakeServer):
    """A receiver that records every request and answers `status` (200 by default): where
    a fake gateway can deliver webhooks when no ispdesk server is running."""

    name: ClassVar[str] = "webhook-sink"

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status

    def route(self, request: RecordedRequest) -> Answer:
        with self._changed:
            if isinstance(request.json, dict):
                self.accepted.append(request.json)
            self._changed.notify_all()
        return json_answer(self.status, {"ok": self.status < 300})

    def hook_url(self, path: str = "/hooks/whatsapp/sink-secret/") -> str:
        return self.url + path
