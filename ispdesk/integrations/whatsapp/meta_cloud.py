"""WhatsApp Cloud API (Meta's Graph API) adapter.

Sends through `POST {base_url}/{api_version}/{phone_number_id}/messages` with a Bearer token,
verifies webhooks by `X-Hub-Signature-256` over the raw body, answers the GET verification
handshake, and turns every message and status of a (batched) webhook into typed events.

Mapping choices worth knowing:
- Nothing inbound is dropped silently: text, media (caption as text), interactive and template
  button replies (their title/text), location and shared contacts (a readable summary) map to
  messages with their `message_type`; a reaction maps to `message_type="reaction"` with the
  emoji as text and the reacted message as `quoted_id`; unsupported and unknown types map to
  their type with empty text. Policy (show, ignore) belongs to the caller.
- One malformed message or status in a batch (no id, no sender) is logged and skipped; the rest
  are returned, so Meta does not retry a 1,000-update batch for a week because of one item. A
  message with its keys but an odd content part is kept with empty text: it is never refetchable.
- Media arrive as Graph media ids, not URLs (the download URL needs the token and expires), so
  `media_url` stays empty.
- On error 131030 (recipient not in the allowed list) to `549` + 10 digits, the send is retried
  once as `54` + 10 digits: Meta's test numbers reportedly need that form for Argentina.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ispdesk.integrations.whatsapp import gateway_http
from ispdesk.integrations.whatsapp.base import (
    ConnectionState,
    ConnectionStateName,
    Gateway,
    GatewayConfig,
    GatewayError,
    InboundEvent,
    InboundMessage,
    SendResult,
    SessionInfo,
    StatusReceipt,
    WebhookRejected,
    WebhookRequest,
)
from ispdesk.lib.http import HttpError, HttpResponse
from ispdesk.lib.numbers import ascii_int
from ispdesk.lib.phones import PhoneError, normalize_phone

logger = logging.getLogger("ispdesk.whatsapp.meta_cloud")

GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v22.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_TEXT_LENGTH = 4096  # the Cloud API's limit for a text body
_AR_MOBILE_WA_ID = re.compile(r"^549\d{10}$")
_WA_ID = re.compile(r"^\d{8,15}$")
_JID_SUFFIX = re.compile(r"[:@].*$")
_RECEIPTS = frozenset({"sent", "delivered", "read", "failed"})


class MetaCloudConfig(GatewayConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token", "app_secret", "verify_token")

    base_url: str = GRAPH_URL
    api_version: str = Field(DEFAULT_API_VERSION, pattern=r"^v\d+\.\d+$")
    phone_number_id: str = Field(pattern=r"^\d{1,32}$")
    access_token: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)
    verify_token: str = Field(min_length=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(
                "must be an http(s) URL without a query, like https://graph.facebook.com"
            )
        return value.rstrip("/")


# --- Graph API errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class _ErrorKind:
    code: str
    permanent: bool
    summary: str
    retry_after: float | None = None  # default wait when Graph gives no Retry-After


_WINDOW_CLOSED = (
    "the 24-hour customer service window is closed: only an approved template can be sent "
    "until the customer writes again"
)
_GRAPH_ERRORS: dict[int, _ErrorKind] = {
    131047: _ErrorKind("window_closed", True, _WINDOW_CLOSED),
    131026: _ErrorKind(
        "undeliverable",
        True,
        "the message cannot be delivered to this number (no WhatsApp, old app version, "
        "or terms not accepted)",
    ),
    131030: _ErrorKind(
        "recipient_not_allowed", True, "the number is not in the test number's allowed list"
    ),
    190: _ErrorKind("bad_credentials", True, "the access token is invalid or expired"),
    10: _ErrorKind("bad_credentials", True, "the access token lacks permission for this number"),
    200: _ErrorKind("bad_credentials", True, "the access token lacks permission for this number"),
    130429: _ErrorKind("rate_limited", False, "the number's throughput limit was reached", 1.0),
    131056: _ErrorKind(
        "rate_limited", False, "too many messages to this customer in a short time", 6.0
    ),
    4: _ErrorKind("rate_limited", False, "the app's API call limit was reached", 60.0),
    80007: _ErrorKind("rate_limited", False, "the business account's rate limit was reached", 60.0),
    131048: _ErrorKind(
        "rate_limited", False, "the number is restricted for sending too many messages", 60.0
    ),
    100: _ErrorKind("invalid_request", True, "the Graph API rejected a parameter"),
    131008: _ErrorKind("invalid_request", True, "a required parameter is missing"),
    131009: _ErrorKind("invalid_request", True, "a parameter value is invalid"),
    131051: _ErrorKind("invalid_request", True, "the message type is not supported"),
    131052: _ErrorKind("media_error", True, "WhatsApp could not download the media"),
    131053: _ErrorKind("media_error", True, "WhatsApp could not process the media"),
    131031: _ErrorKind("account_locked", True, "the business account is locked"),
    131042: _ErrorKind("billing", True, "the business account has a payment problem"),
    368: _ErrorKind("blocked", True, "the number is temporarily blocked for policy violations"),
    133010: _ErrorKind("not_registered", True, "the phone number is not registered on the API"),
    1: _ErrorKind("server_error", False, "the Graph API had an unknown error"),
    2: _ErrorKind("server_error", False, "the Graph API is temporarily unavailable"),
    131000: _ErrorKind("server_error", False, "WhatsApp had an unknown error"),
    131016: _ErrorKind("server_error", False, "WhatsApp is temporarily unavailable"),
}
_TEMPLATE_ERROR = _ErrorKind("template_error", True, "the template was rejected")


def _error_kind(code: int | None, status: int) -> _ErrorKind:
    if code is not None and code in _GRAPH_ERRORS:
        return _GRAPH_ERRORS[code]
    if code is not None and 132000 <= code < 133000:
        return _TEMPLATE_ERROR
    if status == 401:
        return _GRAPH_ERRORS[190]
    if status == 429:
        return _ErrorKind("rate_limited", False, "the Graph API asked us to slow down", 1.0)
    if status >= 500 or status == 408:
        return _ErrorKind("server_error", False, "the Graph API failed")
    return _ErrorKind("rejected", True, "the Graph API rejected the request")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return ascii_int(value)


# --- inbound payloads (tolerant: every field optional but the ones we key on) -----------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Text(_Wire):
    body: str = ""


class _Media(_Wire):
    id: str = ""
    caption: str = ""
    mime_type: str = ""
    filename: str = ""


class _Reply(_Wire):
    id: str = ""
    title: str = ""


class _FlowReply(_Wire):
    body: str = ""
    name: str = ""


class _Interactive(_Wire):
    type: str = ""
    button_reply: _Reply | None = None
    list_reply: _Reply | None = None
    nfm_reply: _FlowReply | None = None


class _Button(_Wire):
    text: str = ""
    payload: str = ""


class _Location(_Wire):
    latitude: float | None = None
    longitude: float | None = None
    name: str = ""
    address: str = ""


class _Reaction(_Wire):
    message_id: str = ""
    emoji: str = ""


class _Context(_Wire):
    id: str = ""


class _System(_Wire):
    body: str = ""


class _CardName(_Wire):
    formatted_name: str = ""


class _CardPhone(_Wire):
    phone: str = ""


class _Card(_Wire):
    name: _CardName | None = None
    phones: list[_CardPhone] = []


class _Message(_Wire):
    """The keys a message is stored by; the type's content is read on its own (`_content`)."""

    from_: str = Field(alias="from", min_length=1)
    id: str = Field(min_length=1)
    timestamp: str | int = ""
    type: str = ""


