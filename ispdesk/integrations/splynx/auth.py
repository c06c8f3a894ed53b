"""Splynx's three authentication schemes: API key signature, access token, Basic.

The signature nonce must grow for each key (Splynx refuses one at or below the last it saw).
Within a process, `NonceCounter` keeps that true across client objects and threads. Across
processes nothing can: two workers signing in the same centisecond may send the same nonce, and
requests race on the wire anyway. So the pipeline signs only token logins (`api_key_token`),
rarely, and a signature refused with 401 is tried once more with a fresh nonce after a pause.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode


class NonceCounter:
    """Unix time x 100 like the official clients, but never equal to or below the last one
    given for a key (two calls in the same centisecond, or a clock stepping back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    def next(self, key: str, clock: Callable[[], float] = time.time) -> int:
        with self._lock:
            nonce = max(int(clock() * 100), self._last.get(key, 0) + 1)
            self._last[key] = nonce
            return nonce


# One per process: every client of the process shares it.
PROCESS_NONCES = NonceCounter()


def next_nonce(key: str, clock: Callable[[], float] = time.time) -> int:
    return PROCESS_NONCES.next(key, clock)


def signature(key: str, secret: str, nonce: int) -> str:
    digest = hmac.new(secret.encode(), f"{nonce}{key}".encode(), hashlib.sha256)
    return digest.hexdigest().upper()


def signed_header(key: str, secret: str, nonce: int) -> str:
    pairs = urlencode({"key": key, "signature": signature(key, secret, nonce), "nonce": nonce})
    return f"Splynx-EA ({pairs})"


def token_header(access_token: str) -> str:
    return f"Splynx-EA ({urlencode({'access_token': access_token})})"


def basic_header(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@dataclass
class Tokens:
    """An access token pair; expirations in unix seconds, as Splynx answers them."""

    access_token: str
    access_expires: float
    refresh_token: str
    refresh_expires: float

    def access_valid(self, now: float, margin: float) -> bool:
        return now < self.access_expires - margin

    def refresh_valid(self, now: float, margin: float) -> bool:
        return bool(self.refresh_token) and now < self.refresh_expires - margin
