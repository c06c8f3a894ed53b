"""The inbound webhook every WhatsApp gateway posts to: `/hooks/whatsapp/<connection secret>/`.

Answers, and why:
- 404: no enabled connection has this secret (unknown and disabled look the same).
- 405: a method other than POST, or a GET that is not a verification handshake.
- 413: the body is over `WEBHOOK_MAX_BYTES`.
- 403: the adapter finds the request not authentic (Cloud API signature).
- 400: malformed JSON or an unknown shape, with a log line.
- 503: our own fault (database busy or down, a connection config that no longer validates,
  an adapter or a bug of ours that raised): the gateway must retry. Never a 4xx for these:
  Evolution drops an event answered 400/401/403/404/422 without retrying. Never a 500.
- 200 `{"status": "ok", "stored": n}` once everything is stored in one transaction (`n`
  counts new rows; two deliveries of one message at the same instant may both count it).
"""

from __future__ import annotations

import copy
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from ispdesk.api_errors import error_response
from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import Gateway, WebhookRejected, WebhookRequest
from ispdesk.lib.timed import TimedCache
from ispdesk.messaging.models import GatewayConnection
from ispdesk.messaging.outbox import usable_connections
from ispdesk.messaging.receiving import receive_events

logger = logging.getLogger("ispdesk.webhooks")

# Secrets are token_urlsafe(32) (43 characters); anything much longer is not one of ours.
MAX_SECRET_LENGTH = 64


# Each process remembers the usable connections this long: an outage storm would otherwise
# read them for every delivery. A secret not among them is looked up again at once (a new
# connection works immediately); a connection disabled or rotated elsewhere stops being
# accepted within this time.
CONNECTIONS_CACHE_SECONDS = 5.0


_connections = TimedCache(lambda: list(usable_connections()), CONNECTIONS_CACHE_SECONDS)


def forget_connections(**_kwargs: Any) -> None:
    """Drop this process's remembered connections (a connection was saved or deleted): now,
    and again once the change commits, so a load racing the transaction is not kept."""
    _connections.clear()
    transaction.on_commit(_connections.clear)


def _matching(rows: list[GatewayConnection], given: bytes) -> GatewayConnection | None:
    # Every connection is compared (there are few), so the answer's timing does not tell
    # how much of a guess was right.
    found = None
    for connection in rows:
        if hmac.compare_digest(connection.webhook_secret.encode(), given):
            found = connection
    return found


def find_connection(secret: str) -> GatewayConnection | None:
    """The enabled connection whose webhook secret is `secret`, compared in constant time;
    a copy of its row, so a request may change its fields freely."""
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    given = secret.encode("utf-8", errors="replace")
    found = _matching(_connections.get(), given)
    if found is None:
        found = _matching(_connections.get(fresh=True), given)
    return copy.copy(found) if found is not None else None


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]


class _Unavailable(Exception):
    """Our own fault, not the sender's: answer 503 so the gateway retries."""


def _adapter(connection: GatewayConnection) -> Gateway:
    try:
        return registry.build(connection.kind, connection.config)
    except Exception as exc:
        # A stored config that no longer validates, or a kind whose module is missing.
        logger.exception("webhook for connection %s: cannot build its adapter", connection.pk)
        raise _Unavailable from exc


def _ok(stored: int) -> WebhookAnswer:
    return WebhookAnswer(200, {"status": "ok", "stored": stored})


def _error(status: int, code: str, message: str) -> WebhookAnswer:
    return WebhookAnswer(status, {"code": code, "message": message})


def handle_delivery(connection: GatewayConnection, request: WebhookRequest) -> WebhookAnswer:
    """Verify, parse and store one POSTed delivery (the simulator's no-JS form uses it too).

    Database errors propagate: the caller answers 503.
    """
    try:
        adapter = _adapter(connection)
        adapter.verify_webhook(request, url_secret_ok=True)
    except _Unavailable:
        return _error(503, "unavailable", _("The connection cannot be used; try again later."))
    except WebhookRejected as exc:
        logger.warning("webhook for connection %s rejected: %s", connection.pk, exc.reason)
        return _error(403, "permission_denied", _("The request is not authentic."))
    except Exception:
        logger.exception("webhook for connection %s: the adapter failed to verify", connection.pk)
        return _error(503, "unavailable", _("The message could not be processed; retry later."))
    try:
        events = adapter.parse_webhook(request.body)
    except WebhookRejected as exc:
        logger.warning(
            "webhook for connection %s: malformed body (%d bytes): %s",
            connection.pk,
            len(request.body),
            exc.reason,
        )
        return _error(400, "bad_request", exc.reason)
    except Exception:
        # An adapter bug, not the sender's fault: 503 makes the gateway retry (a 4xx would
        # lose a valid message for good), and the traceback is logged.
        logger.exception("webhook for connection %s: the adapter failed to parse", connection.pk)
        return _error(503, "unavailable", _("The message could not be processed; retry later."))
    received = receive_events(connection, events)
    if received.ignored or received.duplicates or received.stale_receipts:
        # Gateways repeat deliveries and send receipts out of order all the time: worth a
        # line when debugging, not hundreds a second in a storm.
        logger.debug("webhook for connection %s: %s", connection.pk, received)
    return _ok(received.stored)