_CONTENT: dict[str, Any] = {
    "text": TypeAdapter(_Text),
    "image": TypeAdapter(_Media),
    "video": TypeAdapter(_Media),
    "audio": TypeAdapter(_Media),
    "document": TypeAdapter(_Media),
    "sticker": TypeAdapter(_Media),
    "interactive": TypeAdapter(_Interactive),
    "button": TypeAdapter(_Button),
    "location": TypeAdapter(_Location),
    "reaction": TypeAdapter(_Reaction),
    "system": TypeAdapter(_System),
    "contacts": TypeAdapter(list[_Card]),
    "context": TypeAdapter(_Context),
}


def _content(raw: Mapping[str, Any], key: str) -> Any:
    """The validated `raw[key]`, or None: an odd part never costs us the whole message."""
    adapter = _CONTENT.get(key)
    if adapter is None or raw.get(key) is None:
        return None
    try:
        return adapter.validate_python(raw[key])
    except ValidationError:
        logger.warning("Cloud API webhook: unreadable %r in message %s", key, raw.get("id"))
        return None


class _StatusErrorData(_Wire):
    details: str = ""


class _StatusError(_Wire):
    code: int | str | None = None
    title: str = ""
    message: str = ""
    error_data: _StatusErrorData | None = None


class _Status(_Wire):
    id: str = Field(min_length=1)
    status: str
    timestamp: str | int = ""
    errors: Any = None  # read on its own: an odd reason never costs us the receipt


