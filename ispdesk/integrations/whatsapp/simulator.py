"""The simulator gateway: a WhatsApp "network" that lives inside ispdesk.

A person (or a load generator) plays a customer's phone on the page at `/simulator/`. What
ispdesk sends to a number is published to the realtime group `simulator.<digits>` (the page of
that number subscribes to it); what the customer types is POSTed by the page to the
connection's webhook URL, the same path real gateways use, so the whole inbound path runs.

Receipts come from the page, as they come from a real phone: `delivered` when the page has the
message, `read` once it is shown in a visible tab, both POSTed to the webhook. A number with no
page open keeps its messages at `sent`, like a phone that is switched off.

Webhook bodies (JSON; one object, or an array of them for a batch):

    {"type": "message", "id": "sim-in-…", "from": "+5491123456789", "name": "Marcela",
     "text": "Hola", "timestamp": 1767225600, "reply_to": "sim-…"}
    {"type": "receipt", "id": "sim-…", "status": "delivered", "error": ""}

`from` takes any form `normalize_phone` reads (Argentine forms included); `timestamp` (unix
seconds), `name`, `reply_to` and `error` are optional; `status` is sent, delivered, read or
failed. Anything else is answered 400.

Events published to `simulator.<digits>` when ispdesk sends:

    {"type": "simulator:message", "id": "sim-…", "to": "5491123456789", "text": "…",
     "media_url": "", "quoted_id": "", "timestamp": "2026-01-01T12:00:00+00:00"}
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from ispdesk.integrations.whatsapp.base import (
    Gateway,
    GatewayConfig,
    GatewayError,
    InboundEvent,
    InboundMessage,
    SendResult,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.lib.phones import PhoneError, normalize_phone, whatsapp_digits
from ispdesk.realtime.events import publish_now

GROUP_PREFIX = "simulator"
MESSAGE_EVENT = "simulator:message"
MAX_TEXT_LENGTH = 65_536  # WhatsApp's own limit for a text message
MAX_BATCH = 1000
_JID_SUFFIX = re.compile(r"[:@].*$")
# Timestamps outside this range are the sender's clock being wrong: use the arrival time.
_EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)
_LATEST_AHEAD = timedelta(days=1)

ProviderId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


def group_for(number: str) -> str:
    """The realtime group of a number's simulated phone (E.164, digits or a chat id)."""
    return f"{GROUP_PREFIX}.{phone_digits(number)}"


def phone_digits(number: str) -> str:
    """The WhatsApp digits of a number: normalised when it can be, else its bare digits."""
    text = _JID_SUFFIX.sub("", (number or "").strip())
    try:
        return whatsapp_digits(normalize_phone(text, mobile=True))
    except PhoneError:
        return re.sub(r"\D", "", text)


class SimulatorConfig(GatewayConfig):
    """The simulator has nothing to configure."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class _Message(_Wire):
    type: Literal["message"]
    id: ProviderId
    from_: str = Field(alias="from", min_length=1, max_length=40)
    name: str = Field("", max_length=200)
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    timestamp: float | None = None
    reply_to: str = Field("", max_length=128)


class _Receipt(_Wire):
    type: Literal["receipt"]
    id: ProviderId
    status: Literal["sent", "delivered", "read", "failed"]
    error: str = Field("", max_length=500)


_Event = Annotated[_Message | _Receipt, Field(discriminator="type")]
_BODY: TypeAdapter[_Event | list[_Event]] = TypeAdapter(
    _Event | Annotated[list[_Event], Field(min_length=1, max_length=MAX_BATCH)]
)


def _when(timestamp: float | None, now: datetime) -> datetime:
    if timestamp is None:
        return now
    try:
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return now
    return moment if _EARLIEST <= moment <= now + _LATEST_AHEAD else now


def _inbound(message: _Message, now: datetime) -> InboundMessage:
    try:
        phone = normalize_phone(message.from_, mobile=True)
    except PhoneError as exc:
        raise WebhookRejected(400, f"`from` is not a usable number: {exc.reason}") from None
    return InboundMessage(
        provider_id=message.id,
        chat_id=whatsapp_digits(phone),
        phone=phone,
        lid="",
        from_me=False,
        name=message.name,
        text=message.text,
        timestamp=_when(message.timestamp, now),
        quoted_id=message.reply_to,
    )


class SimulatorGateway(Gateway):
    kind = "simulator"
    config_class = SimulatorConfig
    default_rate_per_second = None

    def send_text(self, to: str, text: str, *, quoted_id: str = "") -> SendResult:
        if not text.strip():
            raise GatewayError("cannot send an empty text", permanent=True, code="invalid_request")
        return self._deliver(to, text=text, quoted_id=quoted_id)

    def send_media(
        self, to: str, url: str, *, caption: str = "", mimetype: str = "", filename: str = ""
    ) -> SendResult:
        if not url:
            raise GatewayError(
                "a media message needs a URL", permanent=True, code="invalid_request"
            )
        return self._deliver(to, text=caption, media_url=url)

    def _deliver(
        self, to: str, *, text: str, media_url: str = "", quoted_id: str = ""
    ) -> SendResult:
        digits = phone_digits(to)
        if not 8 <= len(digits) <= 15:
            raise GatewayError(
                f"{to!r} is not a WhatsApp number", permanent=True, code="invalid_recipient"
            )
        provider_id = f"sim-{uuid.uuid4().hex}"
        event: dict[str, Any] = {
            "type": MESSAGE_EVENT,
            "id": provider_id,
            "to": digits,
            "text": text,
            "media_url": media_url,
            "quoted_id": quoted_id,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        # Best effort, like the network: a phone that is not listening gets nothing now and
        # sees the message in its history when it opens the page.
        publish_now([f"{GROUP_PREFIX}.{digits}"], event)
        return SendResult(provider_id, digits)

    def verify_webhook(self, request: WebhookRequest, url_secret_ok: bool) -> None:
        if not url_secret_ok:
            raise WebhookRejected(403, "the webhook URL secret does not match")

    def parse_webhook(self, body: bytes) -> list[InboundEvent]:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise WebhookRejected(400, "the body is not JSON") from None
        try:
            parsed = _BODY.validate_python(data)
        except (ValidationError, RecursionError) as exc:
            problems = exc.errors()[:3] if isinstance(exc, ValidationError) else []
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in problems)
            raise WebhookRejected(400, f"not a simulator event ({detail})"[:500]) from None
        now = datetime.now(UTC)
        events: list[InboundEvent] = []
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(item, _Message):
                events.append(_inbound(item, now))
            else:
                events.append(StatusReceipt(item.id, item.status, now, item.error))
        return events


ADAPTER = SimulatorGateway
