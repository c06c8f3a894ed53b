"""Shared pieces of the serve/web/worker/demo commands."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from django.conf import settings

logger = logging.getLogger("ispdesk")


def add_bind_arguments(parser: Any) -> None:
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))


def start_loops() -> list[Any]:
    """Start the background loops in daemon threads; return them for `stop_loops`."""
    from ispdesk.jobs.runner import SchedulerLoop

    loops = [SchedulerLoop()]
    for loop in loops:
        threading.Thread(target=loop.run, name=type(loop).__name__, daemon=True).start()
    return loops


def stop_loops(loops: list[Any]) -> None:
    for loop in loops:
        loop.stop()


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "lifespan": "off",
        "ws": "websockets-sansio",
        "proxy_headers": settings.HTTPS,
        "log_level": settings.LOG_LEVEL.lower(),
        # Keep websocket frames well under the channel layer's message size.
        "ws_max_size": 1024 * 1024,
    }


def serve(host: str, port: int, with_loops: bool) -> None:
    import uvicorn

    loops = start_loops() if with_loops else []
    server = uvicorn.Server(
        uvicorn.Config("ispdesk.asgi:application", **uvicorn_options(host, port))
    )
    try:
        server.run()  # handles SIGINT/SIGTERM and returns after a graceful shutdown
    finally:
        stop_loops(loops)
        logger.info("ispdesk stopped")


def wait_for_signal(loop_runner: Any) -> None:
    """Run a loop in this thread until SIGINT or SIGTERM."""

    def handle(signum: int, frame: Any) -> None:
        logger.info("received signal %s, stopping", signum)
        loop_runner.stop()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    loop_runner.run()