class _Profile(_Wire):
    name: str = ""


class _Contact(_Wire):
    wa_id: str = ""
    profile: _Profile | None = None


class _Value(_Wire):
    contacts: list[Any] = []
    messages: list[Any] = []
    statuses: list[Any] = []


class _Change(_Wire):
    field: str = ""
    value: dict[str, Any] = {}


class _Entry(_Wire):
    changes: list[Any] = []


class _Envelope(_Wire):
    object: str
    entry: list[Any] = []


def _timestamp(raw: str | int) -> datetime:
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (ValueError, OverflowError, OSError, TypeError):
        logger.warning(
            "Cloud API webhook: unreadable timestamp %r, using the arrival time", str(raw)[:40]
        )
        return datetime.now(UTC)


def _phone(wa_id: str) -> str:
    """E.164 for a wa_id (`5491123456789` → `+5491123456789`), or "" if it is not one."""
    if not _WA_ID.match(wa_id):
        return ""
    try:
        return normalize_phone("+" + wa_id, mobile=True)
    except PhoneError:
        # WhatsApp knows the number exists; our metadata may not yet.
        return "+" + wa_id


def _message_content(kind: str, content: Any) -> tuple[str, str]:
    """(text, reacted-to message id) of one inbound message's validated content."""
    if isinstance(content, _Text):
        return content.body, ""
    if isinstance(content, _Media):
        return content.caption, ""
    if isinstance(content, _Interactive):
        reply = content.button_reply or content.list_reply
        if reply:
            return reply.title, ""
        if content.nfm_reply:
            return content.nfm_reply.body or content.nfm_reply.name, ""
    if isinstance(content, _Button):
        return content.text or content.payload, ""
    if isinstance(content, _Location):
        parts = [content.name, content.address]
        if content.latitude is not None and content.longitude is not None:
            parts.append(f"{content.latitude},{content.longitude}")
        return "\n".join(part for part in parts if part), ""
    if isinstance(content, _Reaction):
        return content.emoji, content.message_id
    if isinstance(content, _System):
        return content.body, ""
    if kind == "contacts" and isinstance(content, list):
        lines = []
        for card in content:
            name = card.name.formatted_name if card.name else ""
            phones = ", ".join(phone.phone for phone in card.phones if phone.phone)
            lines.append(": ".join(part for part in (name, phones) if part))
        return "\n".join(line for line in lines if line), ""
    return "", ""


def _inbound_message(
    message: _Message, raw: Mapping[str, Any], names: Mapping[str, str]
) -> InboundMessage:
    kind = message.type or "unknown"
    text, reacted_to = _message_content(kind, _content(raw, kind))
    context = _content(raw, "context")
    return InboundMessage(
        provider_id=message.id,
        chat_id=message.from_,
        phone=_phone(message.from_),
        lid="",
        from_me=False,
        name=names.get(message.from_, ""),
        text=text,
        timestamp=_timestamp(message.timestamp),
        message_type=kind,
        quoted_id=reacted_to or (context.id if context else ""),
    )


