"""`live_asgi`: ispdesk's ASGI application served by uvicorn on a free port, in a thread.

It serves the test database (the fixture requests `transactional_db`, so what a test writes is
committed and visible to the server's threads) and the process's channel layer.

    def test_it_answers(live_asgi):
        httpx.get(f"{live_asgi.url}/healthz")
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.db import connections

from ispdesk.testing.sockets import accepts_connections, wait_until

START_TIMEOUT = 15
STOP_TIMEOUT = 15


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/"

    def __str__(self) -> str:
        return self.url


@contextmanager
def _no_persistent_connections() -> Iterator[None]:
    # Each ASGI request runs in a thread of its own; a persistent connection would outlive
    # it and keep the test database busy at teardown (Django advises CONN_MAX_AGE=0 on ASGI;
    # production's SQLite connections stay open but close with their thread,
    # `lib.sqlite_backend`, whose own tests cover that).
    settings_dicts = [connections[alias].settings_dict for alias in connections]
    saved = [settings_dict.get("CONN_MAX_AGE", 0) for settings_dict in settings_dicts]
    for settings_dict in settings_dicts:
        settings_dict["CONN_MAX_AGE"] = 0
    try:
        yield
    finally:
        for settings_dict, value in zip(settings_dicts, saved, strict=True):
            settings_dict["CONN_MAX_AGE"] = value


@contextmanager
def serving_asgi(application: str = "ispdesk.asgi:application") -> Iterator[LiveServer]:
    """Serve `application` until the block ends; stop it gracefully and wait for it."""
    import uvicorn

    from ispdesk.system.management.commands._server import uvicorn_options

    host = "127.0.0.1"
    # Bound here and handed to uvicorn, so no other process can take the port in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = int(sock.getsockname()[1])
    options = uvicorn_options(host, port)
    # log_config=None: leave the test process's logging as it is (uvicorn logs propagate).
    options.update(
        log_config=None, log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(uvicorn.Config(application, **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-asgi", daemon=True
    )
    with _no_persistent_connections():
        thread.start()
        try:
            wait_until(
                lambda: server.started and accepts_connections(host, port),
                timeout=START_TIMEOUT,
                message=f"the live ASGI server on port {port}",
                still_starting=thread.is_alive,
            )
            yield LiveServer(host, port)
        finally:
            server.should_exit = True
            thread.join(timeout=STOP_TIMEOUT)
            sock.close()
    if thread.is_alive():
        raise RuntimeError(f"the live ASGI server did not stop within {STOP_TIMEOUT}s")


@pytest.fixture
def live_asgi(transactional_db) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    with serving_asgi() as server:
        yield server
