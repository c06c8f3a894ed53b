"""Evolution API v2 (Baileys): send, read webhooks, manage the instance.

Requests carry the `apikey` header; routes are `/<controller>/<action>/<instance>`. The
gateway does not sign webhooks: the secret in our webhook URL is the only proof, checked by
the view. Facts and their sources: `../shared/PROTOCOLS.md`, "Evolution API v2".
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from ispdesk.integrations.whatsapp import gateway_http
from ispdesk.integrations.whatsapp.base import (
    ConnectionState,
    ConnectionStateName,
    Gateway,
    GatewayConfig,
    GatewayError,
    InboundEvent,
    InboundMessage,
    QrCode,
    ReceiptStatus,
    SendResult,
    SessionInfo,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.integrations.whatsapp.jids import (
    data_url,
    identify,
    is_ignored_chat,
    send_target,
    unix_time,
)
from ispdesk.lib.http import HttpClient, HttpError, HttpResponse

logger = logging.getLogger(__name__)

GATEWAY = "Evolution API"
# What our webhook subscribes to (Evolution's upper-case event names).
WEBHOOK_EVENTS = (
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "SEND_MESSAGE",
    "CONNECTION_UPDATE",
    "QRCODE_UPDATED",
)
RECEIPTS: dict[str, ReceiptStatus] = {
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
    "ERROR": "failed",
}
# Baileys' numeric WebMessageInfo.Status, sent by older versions.
RECEIPT_NUMBERS = {
    0: "ERROR",
    1: "PENDING",
    2: "SERVER_ACK",
    3: "DELIVERY_ACK",
    4: "READ",
    5: "PLAYED",
}
STATES: dict[str, ConnectionStateName] = {
    "open": "connected",
    "connecting": "connecting",
    "close": "disconnected",
    "refused": "disconnected",
}
# messageType → our message_type; unknown types keep their name without "Message".
MESSAGE_TYPES = {
    "conversation": "text",
    "extendedTextMessage": "text",
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "documentWithCaptionMessage": "document",
    "stickerMessage": "sticker",
    "locationMessage": "location",
    "liveLocationMessage": "location",
    "contactMessage": "contact",
    "contactsArrayMessage": "contact",
    "reactionMessage": "reaction",
    "pollCreationMessage": "poll",
    "pollCreationMessageV3": "poll",
}
# Messages that are protocol housekeeping (deletes, key exchange, edits of settings),
# never something a person said.
SILENT_TYPES = frozenset(
    {"protocolMessage", "senderKeyDistributionMessage", "messageContextInfo", "pollUpdateMessage"}
)
# Wrappers whose `.message` holds the real content.
WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
)
# Evolution's `mediatype` values besides "document", by MIME major type.
MEDIA_TYPES = frozenset({"image", "video", "audio"})
MESSAGE_TYPE_LIMIT = 20
REFUSED_STATUSES = (400, 422)


class EvolutionConfig(GatewayConfig):
    base_url: str = Field(min_length=1)
    api_key: str = Field(min_length=1)
    instance: str = Field(min_length=1, max_length=100)

    secret_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class _Key(_Payload):
    remote_jid: str = Field(min_length=1)
    from_me: bool | None = None
    id: str = Field(min_length=1)
    participant: str | None = None
    remote_jid_alt: str | None = None
    sender_pn: str | None = None


class _Message(_Payload):
    """One `messages.upsert` / `send.message` item."""

    key: _Key
    push_name: str | None = None
    message: dict[str, Any] | None = None
    message_type: str | None = None
    message_timestamp: Any = None
    context_info: dict[str, Any] | None = None


class _Update(_Payload):
    """One `messages.update` item (v2 sends `keyId`; older versions a `key` object)."""

    key_id: str | None = None
    key: dict[str, Any] | None = None
    remote_jid: str | None = None
    status: str | int | None = None


class _Connection(_Payload):
    state: str | None = None
    status_reason: int | str | None = None


class _Qr(_Payload):
    base64: str | None = None
    code: str | None = None
    pairing_code: str | None = None


class EvolutionGateway(Gateway):
    kind: ClassVar[str] = "evolution"
    config_class: ClassVar[type[GatewayConfig]] = EvolutionConfig
    default_rate_per_second: ClassVar[float | None] = 1.0

    config: EvolutionConfig
    # The clock for events whose payload carries no timestamp (tests pass a fixed one).
    now: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

    def __init__(self, config: GatewayConfig, http: HttpClient | None = None) -> None:
        super().__init__(config, http)
        gateway_http.keep_secrets(self.http, self.config.api_key)

    # ---- sending -------------------------------------------------------------------------

    def send_text(self, to: str, text: str, *, quoted_id: str = "") -> SendResult:
        body: dict[str, Any] = {
            "number": send_target(to).value,
            "text": text,
            "linkPreview": False,
        }
        if quoted_id:
            # Evolution quotes the message it finds by key.id; the text is only a fallback
            # preview (the interface does not carry it).
            body["quoted"] = {"key": {"id": quoted_id}, "message": {"conversation": ""}}
        return self._send("sendText", body)

    def send_media(
        self, to: str, url: str, *, caption: str = "", mimetype: str = "", filename: str = ""
    ) -> SendResult:
        path = urlsplit(url).path
        mimetype = mimetype or mimetypes.guess_type(path)[0] or "application/octet-stream"
        major = mimetype.split("/", 1)[0]
        body = {
            "number": send_target(to).value,
            "mediatype": major if major in MEDIA_TYPES else "document",
            "mimetype": mimetype,
            "media": url,
            "fileName": filename or path.rsplit("/", 1)[-1] or "file",
            "caption": caption,
        }
        return self._send("sendMedia", body)

    def _send(self, action: str, body: dict[str, Any]) -> SendResult:
        response = self._call("POST", f"/message/{action}/{self._instance}", json=body)
        if not response.is_success:
            raise self._failure(response)
        answer = gateway_http.json_body(response)
        key = answer.get("key") if isinstance(answer, dict) else None
        provider_id = key.get("id") if isinstance(key, dict) else None
        if not isinstance(provider_id, str) or not provider_id:
            # Accepted but unnamed: report it sent rather than send it twice.
            logger.warning("%s accepted a message without a key.id", GATEWAY)
            return SendResult(provider_id="")
        remote = key.get("remoteJid") if isinstance(key, dict) else ""
        return SendResult(
            provider_id=provider_id, remote_id=remote if isinstance(remote, str) else ""
        )

    # ---- webhooks ------------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, url_secret_ok: bool) -> None:
        if not url_secret_ok:
            raise WebhookRejected(403, "the webhook URL secret does not match")

    def parse_webhook(self, body: bytes) -> list[InboundEvent]:
        envelope = gateway_http.webhook_envelope(body)
        event = str(envelope["event"]).strip().lower().replace("_", ".")
        handler = self._handlers.get(event)
        if handler is None:
            return []
        try:
            return handler(self, envelope.get("data"))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "data"
            raise WebhookRejected(400, f"{event}: {where}: {first.get('msg', 'invalid')}") from None

    def _messages(self, data: Any) -> list[InboundEvent]:
        events: list[InboundEvent] = []
        items = list(_items(data, "messages"))
        for item in items:
            try:
                message = _Message.model_validate(item)
            except ValidationError:
                if len(items) == 1:
                    raise
                # One odd item must not make Evolution drop the whole batch (it never
                # retries a 400): keep the others.
                logger.warning("Evolution webhook: skipping a malformed message in a batch")
                continue
            event = self._inbound(message)
            if event is not None:
                events.append(event)
        return events

    def _inbound(self, item: _Message) -> InboundMessage | None:
        key = item.key
        if is_ignored_chat(key.remote_jid) or is_ignored_chat(key.remote_jid_alt):
            return None
        content = _unwrap(item.message or {})
        kind = item.message_type or _first_type(content)
        if not content or kind in SILENT_TYPES:
            return None
        who = identify(key.remote_jid, key.remote_jid_alt, key.sender_pn)
        return InboundMessage(
            provider_id=key.id,
            chat_id=key.remote_jid,
            phone=who.phone,
            lid=who.lid,
            from_me=bool(key.from_me),
            name=(item.push_name or "").strip(),
            text=_text(content),
            timestamp=unix_time(item.message_timestamp) or self.now(),
            message_type=_message_type(kind),
            media_url=_media_url(content),
            quoted_id=_quoted_id(item.context_info, content),
        )

    def _receipts(self, data: Any) -> list[InboundEvent]:
        events: list[InboundEvent] = []
        for item in _items(data, "updates"):
            update = _Update.model_validate(item)
            key = update.key or {}
            provider_id = update.key_id or key.get("id")
            remote = update.remote_jid or key.get("remoteJid")
            if not isinstance(provider_id, str) or not provider_id or is_ignored_chat(remote):
                continue
            name = update.status
            if isinstance(name, int):
                name = RECEIPT_NUMBERS.get(name, "")
            status = RECEIPTS.get((name or "").upper())
            if status is None:
                continue  # PENDING, DELETED, unknown: nothing to move forward
            events.append(
                StatusReceipt(
                    provider_id=provider_id,
                    status=status,
                    timestamp=self.now(),
                    error="the gateway reported ERROR" if status == "failed" else "",
                )
            )
        return events

    def _connection(self, data: Any) -> list[InboundEvent]:
        update = _Connection.model_validate(data)
        state = STATES.get((update.state or "").lower(), "unknown")
        # statusReason is Baileys' disconnect code (401 = logged out from the phone).
        reason = update.status_reason
        detail = f"statusReason {reason}" if state == "disconnected" and reason else ""
        return [ConnectionState(state, detail=detail)]

    def _qrcode(self, data: Any) -> list[InboundEvent]:
        if not isinstance(data, dict):
            raise WebhookRejected(400, "qrcode.updated: data is not an object")
        qr = _Qr.model_validate(data.get("qrcode") or data)
        image = data_url(qr.base64)
        if not image:
            return []
        return [QrCode(image=image, code=qr.code or "")]

    _handlers: ClassVar[dict[str, Callable[[EvolutionGateway, Any], list[InboundEvent]]]] = {
        "messages.upsert": _messages,
        "send.message": _messages,
        "messages.update": _receipts,
        "connection.update": _connection,
        "qrcode.updated": _qrcode,
    }

    # ---- instance lifecycle --------------------------------------------------------------

    def connect(self, webhook_url: str) -> SessionInfo:
        webhook = {
            "enabled": True,
            "url": webhook_url,
            "byEvents": False,
            "base64": False,
            "events": list(WEBHOOK_EVENTS),
        }
        created = self._call(
            "POST",
            "/instance/create",
            json={
                "instanceName": self.config.instance,
                "integration": "WHATSAPP-BAILEYS",
                "qrcode": True,
                "webhook": webhook,
            },
        )
        if not created.is_success and not _already_exists(created):
            raise self._failure(created)
        answer = self._call("POST", f"/webhook/set/{self._instance}", json={"webhook": webhook})
        if not answer.is_success:
            raise self._failure(answer)
        qr = self._qr()
        return self._session(qr)

    def session(self) -> SessionInfo:
        return self._session(None)

    def restart(self, webhook_url: str = "") -> SessionInfo:
        # Evolution keeps the webhook set by connect(); the URL is not needed again.
        answer = self._call("POST", f"/instance/restart/{self._instance}")
        if answer.status_code not in REFUSED_STATUSES and not answer.is_success:
            raise self._failure(answer)
        body = gateway_http.json_body(answer)
        if answer.status_code in REFUSED_STATUSES or (isinstance(body, dict) and body.get("error")):
            # A closed instance cannot restart: connecting it is what a restart means then.
            return self._session(self._qr())
        return self._session(None)

    def logout(self) -> None:
        answer = self._call("DELETE", f"/instance/logout/{self._instance}")
        # 400 "is not connected": already logged out, which is what we asked for.
        if not answer.is_success and answer.status_code not in REFUSED_STATUSES:
            raise self._failure(answer)

    def _qr(self) -> _Qr | None:
        """GET /instance/connect: the current QR (it starts a closed instance connecting)."""
        answer = self._call("GET", f"/instance/connect/{self._instance}")
        if not answer.is_success:
            raise self._failure(answer)
        body = gateway_http.json_body(answer)
        if not isinstance(body, dict):
            return None
        try:
            qr = _Qr.model_validate(
                body.get("qrcode") if isinstance(body.get("qrcode"), dict) else body
            )
        except ValidationError:
            return None
        return qr if qr.base64 else None

    def _session(self, qr: _Qr | None) -> SessionInfo:
        answer = self._call("GET", f"/instance/connectionState/{self._instance}")
        if answer.status_code == 404:
            return SessionInfo(
                ConnectionState("disconnected", detail="the instance does not exist")
            )
        if not answer.is_success:
            raise self._failure(answer)
        body = gateway_http.json_body(answer)
        instance = body.get("instance") if isinstance(body, dict) else None
        raw = instance.get("state") if isinstance(instance, dict) else None
        state = STATES.get(raw, "unknown") if isinstance(raw, str) else "unknown"
        if state == "connecting" and qr is None:
            # While connecting, /instance/connect only reads the QR it already has.
            qr = self._qr()
        if state == "connected" or qr is None:
            return SessionInfo(ConnectionState(state))
        extra = {"pairing_code": qr.pairing_code} if qr.pairing_code else {}
        return SessionInfo(
            ConnectionState("qr"), QrCode(image=data_url(qr.base64), code=qr.code or ""), extra
        )

    # ---- HTTP ----------------------------------------------------------------------------

    @property
    def _instance(self) -> str:
        return quote(self.config.instance, safe="")

    def _call(self, method: str, path: str, *, json: Any = None) -> HttpResponse:
        headers = {"apikey": self.config.api_key}
        try:
            return self.http.request(method, path, json=json, headers=headers)
        except HttpError as exc:
            raise gateway_http.no_answer(GATEWAY, exc) from exc

    def _failure(self, response: HttpResponse) -> GatewayError:
        status = response.status_code
        why = gateway_http.reason(response, self.http.secrets)
        if "connection closed" in why.lower():
            # Baileys lost the WhatsApp socket (answered 400 or 500 depending on version).
            return gateway_http.session_down(GATEWAY, why, status)
        if status == 400 and _unknown_number(response):
            return gateway_http.unknown_number(GATEWAY, why, status)
        if status in (401, 403):
            return gateway_http.bad_credentials(GATEWAY, "the API key", status)
        if status == 404:
            return GatewayError(
                f"{GATEWAY}: instance {self.config.instance!r} not found: {why}",
                permanent=False,
                code="session_down",
                status=status,
            )
        return gateway_http.common_failure(GATEWAY, response, self.http.secrets)


def _items(data: Any, list_key: str) -> list[Any]:
    """Event data as a list: v2 sends one object; some versions a list or `{list_key: [...]}`."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get(list_key), list):
        return list(data[list_key])
    if isinstance(data, dict):
        return [data]
    raise WebhookRejected(400, "the event data is not an object")