def _describe_error(code: int | None, title: str, message: str, details: str) -> str:
    """A readable reason: our summary for codes we know, Meta's words otherwise, plus details."""
    kind = _GRAPH_ERRORS.get(code) if code is not None else None
    summary = kind.summary if kind else (title or message or "unknown error")
    extra = details or (message if message not in (summary, title) else "")
    text = f"{summary} [{code}]" if code is not None else summary
    return f"{text}: {extra}" if extra else text


def _status_receipt(status: _Status) -> StatusReceipt | None:
    if status.status not in _RECEIPTS:
        logger.info("Cloud API webhook: ignoring status %r of %s", status.status, status.id)
        return None
    error = ""
    error_code = ""
    if status.status == "failed":
        first = status.errors[0] if isinstance(status.errors, list) and status.errors else None
        try:
            reason = _StatusError.model_validate(first) if first is not None else None
        except ValidationError:
            reason = None
        if reason:
            details = reason.error_data.details if reason.error_data else ""
            code = _int_or_none(reason.code)
            error = _describe_error(code, reason.title, reason.message, details)
            error_code = str(code) if code is not None else ""
        else:
            error = "failed without a readable reason from WhatsApp"
    return StatusReceipt(
        provider_id=status.id,
        status=status.status,  # type: ignore[arg-type]  # checked against _RECEIPTS above
        timestamp=_timestamp(status.timestamp),
        error=error,
        code=error_code,
    )


def _validated(model: type[_Wire], raw: Any, what: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        logger.warning(
            "Cloud API webhook: skipping a malformed %s (%d problems: %s)",
            what,
            exc.error_count(),
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]),
        )
        return None


def _value_events(value: _Value) -> list[InboundEvent]:
    names: dict[str, str] = {}
    for raw in value.contacts:
        contact = _validated(_Contact, raw, "contact")
        if contact and contact.wa_id and contact.profile:
            names[contact.wa_id] = contact.profile.name
    events: list[InboundEvent] = []
    for raw in value.messages:
        message = _validated(_Message, raw, "message")
        if message:
            events.append(_inbound_message(message, raw, names))
    for raw in value.statuses:
        status = _validated(_Status, raw, "status")
        receipt = _status_receipt(status) if status else None
        if receipt:
            events.append(receipt)
    return events


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value if isinstance(value, str) else ""


