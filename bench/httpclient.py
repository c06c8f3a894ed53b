"""A lean HTTP/1.1 client for the load generator: keep-alive POSTs on asyncio protocols.

The generator shares the two cores with the server it measures, so what it spends per request
is taken from ispdesk. httpx cost it 2.6 ms of CPU per POST on the benchmark's machine (most of
a core at 300/s, more than twice the floor's whole cost per message), and a starved generator
sends late: its lateness then swamps every latency figure. This client does what the
generator needs and no more: one host, POST with a body, keep-alive connections, the answer's
status, its body read (by Content-Length, chunked, or until close) and dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from urllib.parse import urlsplit

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as this client reads it."""


class _Answer:
    """Reads one response off a byte buffer; `feed` returns True once it is whole."""

    def __init__(self) -> None:
        self.status = 0
        self.keep_alive = True
        self._length: int | None = None
        self._chunked = False
        self._head_done = False
        self._until_close = False

    def feed(self, buffer: bytearray) -> bool:
        if not self._head_done and not self._read_head(buffer):
            return False
        if self._until_close:
            buffer.clear()
            return False
        if self._chunked:
            return self._read_chunks(buffer)
        length = self._length or 0
        if len(buffer) < length:
            return False
        del buffer[:length]
        return True

    def close_ends_it(self) -> bool:
        """The connection closed: whether that completes this answer (a body up to close)."""
        return self._head_done and self._until_close

    def _read_head(self, buffer: bytearray) -> bool:
        end = buffer.find(_HEAD_END)
        if end < 0:
            if len(buffer) > _MAX_HEAD:
                raise ProtocolError("response head too long")
            return False
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + len(_HEAD_END)]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.keep_alive = parts[0] == "HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                self._length = int(value)
            elif name == "transfer-encoding":
                self._chunked = value.endswith("chunked")
            elif name == "connection" and "close" in value:
                self.keep_alive = False
            elif name == "connection" and "keep-alive" in value:
                self.keep_alive = True
        if self.status in (204, 304) or 100 <= self.status < 200:
            self._length = 0
        elif not self._chunked and self._length is None:
            self._until_close = True
            self.keep_alive = False
        self._head_done = True
        return True

    def _read_chunks(self, buffer: bytearray) -> bool:
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                return False
            size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                # The last chunk, then trailers (usually none) and an empty line.
                end = buffer.find(_HEAD_END, line_end)
                if end < 0:
                    return False
                del buffer[: end + len(_HEAD_END)]
                return True
            if len(buffer) < line_end + 2 + size + 2:
                return False
            del buffer[: line_end + 2 + size + 2]


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: _Answer | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.answer is None or self.waiter is None or self.waiter.done():
            return  # nothing asked: dropped with the connection when it is next used
        try:
            whole = self.answer.feed(self.buffer)
        except ProtocolError as exc:
            self.waiter.set_exception(exc)
            self.close()
            return
        if whole:
            self.waiter.set_result(self.answer.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, answer = self.waiter, self.answer
        if waiter is None or waiter.done():
            return
        if answer is not None and answer.close_ends_it():
            waiter.set_result(answer.status)
        else:
            waiter.set_exception(ConnectionResetError("the server closed the connection"))

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.buffer.clear()
        self.answer = _Answer()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    @property
    def reusable(self) -> bool:
        return not self.closed and self.answer is not None and self.answer.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Client:
    """POSTs to one server over at most `max_connections` keep-alive connections; requests
    beyond them wait for a free one (their wait counts in their latency)."""

    def __init__(self, base_url: str, *, max_connections: int, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http:// URLs: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.host_header = parts.netloc
        self.timeout = timeout
        self.slots = asyncio.Semaphore(max_connections)
        self.idle: deque[_Connection] = deque()
        self.open: set[_Connection] = set()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status code. Raises TimeoutError, OSError (connection refused or
        lost) or ProtocolError."""
        head = [f"POST {self.prefix}{path} HTTP/1.1", f"Host: {self.host_header}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with self.slots:
            connection = await self._connection()
            try:
                status = await asyncio.wait_for(connection.send(request), self.timeout)
            except BaseException:
                self._drop(connection)
                raise
            if connection.reusable:
                self.idle.append(connection)
            else:
                self._drop(connection)
            return status

    async def _connection(self) -> _Connection:
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed:
                return connection
            self.open.discard(connection)
        loop = asyncio.get_running_loop()
        _transport, connection = await asyncio.wait_for(
            loop.create_connection(_Connection, self.host, self.port), self.timeout
        )
        self.open.add(connection)
        return connection

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self.open.discard(connection)

    async def aclose(self) -> None:
        for connection in list(self.open):
            connection.close()
        self.open.clear()
        self.idle.clear()