def _webhook_request(request: HttpRequest, body: bytes) -> WebhookRequest:
    return WebhookRequest(
        method=request.method or "",
        body=body,
        headers=request.headers,
        query={key: request.GET.get(key, "") for key in request.GET},
    )


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` bytes.

    Read from the stream, not `request.body`, which refuses anything over Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) while Meta documents batches of 3 MB.
    """
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _verification(connection: GatewayConnection, request: HttpRequest) -> HttpResponse:
    try:
        challenge = _adapter(connection).verification_challenge(_webhook_request(request, b""))
    except _Unavailable:
        return error_response(503, "unavailable", _("The connection cannot be used now."))
    except WebhookRejected as exc:
        logger.warning("webhook handshake for connection %s refused: %s", connection.pk, exc.reason)
        status = 403 if exc.status == 403 else 400
        return HttpResponse(exc.reason, status=status, content_type="text/plain; charset=utf-8")
    except Exception:
        logger.exception("webhook handshake for connection %s: the adapter failed", connection.pk)
        return error_response(503, "unavailable", _("The connection cannot be used now."))
    if challenge is None:
        return error_response(405, "method_not_allowed", _("Method not allowed."))
    return HttpResponse(challenge, content_type="text/plain; charset=utf-8")


def _not_logged_by_django(response: HttpResponse) -> HttpResponse:
    # Django logs every 4xx/5xx answer with its path, which holds the connection's secret;
    # this module logs each refusal itself, by connection id.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@csrf_exempt
def whatsapp_webhook(request: HttpRequest, secret: str, event: str = "") -> HttpResponse:
    return _not_logged_by_django(_answer(request, secret))


def _answer(request: HttpRequest, secret: str) -> HttpResponse:
    if request.method == "POST":
        try:
            body = _read_body(request, settings.WEBHOOK_MAX_BYTES)
        except OSError:  # UnreadablePostError: the sender hung up mid-body
            body = b""
            unreadable = True
        else:
            unreadable = False
        answer = answer_post(
            secret,
            body,
            request.headers,
            {key: request.GET.get(key, "") for key in request.GET},
            unreadable=unreadable,
        )
        return JsonResponse(answer.body, status=answer.status)
    try:
        connection = find_connection(secret)
        if connection is None:
            logger.info("webhook: no enabled connection has the secret given")
            return error_response(404, "not_found", _("Not found."))
        if request.method == "GET":
            return _verification(connection, request)
        response = error_response(405, "method_not_allowed", _("Method not allowed."))
        response["Allow"] = "GET, POST"
        return response
    except Exception:
        logger.exception("webhook: unexpected error, answering 503 so the gateway retries")
        return error_response(503, "unavailable", _("Temporarily unavailable; retry later."))


def answer_post(
    secret: str,
    body: bytes | None,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    unreadable: bool = False,
) -> WebhookAnswer:
    """The answer to a POSTed delivery; `body` is None when it was over WEBHOOK_MAX_BYTES.

    Shared by the Django view and the ASGI fast path (`messaging.webhook_asgi`).
    """
    try:
        connection = find_connection(secret)
        if connection is None:
            logger.info("webhook: no enabled connection has the secret given")
            return _error(404, "not_found", _("Not found."))
        if unreadable:
            logger.warning("webhook for connection %s: the body could not be read", connection.pk)
            return _error(400, "bad_request", _("The request body could not be read."))
        if body is None:
            logger.warning(
                "webhook for connection %s: body over %s bytes refused",
                connection.pk,
                settings.WEBHOOK_MAX_BYTES,
            )
            return _error(413, "payload_too_large", _("The request body is too large."))
        request = WebhookRequest(method="POST", body=body, headers=headers, query=dict(query))
        return handle_delivery(connection, request)
    except DatabaseError:
        # Busy (SQLite lock timeout), down, or a deadlock victim: nothing was stored, and the
        # gateway's retry will store it.
        logger.exception("webhook: database error, answering 503 so the gateway retries")
        return _error(503, "unavailable", _("Temporarily unavailable; retry later."))
    except Exception:
        # A bug of ours must not cost a message: 503 makes every gateway retry (a 500 too,
        # but a bug is no reason to answer like one), and the traceback is logged.
        logger.exception("webhook: unexpected error, answering 503 so the gateway retries")
        return _error(503, "unavailable", _("Temporarily unavailable; retry later."))
