"""The one outbound HTTP seam: every call has a timeout and is logged without secrets.

Adapters for Splynx, Gestión Real and the WhatsApp gateways call `HttpClient.request`; tests
point them at local servers that speak the real protocols.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger("ispdesk.http")

DEFAULT_TIMEOUT = 15.0
# Path or query parts that carry credentials in some vendors' URLs.
_SECRET_QUERY = re.compile(r"(?i)((?:token|key|secret|password|apikey)=)[^&]+")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Built once: loading the CA store costs tens of milliseconds per client otherwise.
    return ssl.create_default_context()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header's value (seconds or an HTTP date), if it
    says; never negative."""
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def redact_url(url: str, secrets: tuple[str, ...] = ()) -> str:
    """The URL with credentials in the query, and any given secret, replaced by ***."""
    cleaned = _SECRET_QUERY.sub(r"\1***", url)
    # A secret placed in a URL path travels percent-encoded: hide that form too.
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    for secret in sorted(forms, key=len, reverse=True):
        if secret:
            # Whole tokens only, so a short secret such as "s" never garbles "POST".
            pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
            cleaned = re.sub(pattern, "***", cleaned)
    return cleaned


class HttpError(Exception):
    """The request failed before an HTTP answer arrived (connection, timeout).

    `maybe_received`: the request left in full and the answer never came (a read timeout or
    a dropped connection on a POST): the server may have acted on it, so repeating it could
    do the thing twice.
    """

    def __init__(
        self, message: str, *, timeout: bool = False, maybe_received: bool = False
    ) -> None:
        self.timeout = timeout
        self.maybe_received = maybe_received
        super().__init__(message)


_AFTER_SENDING = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


@dataclass
class HttpClient:
    """A small wrapper around httpx with a mandatory timeout and request logging.

    `secrets` are values (tokens, secrets in URL paths) that must never reach a log line.
    """

    base_url: str = ""
    timeout: float = DEFAULT_TIMEOUT
    headers: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    transport: httpx.BaseTransport | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/") if self.base_url else path
        merged = {**self.headers, **(headers or {})}
        started = time.monotonic()
        shown = redact_url(url, self.secrets)
        try:
            with _client(self.transport) as client:
                response = client.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=merged,
                    content=content,
                    timeout=timeout or self.timeout,
                )
        except httpx.TimeoutException as exc:
            elapsed = (time.monotonic() - started) * 1000
            logger.warning("%s %s timed out after %.0f ms", method, shown, elapsed)
            raise HttpError(
                f"{method} {shown}: timed out",
                timeout=True,
                maybe_received=_maybe_received(method, exc),
            ) from exc
        except httpx.HTTPError as exc:
            elapsed = (time.monotonic() - started) * 1000
            reason = redact_url(str(exc), self.secrets) or exc.__class__.__name__
            logger.warning("%s %s failed after %.0f ms: %s", method, shown, elapsed, reason)
            raise HttpError(
                f"{method} {shown}: {reason}", maybe_received=_maybe_received(method, exc)
            ) from exc
        elapsed = (time.monotonic() - started) * 1000
        logger.info("%s %s -> %s in %.0f ms", method, shown, response.status_code, elapsed)
        return response


_pooled = threading.local()
# An idle connection is reused for this long only: well under the idle timeouts servers
# commonly close connections at (5 s for Node and uvicorn, 60 s and more elsewhere), so a
# request never races the server closing the connection under it (an unknown outcome).
KEEPALIVE_SECONDS = 2.0


def _new_client(transport: httpx.BaseTransport | None) -> httpx.Client:
    # Cookies are refused: a client shared by every call must not carry one vendor's (or
    # one account's) session into the next call, as a client per call never did.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(
        transport=transport,
        follow_redirects=False,
        verify=_ssl_context(),
        cookies=no_cookies,
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
    )


@contextmanager
def _client(transport: httpx.BaseTransport | None) -> Iterator[httpx.Client]:
    """A client whose connections outlive the request: one per thread, so a gateway,
    Splynx or Gestión Real is not dialled (and its TLS handshake redone) for every call.
    A custom transport (tests) gets a client of its own for the one request."""
    if transport is not None:
        with _new_client(transport) as own:
            yield own
        return
    shared: httpx.Client | None = getattr(_pooled, "client", None)
    if shared is None or shared.is_closed:
        shared = _pooled.client = _new_client(None)
    yield shared


def _maybe_received(method: str, exc: Exception) -> bool:
    return method.upper() not in ("GET", "HEAD") and isinstance(exc, _AFTER_SENDING)
