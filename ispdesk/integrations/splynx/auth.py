"""Splynx's three authentication schemes: API key signature, access token, Basic.

The signature nonce must grow for each key across every client object and thread of the
process (Splynx refuses a nonce it has seen), so it lives in one locked table per key.
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

_nonce_lock = threading.Lock()
_last_nonce: dict[str, int] = {}


def next_nonce(key: str, clock: Callable[[], float] = time.time) -> int:
    """Unix time x 100 like the official clients, but never equal to or below the last one
    given for this key (two calls in the same centisecond, or a clock stepping back)."""
    with _nonce_lock:
        nonce = max(int(clock() * 100), _last_nonce.get(key, 0) + 1)
        _last_nonce[key] = nonce
        return nonce


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