def signature_for(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _media_type(url: str, mimetype: str, caption: str) -> str:
    mime = (mimetype or mimetypes.guess_type(urlsplit(url).path)[0] or "").lower()
    if mime in ("image/jpeg", "image/jpg", "image/png"):
        return "image"
    if mime == "image/webp":
        # Stickers cannot carry a caption; a document can.
        return "document" if caption else "sticker"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        # The Cloud API has no audio captions: send a captioned audio as a document.
        return "document" if caption else "audio"
    return "document"


class MetaCloudGateway(Gateway):
    kind = "meta_cloud"
    config_class = MetaCloudConfig
    default_rate_per_second = 80
    has_service_window = True

    config: MetaCloudConfig

    # --- sending ------------------------------------------------------------------------------

    def send_text(self, to: str, text: str, *, quoted_id: str = "") -> SendResult:
        if not text.strip():
            raise GatewayError("cannot send an empty text", permanent=True, code="invalid_request")
        if len(text) > MAX_TEXT_LENGTH:
            raise GatewayError(
                f"the text is longer than WhatsApp's {MAX_TEXT_LENGTH} characters",
                permanent=True,
                code="too_long",
            )
        payload: dict[str, Any] = {"type": "text", "text": {"body": text, "preview_url": False}}
        if quoted_id:
            payload["context"] = {"message_id": quoted_id}
        return self._send(to, payload)

    def send_media(
        self, to: str, url: str, *, caption: str = "", mimetype: str = "", filename: str = ""
    ) -> SendResult:
        if urlsplit(url).scheme not in ("http", "https"):
            raise GatewayError(
                "the media URL must be http(s)", permanent=True, code="invalid_request"
            )
        media_type = _media_type(url, mimetype, caption)
        media: dict[str, Any] = {"link": url}
        if caption and media_type in ("image", "video", "document"):
            media["caption"] = caption
        if media_type == "document":
            media["filename"] = filename or urlsplit(url).path.rsplit("/", 1)[-1] or "file"
        return self._send(to, {"type": media_type, media_type: media})

    def send_template(
        self,
        to: str,
        name: str,
        language_code: str,
        components: list[dict[str, Any]] | None = None,
    ) -> SendResult:
        """Send an approved template: the only kind of message allowed outside the window."""
        if not name or not language_code:
            raise GatewayError(
                "a template needs a name and a language code",
                permanent=True,
                code="invalid_request",
            )
        template: dict[str, Any] = {"name": name, "language": {"code": language_code}}
        if components:
            template["components"] = components
        return self._send(to, {"type": "template", "template": template})

    def _send(self, to: str, payload: dict[str, Any]) -> SendResult:
        wa_id = self._recipient(to)
        try:
            return self._post_message(wa_id, payload)
        except GatewayError as exc:
            if exc.code != "recipient_not_allowed" or not _AR_MOBILE_WA_ID.match(wa_id):
                raise
        # Meta's test numbers reportedly know Argentine mobiles as 54 + 10 digits.
        without_nine = "54" + wa_id[3:]
        logger.info("Cloud API: %s not in the allowed list, retrying as %s", wa_id, without_nine)
        return self._post_message(without_nine, payload)

    def _post_message(self, wa_id: str, payload: dict[str, Any]) -> SendResult:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id}
        body.update(payload)
        response = self._call("POST", self._path("messages"), json=body)
        data = self._json(response)
        messages = data.get("messages") if isinstance(data, dict) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        provider_id = first.get("id") if isinstance(first, dict) else None
        if not isinstance(provider_id, str) or not provider_id:
            # Meta may have accepted it: retrying could send it twice.
            raise GatewayError(
                "the Graph API accepted the request but answered without a message id",
                permanent=True,
                code="bad_response",
                status=response.status_code,
            )
        contacts = data.get("contacts")
        contact = contacts[0] if isinstance(contacts, list) and contacts else None
        remote = contact.get("wa_id") if isinstance(contact, dict) else None
        return SendResult(provider_id, remote if isinstance(remote, str) and remote else wa_id)

    @staticmethod
    def _recipient(to: str) -> str:
        digits = re.sub(r"\D", "", _JID_SUFFIX.sub("", to.strip()))
        if not _WA_ID.match(digits):
            raise GatewayError(
                f"{to!r} is not a WhatsApp number", permanent=True, code="invalid_recipient"
            )
        return digits

    # --- HTTP and errors ----------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return "/".join((self.config.api_version, self.config.phone_number_id, *parts))

    def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        try:
            response = self.http.request(method, path, json=json, params=params, headers=headers)
        except HttpError as exc:
            if exc.maybe_received:
                raise gateway_http.unknown_outcome("the Graph API", exc) from None
            # HttpClient already redacted the message; it never carries headers.
            what = "timed out" if exc.timeout else "is unreachable"
            raise GatewayError(
                f"the Graph API {what}: {self._redact(str(exc))}",
                permanent=False,
                code="timeout" if exc.timeout else "unreachable",
            ) from None
        if response.is_success:
            return response
        raise self._error(response)

    def _error(self, response: HttpResponse) -> GatewayError:
        error = self._json(response).get("error")
        error = error if isinstance(error, dict) else {}
        code = _int_or_none(error.get("code"))
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else ""
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        kind = _error_kind(code, response.status_code)
        text = _describe_error(code, "", message or "", details if isinstance(details, str) else "")
        if code is None:
            text = f"{kind.summary} (HTTP {response.status_code})"
        trace = error.get("fbtrace_id")
        if isinstance(trace, str) and trace:
            text = f"{text} (fbtrace_id {trace})"
        text = self._redact(text)[:1000]
        logger.warning(
            "Cloud API error: HTTP %s, Graph code %s -> %s", response.status_code, code, kind.code
        )
        retry_after = None
        if not kind.permanent:
            waited = gateway_http.retry_after(response)
            retry_after = waited if waited is not None else kind.retry_after
        return GatewayError(
            text,
            permanent=kind.permanent,
            code=kind.code,
            status=response.status_code,
            retry_after=retry_after,
        )

    @staticmethod
    def _json(response: HttpResponse) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _redact(self, text: str) -> str:
        for name in self.config.secret_fields:
            secret = str(getattr(self.config, name) or "")
            if secret:
                text = text.replace(secret, "***")
        return text

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest, url_secret_ok: bool) -> None:
        if not url_secret_ok:
            raise WebhookRejected(403, "the webhook URL secret does not match")
        given = _header(request.headers, SIGNATURE_HEADER).strip()
        if not given:
            raise WebhookRejected(403, f"missing {SIGNATURE_HEADER}")
        expected = signature_for(request.body, self.config.app_secret)
        if not hmac.compare_digest(
            expected.encode(), given.lower().encode("utf-8", errors="replace")
        ):
            raise WebhookRejected(403, f"{SIGNATURE_HEADER} does not match the body")

    def verification_challenge(self, request: WebhookRequest) -> str | None:
        if request.method.upper() != "GET" or request.query.get("hub.mode") != "subscribe":
            return None
        token = request.query.get("hub.verify_token") or ""
        if not hmac.compare_digest(
            token.encode("utf-8", errors="replace"), self.config.verify_token.encode()
        ):
            raise WebhookRejected(403, "hub.verify_token does not match")
        challenge = request.query.get("hub.challenge")
        if not challenge:
            raise WebhookRejected(400, "hub.challenge is missing")
        return challenge

    def parse_webhook(self, body: bytes) -> list[InboundEvent]:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise WebhookRejected(400, "the body is not JSON") from None
        try:
            envelope = _Envelope.model_validate(data)
        except (ValidationError, RecursionError):
            raise WebhookRejected(400, "not a Cloud API webhook (no `object`/`entry`)") from None
        if envelope.object != "whatsapp_business_account":
            logger.info("Cloud API webhook: ignoring object %r", envelope.object[:100])
            return []
        events: list[InboundEvent] = []
        for raw_entry in envelope.entry:
            entry = _validated(_Entry, raw_entry, "entry")
            for raw_change in entry.changes if entry else []:
                change = _validated(_Change, raw_change, "change")
                if not change or change.field != "messages":
                    continue
                value = _validated(_Value, change.value, "change value")
                if value:
                    events.extend(_value_events(value))
        return events

    # --- lifecycle ----------------------------------------------------------------------------

    def session(self) -> SessionInfo:
        """No QR: the number is usable when the Graph API knows it and the token works."""
        try:
            response = self._call(
                "GET", self._path(), params={"fields": "display_phone_number,verified_name"}
            )
        except GatewayError as exc:
            # A transient failure says nothing about the number: "unknown", not "disconnected".
            state: ConnectionStateName = "disconnected" if exc.permanent else "unknown"
            return SessionInfo(ConnectionState(state, exc.message), extra={"code": exc.code})
        data = self._json(response)
        name = data.get("verified_name") if isinstance(data.get("verified_name"), str) else ""
        number = data.get("display_phone_number")
        number = number if isinstance(number, str) else ""
        detail = " ".join(part for part in (name, number) if part)
        extra = {"verified_name": name, "display_phone_number": number}
        return SessionInfo(ConnectionState("connected", detail), extra=extra)

    def connect(self, webhook_url: str) -> SessionInfo:
        # Meta's webhook is set in the app dashboard (callback URL + verify token), not here.
        return self.session()


ADAPTER = MetaCloudGateway
