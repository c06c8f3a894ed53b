"""Free ports and waiting for a server to listen, with deadlines instead of sleeps."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

POLL_SECONDS = 0.02


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; prefer passing a bound socket where possible."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    message: str,
    still_starting: Callable[[], bool] = lambda: True,
) -> None:
    """Poll `condition` until it holds; fail after `timeout` or once `still_starting` fails."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not still_starting():
            raise RuntimeError(f"{message}: it stopped while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message}: not ready after {timeout}s")
        time.sleep(POLL_SECONDS)
