"""WPPConnect Server: send, read webhooks, manage the session.

A bearer token comes from `POST /api/<session>/<secret>/generate-token`; it is cached on the
adapter and fetched again once when the server answers 401. Webhooks are one POST per event,
unsigned and never retried: the URL secret is the only proof, checked by the view. Facts and
their sources: `../shared/PROTOCOLS.md`, "WPPConnect Server".
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
    jid_to_phone,
    send_target,
    serialized_id,
    unix_time,
)
from ispdesk.lib.http import HttpClient, HttpError, HttpResponse

logger = logging.getLogger(__name__)

GATEWAY = "WPPConnect"
DEFAULT_SECRET = "THISISMYSECURETOKEN"  # noqa: S105 - the value we warn about, not a secret
ACKS: dict[int, ReceiptStatus] = {-1: "failed", 1: "sent", 2: "delivered", 3: "read", 4: "read"}
SESSION_STATES: dict[str, ConnectionStateName] = {
    "CLOSED": "disconnected",
    "INITIALIZING": "connecting",
    "QRCODE": "qr",
    "CONNECTED": "connected",
}
# `status-find` values (wppconnect's statusFind callback) → our state.
STATUS_FIND: dict[str, ConnectionStateName] = {
    "isLogged": "connected",
    "inChat": "connected",
    "successChat": "connected",
    "chatsAvailable": "connected",
    "qrReadSuccess": "connecting",
    "initBrowser": "connecting",
    "openBrowser": "connecting",
    "connectBrowserWs": "connecting",
    "initWhatsapp": "connecting",
    "successPageWhatsapp": "connecting",
    "waitChat": "connecting",
    "notLogged": "qr",
    "waitForLogin": "qr",
    "qrReadFail": "qr",
    "qrReadError": "qr",
    "browserClose": "disconnected",
    "autocloseCalled": "disconnected",
    "desconnectedMobile": "disconnected",
    "disconnectedMobile": "disconnected",
    "deleteToken": "disconnected",
    "serverClose": "disconnected",
    "deviceNotConnected": "disconnected",
    "phoneNotConnected": "disconnected",
    "serverWssNotConnected": "disconnected",
    "noOpenBrowser": "disconnected",
    "erroPageWhatsapp": "disconnected",
}
MESSAGE_TYPES = {"chat": "text", "ptt": "audio", "vcard": "contact", "multi_vcard": "contact"}
# Types whose `body` is the media itself (base64 or a thumbnail), never text.
MEDIA_TYPES = frozenset({"image", "video", "audio", "ptt", "document", "sticker", "location"})
MESSAGE_EVENTS = frozenset({"onmessage", "onselfmessage", "unreadmessages"})
CLOSED_EVENTS = frozenset({"closesession", "logoutsession"})
MESSAGE_TYPE_LIMIT = 20


class WppConnectConfig(GatewayConfig):
    base_url: str = Field(min_length=1)
    session: str = Field(min_length=1, max_length=100)
    secret_key: str = Field(min_length=1)

    secret_fields: ClassVar[tuple[str, ...]] = ("secret_key",)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def uses_default_secret(self) -> bool:
        """The server still has its published default secret: anyone can drive it."""
        return self.secret_key == DEFAULT_SECRET


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class _Message(_Payload):
    """An `onmessage` body: the message's fields sit at the top level of the envelope."""

    id: str | dict[str, Any]
    body: Any = None
    type: str | None = None
    t: Any = None
    timestamp: Any = None
    from_: str | dict[str, Any] | None = Field(default=None, alias="from")
    to: str | dict[str, Any] | None = None
    is_group_msg: bool | None = None
    from_me: bool | None = None
    notify_name: str | None = None
    sender: dict[str, Any] | None = None
    caption: str | None = None
    mimetype: str | None = None
    file_url: str | None = None
    quoted_msg_id: str | dict[str, Any] | None = None
    quoted_stanza_id: str | None = Field(default=None, alias="quotedStanzaID")


class _Ack(_Payload):
    id: str | dict[str, Any]
    ack: int | None = None
    to: str | dict[str, Any] | None = None
    from_: str | dict[str, Any] | None = Field(default=None, alias="from")


