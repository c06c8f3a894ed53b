"""The load generator's HTTP client against a local server that answers with chosen bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bench.httpclient import Client, ProtocolError

# Each answer: the raw bytes a server sends for one request, in pieces (each its own write,
# so the client sees them split), and whether the server then closes the connection.
Answer = tuple[list[bytes], bool]


class Server:
    """Reads each request (head and Content-Length body) and answers with the next `answer`."""

    def __init__(self, answer: Callable[[bytes], Answer]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                pieces, close = self.answer(request)
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def plain(status: int = 200, body: bytes = b'{"ok":true}') -> Answer:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    return [f"{head}Content-Length: {len(body)}\r\n\r\n".encode(), body], False


def test_posts_are_sent_whole_and_keep_alive_connections_are_reused():
    server = Server(lambda request: plain(202 if b"segundo" in request else 200))

    async def scenario() -> list[int]:
        async with server as url:
            client = Client(url + "/base", max_connections=4, timeout=5)
            statuses = []
            for text in (b"primero", b"segundo", b"tercero"):
                statuses.append(
                    await client.post("/hooks/x/", b'{"t":"' + text + b'"}', {"X-Sig": "abc"})
                )
            await client.aclose()
            return statuses

    assert run(scenario()) == [200, 202, 200]
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /base/hooks/x/ HTTP/1.1\r\n")
    assert b"\r\nX-Sig: abc\r\n" in first
    assert b"\r\nContent-Length: 15\r\n" in first
    assert first.endswith(b'\r\n\r\n{"t":"primero"}')


def test_bodies_split_chunked_or_read_until_close_are_read_to_their_end():
    answers = iter(
        [
            # Content-Length, the head and body cut mid-way.
            ([b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 10\r\n\r\n01234", b"56789"], False),
            # Chunked, with a chunk extension and a trailer, cut inside a size line.
            (
                [
                    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nab",
                    b"cd\r\n1",
                    b"0\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n",
                ],
                False,
            ),
            # Chunked without trailers.
            ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"], False),
            # No length: the body runs until the server closes.
            ([b"HTTP/1.0 203 OK\r\n\r\nhasta el cierre"], True),
            (list(plain(204, b"")[0]), False),
        ]
    )
    server = Server(lambda request: next(answers))

    async def scenario() -> list[int]:
        async with server as url:
            client = Client(url, max_connections=1, timeout=5)
            statuses = [await client.post("/", b"x", {}) for _ in range(5)]
            await client.aclose()
            return statuses

    assert run(scenario()) == [200, 201, 200, 203, 204]
    # One connection until the answer that ran until close; a new one after it.
    assert server.connections == 2


def test_connection_close_is_honoured_and_requests_beyond_the_limit_wait_for_a_slot():
    server = Server(
        lambda request: (
            [plain()[0][0].replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), b'{"ok":true}'],
            True,
        )
    )

    async def scenario() -> list[int]:
        async with server as url:
            client = Client(url, max_connections=2, timeout=5)
            statuses = await asyncio.gather(*(client.post("/", b"x", {}) for _ in range(6)))
            await client.aclose()
            return list(statuses)

    assert run(scenario()) == [200] * 6
    assert server.connections == 6
    assert len(server.requests) == 6


def test_a_server_that_never_answers_times_out_and_one_that_hangs_up_is_an_error():
    def answer(request: bytes) -> Answer:
        if b"silencio" in request:
            return [], False
        if b"corte" in request:
            return [b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nsolo una parte"], True
        return [b"basura\r\n\r\n"], False

    server = Server(answer)

    async def outcome(client: Client, body: bytes) -> str:
        try:
            return str(await client.post("/", body, {}))
        except TimeoutError:
            return "timeout"
        except (OSError, ProtocolError) as exc:
            return type(exc).__name__

    async def scenario() -> list[str]:
        async with server as url:
            client = Client(url, max_connections=2, timeout=0.3)
            found = [await outcome(client, body) for body in (b"silencio", b"corte", b"otro")]
            await client.aclose()
            return found

    assert run(scenario()) == ["timeout", "ConnectionResetError", "ProtocolError"]


def test_a_refused_connection_is_an_os_error():
    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        client = Client(f"http://127.0.0.1:{port}", max_connections=1, timeout=5)
        await client.post("/", b"x", {})

    with pytest.raises(OSError):
        run(scenario())


def test_only_plain_http_urls():
    with pytest.raises(ValueError, match="only http://"):
        Client("https://example.com", max_connections=1, timeout=1)
