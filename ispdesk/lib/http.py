"""The one outbound HTTP seam: every call has a timeout and is logged without secrets.

Adapters for Splynx, Gestión Real and the WhatsApp gateways call `HttpClient.request`; tests
point them at local servers that speak the real protocols.

Built on urllib3's connection pools, one per thread and host, kept alive between calls. (It
was httpx: in an outage storm the sender's one request per reply cost 0.25 ms of CPU in
httpx's layers against 0.1 ms here, 40% of the sender's CPU.) Proxies named by the usual
environment variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) are used, as before.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import re
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import urllib3
from urllib3 import exceptions as failures
from urllib3.connectionpool import ConnectionPool

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


@dataclass(frozen=True)
class HttpResponse:
    """An answer, read in full: its status, headers (any case) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body decoded by the charset the answer names (UTF-8 if none); bytes that do
        not decode become U+FFFD."""
        message = Message()
        message["content-type"] = self.headers.get("content-type", "")
        charset = message.get_content_charset() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.content)


# What every request says about itself, and accepts.
_DEFAULT_HEADERS = {
    "accept": "*/*",
    "accept-encoding": "gzip, deflate",
    "user-agent": "ispdesk",
}


@dataclass
class HttpClient:
    """Requests with a mandatory timeout and request logging, on this thread's connections.

    `secrets` are values (tokens, secrets in URL paths) that must never reach a log line.
    """

    base_url: str = ""
    timeout: float = DEFAULT_TIMEOUT
    headers: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/") if self.base_url else path
        if params:
            url += ("&" if "?" in url else "?") + _query(params)
        merged = {**_DEFAULT_HEADERS, **_lowered(self.headers), **_lowered(headers or {})}
        if json is not None:
            content = jsonlib.dumps(json, ensure_ascii=False, allow_nan=False).encode()
            merged.setdefault("content-type", "application/json")
        started = time.monotonic()
        shown = redact_url(url, self.secrets)
        seconds = timeout or self.timeout
        opener, target = _opener_for(url)
        try:
            answer = opener.urlopen(
                method,
                target,
                body=content,
                headers=merged,
                timeout=urllib3.Timeout(connect=seconds, read=seconds),
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
            )
        except failures.HTTPError as exc:
            elapsed = (time.monotonic() - started) * 1000
            timed_out = isinstance(exc, failures.TimeoutError) and not isinstance(
                exc, failures.NewConnectionError
            )
            if timed_out:
                logger.warning("%s %s timed out after %.0f ms", method, shown, elapsed)
                reason = "timed out"
            else:
                reason = redact_url(_reason(exc), self.secrets)
                logger.warning("%s %s failed after %.0f ms: %s", method, shown, elapsed, reason)
            raise HttpError(
                f"{method} {shown}: {reason}",
                timeout=timed_out,
                maybe_received=_maybe_received(method, exc),
            ) from exc
        elapsed = (time.monotonic() - started) * 1000
        logger.info("%s %s -> %s in %.0f ms", method, shown, answer.status, elapsed)
        return HttpResponse(answer.status, answer.headers, answer.data)


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _query_value(value: Any) -> str:
    # As the query strings the vendors' APIs were written against: true/false, "" for None.
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _query(params: Mapping[str, Any]) -> str:
    pairs = [
        (key, _query_value(item))
        for key, value in params.items()
        for item in (value if isinstance(value, list | tuple) else [value])
    ]
    return urlencode(pairs)


def _reason(exc: Exception) -> str:
    """What went wrong, without urllib3's wrapping (which repeats the pool's address)."""
    inner = exc.__context__ if isinstance(exc, failures.ProtocolError) else None
    inner = inner or getattr(exc, "reason", None)
    return str(inner or exc) or exc.__class__.__name__


_pooled = threading.local()
# An idle connection is reused for this long only: well under the idle timeouts servers
# commonly close connections at (5 s for Node and uvicorn, 60 s and more elsewhere), so a
# request never races the server closing the connection under it (an unknown outcome).
KEEPALIVE_SECONDS = 2.0


@dataclass
class _Kept:
    opener: ConnectionPool | urllib3.ProxyManager
    used: float


def _opener_for(url: str) -> tuple[Any, str]:
    """This thread's connections to the URL's scheme, host and port (through the proxy the
    environment names for it, if any), so a gateway, Splynx or Gestión Real is not dialled
    (and its TLS handshake redone) for every call, and what to ask them for: the path and
    query, or the whole URL through a proxy. Connections idle longer than KEEPALIVE_SECONDS
    are closed first. No cookies are kept: calls stay independent."""
    parts = urlsplit(url)
    key = (parts.scheme, parts.hostname, parts.port)
    kept: dict[tuple[Any, ...], _Kept] = _pooled.__dict__.setdefault("pools", {})
    now = time.monotonic()
    entry = kept.get(key)
    if entry is not None and now - entry.used > KEEPALIVE_SECONDS:
        _close(entry.opener)
        entry = None
    if entry is None:
        entry = kept[key] = _Kept(_new_opener(url, parts.scheme, parts.hostname or ""), now)
    entry.used = now
    if isinstance(entry.opener, ConnectionPool):
        return entry.opener, f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}"
    return entry.opener, url


def _close(opener: ConnectionPool | urllib3.ProxyManager) -> None:
    if isinstance(opener, ConnectionPool):
        opener.close()
    else:
        opener.clear()


def _new_opener(url: str, scheme: str, host: str) -> ConnectionPool | urllib3.ProxyManager:
    proxy = getproxies().get(scheme)
    if proxy and not proxy_bypass(host):
        return urllib3.ProxyManager(proxy, num_pools=1, maxsize=1, ssl_context=_ssl_context())
    options: dict[str, Any] = {"maxsize": 1}
    if scheme == "https":
        options["ssl_context"] = _ssl_context()
    return urllib3.connection_from_url(url, **options)


def _maybe_received(method: str, exc: Exception) -> bool:
    """Whether the server may have the request: it left in full and no answer came back (a
    read timeout, or the connection dropped under it). Never for GET and HEAD."""
    if method.upper() in ("GET", "HEAD"):
        return False
    return isinstance(exc, failures.ReadTimeoutError | failures.ProtocolError)
