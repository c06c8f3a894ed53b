"""HTTP plumbing shared by the self-hosted gateways' adapters (Evolution API, WPPConnect).

Their answers to our calls: the JSON body (or None), Retry-After, a short secret-free
reason, and the failures every gateway shares mapped to GatewayError (no answer at all,
429, 5xx). The webhooks they POST to us: a JSON object with an `event` name.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ispdesk.integrations.whatsapp.base import GatewayError, WebhookRejected
from ispdesk.lib.http import HttpClient, HttpError, HttpResponse, redact_url, retry_after_seconds

REASON_LIMIT = 200
# A Retry-After beyond this is treated as this: a gateway must not park a message for days.
MAX_RETRY_AFTER = 3600.0


def json_body(response: HttpResponse) -> Any:
    """The decoded JSON body, or None when the body is empty or not JSON."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def retry_after(response: HttpResponse, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if any, capped."""
    seconds = retry_after_seconds(response.headers.get("retry-after"), now)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def reason(response: HttpResponse, secrets: tuple[str, ...] = ()) -> str:
    """A short, secret-free description of an error answer for GatewayError messages."""
    body = json_body(response)
    text: str
    if isinstance(body, dict):
        picked = body.get("response", body)
        if isinstance(picked, dict) and "message" in picked:
            picked = picked["message"]
        elif isinstance(body.get("message"), str | list):
            picked = body["message"]
        text = picked if isinstance(picked, str) else json.dumps(picked, ensure_ascii=False)
    elif body is not None:
        text = json.dumps(body, ensure_ascii=False)
    else:
        text = response.text
    text = " ".join(text.split())[:REASON_LIMIT]
    return redact_url(text, secrets)


def no_answer(gateway: str, exc: HttpError) -> GatewayError:
    """The request never got an answer (connection refused, timeout): retrying may help,
    unless the gateway may already have acted on it (see `unknown_outcome`)."""
    if exc.maybe_received:
        return unknown_outcome(gateway, exc)
    return GatewayError(
        f"{gateway}: {exc}",
        permanent=False,
        code="timeout" if exc.timeout else "unreachable",
    )


def session_down(gateway: str, why: str, status: int) -> GatewayError:
    """The gateway's WhatsApp session is not connected: retry once it is back."""
    return GatewayError(
        f"{gateway}: the WhatsApp session is down: {why}",
        permanent=False,
        code="session_down",
        status=status,
    )


def unknown_number(gateway: str, why: str, status: int) -> GatewayError:
    return GatewayError(
        f"{gateway}: the number has no WhatsApp: {why}",
        permanent=True,
        code="unknown_number",
        status=status,
    )


def bad_credentials(gateway: str, what: str, status: int) -> GatewayError:
    return GatewayError(
        f"{gateway} refused {what} ({status})",
        permanent=True,
        code="bad_credentials",
        status=status,
    )


def unknown_outcome(gateway: str, exc: HttpError) -> GatewayError:
    """The gateway received the request but never answered: it may have sent the message.
    Retrying could deliver it twice, so the outbox stops and shows why."""
    return GatewayError(
        f"{gateway}: no answer after the request was received ({exc}); the message may "
        "have been delivered, so it is not sent again automatically",
        permanent=True,
        code="unknown_outcome",
    )


def common_failure(
    gateway: str, response: HttpResponse, secrets: tuple[str, ...] = ()
) -> GatewayError:
    """429, 5xx and any other status the adapter did not map itself."""
    status = response.status_code
    why = reason(response, secrets)
    if status == 429:
        return GatewayError(
            f"{gateway} is rate limiting us: {why}",
            permanent=False,
            code="rate_limited",
            status=status,
            retry_after=retry_after(response),
        )
    if status >= 500 or status in (408, 425):
        return GatewayError(
            f"{gateway} failed ({status}): {why}",
            permanent=False,
            code="server_error",
            status=status,
            retry_after=retry_after(response),
        )
    if 300 <= status < 400:
        # A redirect means a wrong base URL (http→https, a login page): fix the settings.
        return GatewayError(
            f"{gateway} redirected ({status}); check the base URL",
            permanent=True,
            code="bad_config",
            status=status,
        )
    return GatewayError(
        f"{gateway} refused the request ({status}): {why}",
        permanent=True,
        code="bad_request",
        status=status,
    )


def webhook_envelope(body: bytes) -> dict[str, Any]:
    """A webhook body as a JSON object with an `event` name, or WebhookRejected(400)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRejected(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "the body is not a JSON object")
    event = payload.get("event")
    if not isinstance(event, str) or not event.strip():
        raise WebhookRejected(400, "the body has no event name")
    return payload


def keep_secrets(http: HttpClient, *values: str) -> None:
    """Make sure `http` redacts these values, even when a caller built it without them."""
    missing = tuple(value for value in values if value and value not in http.secrets)
    if missing:
        http.secrets = (*http.secrets, *missing)
