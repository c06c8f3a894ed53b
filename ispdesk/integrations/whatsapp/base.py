"""The interface every WhatsApp gateway adapter implements, and the types it speaks.

Adapters do I/O and mapping, never policy: they send, parse webhooks into typed events,
verify webhook authenticity and manage the gateway session. Every failure is a
`GatewayError` whose `permanent` flag says whether retrying can help.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from ispdesk.lib.http import HttpClient

ConnectionStateName = Literal["connected", "connecting", "qr", "disconnected", "unknown"]
ReceiptStatus = Literal["sent", "delivered", "read", "failed"]


class GatewayError(Exception):
    """A gateway call failed. `permanent`: retrying the same request cannot succeed."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.permanent = permanent
        self.code = code
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class WebhookRejected(Exception):
    """A webhook request is not acceptable: `status` is 400 (shape) or 403 (authenticity)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class WebhookRequest:
    """What a webhook view hands an adapter: the raw body is what signatures cover."""

    method: str
    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str]


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    # The chat id the gateway answered with (it may resolve 9/no-9 forms itself).
    remote_id: str = ""


@dataclass(frozen=True)
class InboundMessage:
    provider_id: str
    chat_id: str  # as received: `549…@s.whatsapp.net`, `…@c.us`, `…@lid` or a Cloud API wa_id
    phone: str  # E.164 when known, else ""
    lid: str  # the `@lid` identity when the payload carries one, else ""
    from_me: bool
    name: str
    text: str
    timestamp: datetime
    message_type: str = "text"  # text, image, audio, video, document, sticker, location, …
    media_url: str = ""
    quoted_id: str = ""


@dataclass(frozen=True)
class StatusReceipt:
    provider_id: str
    status: ReceiptStatus
    timestamp: datetime
    error: str = ""
    # The provider's error code when it gives one (Cloud API 131047: the 24-hour window).
    code: str = ""


@dataclass(frozen=True)
class ConnectionState:
    state: ConnectionStateName
    detail: str = ""


@dataclass(frozen=True)
class QrCode:
    image: str  # a data: URL of a PNG, ready for <img src>
    code: str = ""


InboundEvent = InboundMessage | StatusReceipt | ConnectionState | QrCode


@dataclass(frozen=True)
class SessionInfo:
    state: ConnectionState
    qr: QrCode | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class GatewayConfig(BaseModel):
    """Typed, validated connection settings; subclasses list their keys."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # Keys whose values are secrets: stored, never shown again, never logged.
    secret_fields: ClassVar[tuple[str, ...]] = ()


class Gateway(ABC):
    """One WhatsApp connection's adapter. Construct with its config and an HttpClient."""

    kind: ClassVar[str]
    config_class: ClassVar[type[GatewayConfig]]
    # Messages per second this kind tolerates by default (None: unlimited).
    default_rate_per_second: ClassVar[float | None] = 1.0
    # Whether free text needs a customer message in the last 24 hours (Cloud API).
    has_service_window: ClassVar[bool] = False

    def __init__(self, config: GatewayConfig, http: HttpClient | None = None) -> None:
        self.config = config
        self.http = http or self.make_http(config)

    @classmethod
    def make_http(cls, config: GatewayConfig) -> HttpClient:
        secrets = tuple(str(getattr(config, name) or "") for name in config.secret_fields)
        return HttpClient(base_url=str(getattr(config, "base_url", "") or ""), secrets=secrets)

    @abstractmethod
    def send_text(self, to: str, text: str, *, quoted_id: str = "") -> SendResult:
        """Send text to a chat id or an E.164 number."""

    @abstractmethod
    def send_media(
        self, to: str, url: str, *, caption: str = "", mimetype: str = "", filename: str = ""
    ) -> SendResult:
        """Send a media file the gateway downloads from `url`."""

    @abstractmethod
    def verify_webhook(self, request: WebhookRequest, url_secret_ok: bool) -> None:
        """Raise WebhookRejected(403) unless the request is authentic.

        `url_secret_ok` tells whether the secret in the URL matched (the view checks it with a
        constant-time comparison); gateways without signatures rely on it alone.
        """

    @abstractmethod
    def parse_webhook(self, body: bytes) -> list[InboundEvent]:
        """Every event in the body; WebhookRejected(400) for malformed JSON or unknown shape."""

    def verification_challenge(self, request: WebhookRequest) -> str | None:
        """The answer to a GET verification handshake (Cloud API), or None if not one."""
        return None

    # Session lifecycle: gateways without one answer "connected".
    def session(self) -> SessionInfo:
        return SessionInfo(ConnectionState("connected"))

    def connect(self, webhook_url: str) -> SessionInfo:
        """Create/start the session, register our webhook, and return its state and QR."""
        return self.session()

    def restart(self, webhook_url: str = "") -> SessionInfo:
        """Restart the session; gateways that set the webhook on start need its URL."""
        return self.session()

    def logout(self) -> None:
        return None