def _already_exists(response: HttpResponse) -> bool:
    """Whether /instance/create refused because the instance exists (403 or 409)."""
    if response.status_code == 409:
        return True
    text = gateway_http.reason(response).lower()
    return response.status_code == 403 and ("already" in text or "in use" in text)


def _unknown_number(response: HttpResponse) -> bool:
    body = gateway_http.json_body(response)
    inner = body.get("response") if isinstance(body, dict) else None
    messages = inner.get("message") if isinstance(inner, dict) else None
    return isinstance(messages, list) and any(
        isinstance(item, dict) and item.get("exists") is False for item in messages
    )


def _unwrap(message: dict[str, Any]) -> dict[str, Any]:
    for _ in range(4):
        for wrapper in WRAPPERS:
            inner = message.get(wrapper)
            if isinstance(inner, dict) and isinstance(inner.get("message"), dict):
                message = inner["message"]
                break
        else:
            return message
    return message


def _first_type(content: dict[str, Any]) -> str:
    for name in content:
        if name == "conversation" or name.endswith("Message"):
            return name
    return ""


def _message_type(kind: str) -> str:
    if kind in MESSAGE_TYPES:
        return MESSAGE_TYPES[kind]
    name = kind.removesuffix("Message") or "unknown"
    return name[:MESSAGE_TYPE_LIMIT]


def _text(content: dict[str, Any]) -> str:
    """What the person wrote: plain text, a link/reply text, a caption, a reaction's emoji."""
    conversation = content.get("conversation")
    if isinstance(conversation, str) and conversation:
        return conversation
    parts = [value for value in content.values() if isinstance(value, dict)]
    extended = content.get("extendedTextMessage")
    if isinstance(extended, dict):
        parts.insert(0, extended)
    for field in ("text", "caption"):
        for part in parts:
            text = part.get(field)
            if isinstance(text, str) and text:
                return text
    return ""


def _media_url(content: dict[str, Any]) -> str:
    # Only a URL Evolution stored (S3/MinIO); WhatsApp's own media URLs are encrypted blobs.
    url = content.get("mediaUrl")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return url
    return ""


def _quoted_id(context: dict[str, Any] | None, content: dict[str, Any]) -> str:
    candidates = [context] + [v.get("contextInfo") for v in content.values() if isinstance(v, dict)]
    for info in candidates:
        if isinstance(info, dict):
            stanza = info.get("stanzaId")
            if isinstance(stanza, str) and stanza:
                return stanza
    return ""


ADAPTER = EvolutionGateway
