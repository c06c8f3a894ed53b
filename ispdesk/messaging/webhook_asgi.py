"""The fast path for gateways' POSTs to `/hooks/whatsapp/…`, in front of Django.

An outage storm is hundreds of webhook POSTs a second. Through Django each one walks every
middleware (sessions, CSRF, auth, messages, axes…) and waits its turn for the single thread
Django runs synchronous views in. This ASGI wrapper answers those POSTs itself: it reads the
body (up to WEBHOOK_MAX_BYTES), runs the same `webhooks.answer_post` in one of its
WEBHOOK_THREADS threads (so deliveries are stored side by side, each thread keeping its
database connection from one delivery to the next: `lib.dbthreads`) and writes the JSON
answer. It checks the Host header against ALLOWED_HOSTS and adds the security headers, as
Django would; SECURE_SSL_REDIRECT does not apply (gateways do not follow redirects of a
POST). Everything else, the verification handshake (GET) included, goes to Django unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.http.request import split_domain_port, validate_host
from django.utils.datastructures import CaseInsensitiveMapping

from ispdesk.api_errors import default_message, error_body
from ispdesk.lib.dbthreads import DatabaseThreads
from ispdesk.messaging.webhooks import WebhookAnswer, answer_post

# The same paths `messaging.hooks_urls` accepts: the secret, then an optional event name
# (Evolution's `byEvents`), with or without the final slash.
HOOK_PATH = re.compile(
    r"^/hooks/whatsapp/(?P<secret>[A-Za-z0-9_-]+)(?:/[a-z][a-z0-9._-]{0,60})?/?$"
)

Scope = dict[str, Any]


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (the rest is drained)."""
    chunks: list[bytes] = []
    size = 0
    too_big = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the sender hung up")
        chunk = message.get("body", b"")
        size += len(chunk)
        too_big = too_big or size > limit
        if not too_big:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return None if too_big else b"".join(chunks)


def _headers(scope: Scope) -> CaseInsensitiveMapping[str]:
    pairs: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        pairs[key] = f"{pairs[key]},{text}" if key in pairs else text
    return CaseInsensitiveMapping(pairs)


def _declared_length(headers: CaseInsensitiveMapping[str]) -> int:
    try:
        return int(headers.get("content-length") or 0)
    except ValueError:
        return 0


async def _respond(send: Any, answer: WebhookAnswer) -> None:
    body = json.dumps(answer.body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    # What Django's SecurityMiddleware would add to this answer.
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", str(settings.SECURE_REFERRER_POLICY).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _host_allowed(headers: CaseInsensitiveMapping[str]) -> bool:
    """The Host header passes ALLOWED_HOSTS, as Django checks it for every request."""
    host = headers.get("host", "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class WebhookFastPath:
    """Answers POSTs to the WhatsApp webhook; hands every other request to `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.threads = DatabaseThreads(settings.WEBHOOK_THREADS, "webhook")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        match = HOOK_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if not _host_allowed(headers):
            # Django answers such a request 400 (DisallowedHost) before any view runs.
            refused = error_body("bad_request", default_message(400))
            await _respond(send, WebhookAnswer(400, refused))
            return
        limit = settings.WEBHOOK_MAX_BYTES
        try:
            body = None if _declared_length(headers) > limit else await _read_body(receive, limit)
        except ConnectionResetError:
            return  # nobody is listening for an answer
        query = QueryDict(scope.get("query_string", b"").decode("latin-1"))
        answer = await self.threads.run(
            answer_post, match["secret"], body, headers, {key: query.get(key, "") for key in query}
        )
        await _respond(send, answer)