class WppConnectGateway(Gateway):
    kind: ClassVar[str] = "wppconnect"
    config_class: ClassVar[type[GatewayConfig]] = WppConnectConfig
    default_rate_per_second: ClassVar[float | None] = 1.0

    config: WppConnectConfig
    # The clock for events whose payload carries no timestamp (tests pass a fixed one).
    now: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

    def __init__(self, config: GatewayConfig, http: HttpClient | None = None) -> None:
        super().__init__(config, http)
        gateway_http.keep_secrets(self.http, self.config.secret_key)
        self._token = ""
        # start-session sets the webhook; a restart must give it again.
        self.webhook_url = ""

    # ---- sending -------------------------------------------------------------------------

    def send_text(self, to: str, text: str, *, quoted_id: str = "") -> SendResult:
        target = send_target(to)
        body: dict[str, Any] = {"phone": target.value, "message": text, "isGroup": False}
        if target.is_lid:
            body["isLid"] = True
        if quoted_id:
            body["options"] = {"quotedMsg": quoted_id}
        return self._send("send-message", body)

    def send_media(
        self, to: str, url: str, *, caption: str = "", mimetype: str = "", filename: str = ""
    ) -> SendResult:
        target = send_target(to)
        path = urlsplit(url).path
        body: dict[str, Any] = {
            "phone": target.value,
            "isGroup": False,
            "path": url,
            "filename": filename or path.rsplit("/", 1)[-1] or "file",
            "caption": caption,
        }
        if mimetype or mimetypes.guess_type(path)[0]:
            body["options"] = {"mimetype": mimetype or mimetypes.guess_type(path)[0]}
        if target.is_lid:
            body["isLid"] = True
        return self._send("send-file", body)

    def _send(self, action: str, body: dict[str, Any]) -> SendResult:
        response = self._call("POST", action, json=body)
        if not response.is_success:
            raise self._failure(response, sending=True)
        answer = gateway_http.json_body(response)
        sent = answer.get("response") if isinstance(answer, dict) else None
        if isinstance(sent, list):
            sent = sent[0] if sent else None
        if isinstance(sent, str):
            return SendResult(provider_id=sent)
        message = sent if isinstance(sent, dict) else {}
        provider_id = serialized_id(message.get("id"))
        if not provider_id:
            # Accepted but unnamed: report it sent rather than send it twice.
            logger.warning("%s accepted a message without an id", GATEWAY)
            return SendResult(provider_id="")
        remote = serialized_id(message.get("to")) or serialized_id(message.get("chatId"))
        return SendResult(provider_id=provider_id, remote_id=remote)

    def lookup_phone(self, lid: str) -> str:
        """The E.164 phone behind a `…@lid` id (`GET contact/pn-lid`), or "" if unknown."""
        response = self._call("GET", f"contact/pn-lid/{quote(lid, safe='@')}")
        if response.status_code in (400, 404) and not _disconnected(response):
            return ""
        if not response.is_success:
            raise self._failure(response)
        answer = gateway_http.json_body(response)
        number = answer.get("phoneNumber") if isinstance(answer, dict) else None
        jid = serialized_id(number)
        if not jid and isinstance(number, dict):
            jid = serialized_id(number.get("id"))
        return jid_to_phone(jid)

    # ---- webhooks ------------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, url_secret_ok: bool) -> None:
        if not url_secret_ok:
            raise WebhookRejected(403, "the webhook URL secret does not match")

    def parse_webhook(self, body: bytes) -> list[InboundEvent]:
        envelope = gateway_http.webhook_envelope(body)
        event = str(envelope["event"]).strip().lower()
        try:
            if event in MESSAGE_EVENTS:
                return self._message(envelope, event)
            if event == "onack":
                return self._receipt(envelope)
            if event == "qrcode":
                image = data_url(envelope.get("qrcode"))
                code = envelope.get("urlcode")
                return [QrCode(image, code if isinstance(code, str) else "")] if image else []
            if event == "status-find":
                status = envelope.get("status")
                if not isinstance(status, str):
                    raise WebhookRejected(400, "status-find without a status")
                return [ConnectionState(STATUS_FIND.get(status, "unknown"), detail=status[:100])]
            if event in CLOSED_EVENTS:
                message = envelope.get("message")
                detail = message[:100] if isinstance(message, str) else ""
                return [ConnectionState("disconnected", detail=detail)]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "body"
            raise WebhookRejected(400, f"{event}: {where}: {first.get('msg', 'invalid')}") from None
        return []

    def _message(self, envelope: dict[str, Any], event: str) -> list[InboundEvent]:
        message = _Message.model_validate(envelope)
        provider_id = serialized_id(message.id)
        if not provider_id:
            raise WebhookRejected(400, f"{event}: the message has no id")
        from_me = bool(message.from_me)
        # Our own messages (sent from the phone) belong to the chat they were sent to.
        chat_id = serialized_id(message.to if from_me else message.from_)
        if not chat_id:
            raise WebhookRejected(400, f"{event}: the message has no chat id")
        if message.is_group_msg or is_ignored_chat(chat_id):
            return []
        sender = message.sender or {}
        # The sender's own id may be the other form (phone vs lid) of the chat id.
        who = identify(chat_id, "" if from_me else serialized_id(sender.get("id")))
        kind = (message.type or "chat").strip() or "chat"
        pushname = sender.get("pushname")
        name = message.notify_name or (pushname if isinstance(pushname, str) else "")
        return [
            InboundMessage(
                provider_id=provider_id,
                chat_id=chat_id,
                phone=who.phone,
                lid=who.lid,
                from_me=from_me,
                name=name.strip(),
                text=_text(message, kind),
                timestamp=unix_time(message.t) or unix_time(message.timestamp) or self.now(),
                message_type=MESSAGE_TYPES.get(kind, kind)[:MESSAGE_TYPE_LIMIT],
                media_url=_media_url(message.file_url),
                quoted_id=serialized_id(message.quoted_msg_id) or message.quoted_stanza_id or "",
            )
        ]

    def _receipt(self, envelope: dict[str, Any]) -> list[InboundEvent]:
        ack = _Ack.model_validate(envelope)
        provider_id = serialized_id(ack.id)
        status = ACKS.get(ack.ack) if ack.ack is not None else None
        if not provider_id or status is None:
            return []  # 0 = pending (clock icon), or an ack we cannot attribute
        if is_ignored_chat(serialized_id(ack.to)):
            return []
        error = "the gateway reported ack -1" if status == "failed" else ""
        return [StatusReceipt(provider_id, status, self.now(), error)]

    # ---- session lifecycle ---------------------------------------------------------------

    def connect(self, webhook_url: str) -> SessionInfo:
        self.webhook_url = webhook_url
        self._start(webhook_url)
        return self.session()

    def session(self) -> SessionInfo:
        response = self._call("GET", "status-session")
        if not response.is_success:
            raise self._failure(response)
        answer = gateway_http.json_body(response)
        answer = answer if isinstance(answer, dict) else {}
        raw = answer.get("status")
        name = raw.upper() if isinstance(raw, str) else "CLOSED"
        state = SESSION_STATES.get(name, "unknown")
        image = data_url(answer.get("qrcode")) if state == "qr" else ""
        code = answer.get("urlcode")
        qr = QrCode(image, code if isinstance(code, str) else "") if image else None
        return SessionInfo(ConnectionState(state, detail="" if state != "unknown" else name), qr)

    def restart(self, webhook_url: str = "") -> SessionInfo:
        """Close the browser session and start it again (the WhatsApp login is kept).

        start-session sets the webhook, so it needs our URL: the one given, else the one
        `connect` used on this adapter, else the server's configured default.
        """
        webhook_url = webhook_url or self.webhook_url
        closed = self._call("POST", "close-session")
        if not closed.is_success and closed.status_code != 404:
            raise self._failure(closed)
        if not webhook_url:
            logger.warning(
                "%s session %s restarted without our webhook URL; it falls back to the "
                "server's configured webhook",
                GATEWAY,
                self.config.session,
            )
        self._start(webhook_url)
        return self.session()

    def logout(self) -> None:
        response = self._call("POST", "logout-session")
        # 404 "Disconnected": there is no session to log out of.
        if not response.is_success and response.status_code != 404:
            raise self._failure(response)

    def _start(self, webhook_url: str) -> None:
        body: dict[str, Any] = {"waitQrCode": False}
        if webhook_url:
            body["webhook"] = webhook_url
        response = self._call("POST", "start-session", json=body)
        if not response.is_success:
            raise self._failure(response)

    # ---- HTTP ----------------------------------------------------------------------------

    @property
    def _session(self) -> str:
        return quote(self.config.session, safe="")

    def _call(self, method: str, action: str, *, json: Any = None) -> HttpResponse:
        """An authenticated call; on 401 the token is renewed once and the call repeated."""
        response = self._request(method, action, json, self._bearer())
        if response.status_code != 401:
            return response
        response = self._request(method, action, json, self._bearer(renew=True))
        if response.status_code == 401:
            raise GatewayError(
                f"{GATEWAY} refused a fresh token for session {self.config.session!r}",
                permanent=True,
                code="bad_credentials",
                status=401,
            )
        return response

    def _request(self, method: str, action: str, json: Any, token: str) -> HttpResponse:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            return self.http.request(
                method, f"/api/{self._session}/{action}", json=json, headers=headers
            )
        except HttpError as exc:
            raise gateway_http.no_answer(GATEWAY, exc) from exc

    def _bearer(self, *, renew: bool = False) -> str:
        if self._token and not renew:
            return self._token
        if self.config.uses_default_secret:
            logger.warning(
                "%s session %s uses the server's published default secret key: anyone can "
                "drive it; set SECRET_KEY on the server and here",
                GATEWAY,
                self.config.session,
            )
        path = f"/api/{self._session}/{quote(self.config.secret_key, safe='')}/generate-token"
        try:
            response = self.http.request("POST", path)
        except HttpError as exc:
            raise gateway_http.no_answer(GATEWAY, exc) from exc
        if response.status_code in (400, 401, 403):
            # 400 "The SECRET_KEY is incorrect".
            raise GatewayError(
                f"{GATEWAY} refused the secret key ({response.status_code})",
                permanent=True,
                code="bad_credentials",
                status=response.status_code,
            )
        if not response.is_success:
            raise self._failure(response)
        answer = gateway_http.json_body(response)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise GatewayError(
                f"{GATEWAY} answered generate-token without a token",
                permanent=False,
                code="bad_response",
                status=response.status_code,
            )
        gateway_http.keep_secrets(self.http, token)
        self._token = token
        return token

    def _failure(self, response: HttpResponse, *, sending: bool = False) -> GatewayError:
        status = response.status_code
        why = gateway_http.reason(response, self.http.secrets)
        if status == 404 or _disconnected(response):
            return gateway_http.session_down(GATEWAY, why, status)
        if status == 400 and sending:
            # The only 400 of the send routes: checkNumberStatus found no WhatsApp account.
            return gateway_http.unknown_number(GATEWAY, why, status)
        if status in (401, 403):
            return gateway_http.bad_credentials(GATEWAY, "our credentials", status)
        if status == 501:
            return GatewayError(
                f"{GATEWAY}: not supported by this server's provider: {why}",
                permanent=True,
                code="not_supported",
                status=status,
            )
        return gateway_http.common_failure(GATEWAY, response, self.http.secrets)


def _disconnected(response: HttpResponse) -> bool:
    body = gateway_http.json_body(response)
    return isinstance(body, dict) and body.get("status") == "Disconnected"


def _text(message: _Message, kind: str) -> str:
    if kind in MEDIA_TYPES or message.mimetype:
        return message.caption or ""
    return message.body if isinstance(message.body, str) else ""


def _media_url(url: str | None) -> str:
    # Only a URL the server uploaded the file to (S3); `body` of a media message is base64.
    return url if url and url.startswith(("http://", "https://")) else ""


ADAPTER = WppConnectGateway
