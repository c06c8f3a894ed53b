"""A local Evolution API v2 for tests: real HTTP on a free port, in a thread.

Use the `fake_evolution` fixture (import it into a conftest.py or the test module):

    from ispdesk.testing.fakes import fake_evolution  # noqa: F401

    def test_it_sends(fake_evolution):
        gateway = registry.build("evolution", fake_evolution.config())
        gateway.send_text("+5491123456789", "hola")
        assert fake_evolution.accepted[0]["text"] == "hola"

It starts with one instance, `fake_evolution.instance` ("isp1"), connected ("open"). Every
route needs the `apikey` header: the global `fake_evolution.api_key` or the instance's
`hash` (`fake_evolution.instances["isp1"].token`); else 401. Routes (PROTOCOLS.md):
- `POST /instance/create` → 201 (qrcode: true leaves it "connecting" with a QR); an existing
  name → 403 "This name … is already in use.".
- `POST /webhook/set/<i>` needs the nested `{"webhook": {"enabled", "url", …}}` (a flat body
  → 400); stored in `fake_evolution.instances[i].webhook`.
- `GET /instance/connect/<i>` (QR `{pairingCode, code, base64, count}`; a closed instance
  starts connecting; an open one answers its state), `GET /instance/connectionState/<i>`,
  `POST /instance/restart/<i>`, `DELETE /instance/logout/<i>` (400 when not connected).
- `POST /message/sendText/<i>` and `/message/sendMedia/<i>` → 201 `{key: {remoteJid, fromMe,
  id}, …}`; accepted bodies, with their "id" (key.id) and "remote_jid", are in
  `fake_evolution.accepted`. Numbers in `fake_evolution.unknown_numbers` answer 400
  `exists: false`; `54` + 10 digits resolves to the `549…` JID, as WhatsApp does; an
  instance that is not open answers 400 "Connection Closed".
- Unknown instance → 404 "The "x" instance does not exist"; unknown route → 404.
`fake_evolution.scan_qr()` connects an instance waiting for its QR.

Requests: `fake_evolution.requests` (RecordedRequest: method, path, query, lower-cased
headers, raw body, json), `requests_to(suffix, method=None)`, `paths()` ("POST /x/y" list),
`wait_for_messages(n)` for n accepted sends.

Failures: `fake_evolution.fail_next(name, times=1, retry_after=None, path="")` answers the
next send calls (or the next calls whose path contains `path`; "/" = any) with one of
`FAILURES`: "unknown_number" (400 exists:false), "unauthorized" (401), "session_down" (404
instance missing), "connection_closed" (400 "Error: Connection Closed"), "server_error"
(500), "rate_limited" (429; Retry-After when given) or "hang" (no answer until
`release()` or teardown, then 504: use a client timeout shorter than that).
`fake_evolution.gateway(timeout=...)` builds the adapter with a short HTTP timeout.

Webhooks, as Evolution POSTs them (`{"event", "instance", "data", "date_time", "sender",
"server_url", "apikey"}`): the module-level builders `upsert_event`, `update_event`,
`connection_event`, `qrcode_event` make bodies; `fake_evolution.deliver(body, url=None)`
POSTs one to `url` or to the webhook registered for the instance, and returns the answer;
`deliver_text(sender, text, …)` and `deliver_receipt(message_id, status, …)` build and POST.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest

from ispdesk.integrations.whatsapp.base import Gateway
from ispdesk.testing.fakes.server import (
    Answer,
    FakeServer,
    RecordedRequest,
    json_answer,
    serving,
)

API_KEY = "evo-fake-global-key-0123456789abcdef"  # a fake credential
INSTANCE = "isp1"
OWN_JID = "5491155550000@s.whatsapp.net"
SERVER_URL = "http://evolution.invalid"
TIMESTAMP = 1_735_732_800  # 2025-01-01 12:00:00 UTC
# A 1x1 PNG, so QR data URLs are real images.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAA"
    "AABJRU5ErkJggg=="
)
QR_IMAGE = f"data:image/png;base64,{PNG}"
_DIGITS = re.compile(r"^\d+$")
_MEDIA_TYPES = ("image", "video", "audio", "document")


@dataclass
class Instance:
    name: str
    token: str
    state: str = "open"  # open | connecting | close
    webhook: dict[str, Any] | None = None
    qr_count: int = 0
    restarts: int = 0

    def qr(self) -> dict[str, Any]:
        return {
            "pairingCode": None,
            "code": f"2@fake-qr-{self.name}-{self.qr_count},fakekey=,fakeid=",
            "base64": QR_IMAGE,
            "count": self.qr_count,
        }


def _error(status: int, messages: list[Any]) -> Answer:
    names = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    return json_answer(
        status,
        {
            "status": status,
            "error": names.get(status, "Internal Server Error"),
            "response": {"message": messages},
        },
    )


class FakeEvolution(FakeServer):
    name: ClassVar[str] = "fake-evolution"
    failures: ClassVar[tuple[str, ...]] = (
        "unknown_number",
        "unauthorized",
        "session_down",
        "connection_closed",
        "server_error",
        "rate_limited",
    )
    send_path_parts: ClassVar[tuple[str, ...]] = ("/message/send",)

    def __init__(self, api_key: str = API_KEY, instance: str = INSTANCE) -> None:
        super().__init__()
        self.api_key = api_key
        self.instance = instance
        self.instances: dict[str, Instance] = {
            instance: Instance(instance, token=f"{instance.upper()}-INSTANCE-TOKEN")
        }
        # Digits of numbers without WhatsApp.
        self.unknown_numbers: set[str] = set()

    def config(self, **overrides: Any) -> dict[str, Any]:
        """An `evolution` connection config pointing at this server."""
        return {
            "base_url": self.url,
            "api_key": self.api_key,
            "instance": self.instance,
            **overrides,
        }

    def gateway(self, *, timeout: float = 5.0, **overrides: Any) -> Gateway:
        """The Evolution adapter for this server, with a short HTTP timeout."""
        from ispdesk.integrations.whatsapp.evolution import EvolutionConfig, EvolutionGateway

        config = EvolutionConfig.model_validate(self.config(**overrides))
        http = EvolutionGateway.make_http(config)
        http.timeout = timeout
        return EvolutionGateway(config, http)

    def scan_qr(self, instance: str | None = None) -> None:
        """The phone scanned the QR: the instance is open."""
        with self._changed:
            self.instances[instance or self.instance].state = "open"

    def webhook_url(self, instance: str | None = None) -> str:
        """The URL registered with webhook/set (or instance/create), or ""."""
        with self._changed:
            webhook = self.instances[instance or self.instance].webhook or {}
            return str(webhook.get("url") or "") if webhook.get("enabled", True) else ""

    # ---- webhooks ----------------------------------------------------------------------------

    def deliver(self, body: dict[str, Any] | bytes, url: str | None = None) -> httpx.Response:
        target = url or self.webhook_url()
        if not target:
            raise RuntimeError("no webhook URL: pass url= or register one with webhook/set")
        return self.post_webhook(target, body)

    def deliver_text(
        self, sender: str, text: str, *, url: str | None = None, **fields: Any
    ) -> httpx.Response:
        return self.deliver(upsert_event(sender, text, instance=self.instance, **fields), url)

    def deliver_receipt(
        self, message_id: str, status: str, *, remote_jid: str, url: str | None = None
    ) -> httpx.Response:
        body = update_event(message_id, status, remote_jid=remote_jid, instance=self.instance)
        return self.deliver(body, url)

    # ---- serving -----------------------------------------------------------------------------

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        number = (
            str((request.json or {}).get("number", "")) if isinstance(request.json, dict) else ""
        )
        if name == "unknown_number":
            return _error(400, [{"jid": _jid(number), "exists": False, "number": number}])
        if name == "unauthorized":
            return _error(401, ["Unauthorized"])
        if name == "session_down":
            return _error(404, [f'The "{self.instance}" instance does not exist'])
        if name == "connection_closed":
            return _error(400, ["Error: Connection Closed"])
        if name == "rate_limited":
            return json_answer(429, {"status": 429, "error": "Too Many Requests"})
        return _error(500, ["Error: Internal Server Error"])

    def route(self, request: RecordedRequest) -> Answer:
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["instance", "create"]:
            return self._create(request)
        if len(parts) != 3:
            return _error(404, [f"Cannot {request.method} {request.path}"])
        controller, action, name = parts
        with self._changed:
            instance = self.instances.get(name)
            if instance is None:
                return _error(404, [f'The "{name}" instance does not exist'])
            if request.headers.get("apikey") not in (self.api_key, instance.token):
                return _error(401, ["Unauthorized"])
            handler = _ROUTES.get((request.method, controller, action))
            if handler is None:
                return _error(404, [f"Cannot {request.method} {request.path}"])
            return handler(self, instance, request)

    def _create(self, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        name = body.get("instanceName")
        with self._changed:
            if request.headers.get("apikey") != self.api_key:
                return _error(401, ["Unauthorized"])
            if not isinstance(name, str) or not name:
                return _error(400, [['instance requires property "instanceName"']])
            if name in self.instances:
                return _error(403, [f'This name "{name}" is already in use.'])
            if body.get("integration", "WHATSAPP-BAILEYS") != "WHATSAPP-BAILEYS":
                return _error(400, ["Invalid integration"])
            instance = Instance(name, token=f"{name.upper()}-INSTANCE-TOKEN", state="close")
            webhook = body.get("webhook")
            instance.webhook = webhook if isinstance(webhook, dict) else None
            qr = None
            if body.get("qrcode"):
                instance.state = "connecting"
                instance.qr_count = 1
                qr = instance.qr()
            self.instances[name] = instance
        return json_answer(
            201,
            {
                "instance": {
                    "instanceName": name,
                    "instanceId": f"fake-{name}-id",
                    "integration": "WHATSAPP-BAILEYS",
                    "webhookWaBusiness": None,
                    "accessTokenWaBusiness": "",
                    "status": "created",
                },
                "hash": instance.token,
                "webhook": {
                    "webhookUrl": (instance.webhook or {}).get("url"),
                    "webhookByEvents": (instance.webhook or {}).get("byEvents", False),
                    "webhookBase64": (instance.webhook or {}).get("base64", False),
                },
                "settings": {"rejectCall": False, "groupsIgnore": False, "alwaysOnline": False},
                "qrcode": qr,
            },
        )

    def _set_webhook(self, instance: Instance, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        webhook = body.get("webhook")
        if not isinstance(webhook, dict):
            return _error(400, [['instance requires property "webhook"']])
        if not isinstance(webhook.get("url"), str) or not isinstance(webhook.get("enabled"), bool):
            return _error(400, [['webhook requires property "url" and "enabled"']])
        instance.webhook = webhook
        return json_answer(
            201,
            {
                "id": f"fake-webhook-{instance.name}",
                "url": webhook["url"],
                "headers": webhook.get("headers"),
                "enabled": webhook["enabled"],
                "events": webhook.get("events", []),
                "webhookByEvents": webhook.get("byEvents", False),
                "webhookBase64": webhook.get("base64", False),
                "instanceId": f"fake-{instance.name}-id",
            },
        )

    def _connect(self, instance: Instance, request: RecordedRequest) -> Answer:
        if instance.state == "open":
            return json_answer(200, _state(instance))
        if instance.state == "close":
            instance.state = "connecting"
            instance.qr_count += 1
        return json_answer(200, instance.qr())

    def _connection_state(self, instance: Instance, request: RecordedRequest) -> Answer:
        return json_answer(200, _state(instance))

    def _restart(self, instance: Instance, request: RecordedRequest) -> Answer:
        if instance.state == "close":
            message = f'BadRequestException: The "{instance.name}" instance is not connected'
            return json_answer(200, {"error": True, "message": message})
        instance.restarts += 1
        if instance.state == "connecting":
            instance.qr_count += 1
            return json_answer(200, instance.qr())
        return json_answer(200, _state(instance))

    def _logout(self, instance: Instance, request: RecordedRequest) -> Answer:
        if instance.state == "close":
            return _error(400, [f'The "{instance.name}" instance is not connected'])
        instance.state = "close"
        return json_answer(
            200,
            {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}},
        )

    def _send_text(self, instance: Instance, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        if not isinstance(body.get("text"), str) or not body["text"]:
            return _error(400, [['instance requires property "text"']])
        return self._send(instance, body, "conversation", {"conversation": body["text"]})

    def _send_media(self, instance: Instance, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        kind = body.get("mediatype")
        if kind not in _MEDIA_TYPES:
            return _error(400, ["Invalid media type"])
        if not isinstance(body.get("media"), str) or not body["media"]:
            return _error(400, ['instance requires property "media"'])
        content = {"url": body["media"], "mimetype": body.get("mimetype", "")}
        if body.get("caption"):
            content["caption"] = body["caption"]
        message_type = f"{kind}Message"
        return self._send(instance, body, message_type, {message_type: content})

    def _send(
        self, instance: Instance, body: dict[str, Any], message_type: str, message: dict[str, Any]
    ) -> Answer:
        number = body.get("number")
        if not isinstance(number, str) or not number:
            return _error(400, [['instance requires property "number"']])
        if instance.state != "open":
            return _error(400, ["Error: Connection Closed"])
        jid = _jid(number)
        if jid.split("@")[0] in self.unknown_numbers or number in self.unknown_numbers:
            return _error(400, [{"jid": jid, "exists": False, "number": number}])
        message_id = f"3EB0{self.next_number():018X}"
        self.accept({**body, "remote_jid": jid}, message_id)
        quoted = body.get("quoted")
        context = None
        if isinstance(quoted, dict) and isinstance(quoted.get("key"), dict):
            context = {
                "stanzaId": quoted["key"].get("id"),
                "participant": jid,
                "quotedMessage": quoted.get("message"),
            }
        return json_answer(
            201,
            {
                "key": {"remoteJid": jid, "fromMe": True, "id": message_id},
                "pushName": "",
                "status": "PENDING",
                "message": message,
                "contextInfo": context,
                "messageType": message_type,
                "messageTimestamp": TIMESTAMP,
                "instanceId": f"fake-{instance.name}-id",
                "source": "unknown",
            },
        )


_ROUTES = {
    ("POST", "webhook", "set"): FakeEvolution._set_webhook,
    ("GET", "instance", "connect"): FakeEvolution._connect,
    ("GET", "instance", "connectionState"): FakeEvolution._connection_state,
    ("POST", "instance", "restart"): FakeEvolution._restart,
    ("DELETE", "instance", "logout"): FakeEvolution._logout,
    ("POST", "message", "sendText"): FakeEvolution._send_text,
    ("POST", "message", "sendMedia"): FakeEvolution._send_media,
}


def _state(instance: Instance) -> dict[str, Any]:
    return {"instance": {"instanceName": instance.name, "state": instance.state}}


def _jid(number: str) -> str:
    """The JID WhatsApp resolves a `number` to: lids stay lids, AR numbers get their 9."""
    if number.endswith("@lid"):
        return number
    digits = number.split("@")[0]
    if _DIGITS.match(digits) and len(digits) == 12 and digits.startswith("54") and digits[2] != "9":
        digits = "549" + digits[2:]
    return f"{digits}@s.whatsapp.net"


# ---- webhook builders ------------------------------------------------------------------------


def _chat_jid(sender: str) -> str:
    """`+5491123456789` → `5491123456789@s.whatsapp.net`; JIDs as given."""
    if "@" in sender:
        return sender
    return f"{sender.lstrip('+')}@s.whatsapp.net"


def envelope(event: str, data: Any, *, instance: str = INSTANCE) -> dict[str, Any]:
    """An Evolution webhook body around `data`."""
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": "https://ispdesk.invalid/hooks/whatsapp/secret/",
        "date_time": "2025-01-01T09:00:00.000Z",
        "sender": OWN_JID,
        "server_url": SERVER_URL,
        "apikey": f"{instance.upper()}-INSTANCE-TOKEN",
    }


_upserts = itertools.count(1)


def upsert_event(
    sender: str,
    text: str,
    *,
    instance: str = INSTANCE,
    message_id: str | None = None,
    name: str = "Cliente",
    from_me: bool = False,
    phone_alt: str = "",
    extended: bool = False,
    timestamp: int = TIMESTAMP,
) -> dict[str, Any]:
    """A `messages.upsert` text message from `sender` (E.164 or a JID, e.g. a `…@lid`).

    `phone_alt` (E.164) adds `key.remoteJidAlt` as Evolution does for `@lid` senders;
    `extended` sends the text as `extendedTextMessage` instead of `conversation`.
    """
    key: dict[str, Any] = {
        "remoteJid": _chat_jid(sender),
        "fromMe": from_me,
        "id": message_id or f"3A{next(_upserts):018X}",
    }
    if phone_alt:
        key["remoteJidAlt"] = _chat_jid(phone_alt)
        key["addressingMode"] = "lid"
    message: dict[str, Any] = (
        {"extendedTextMessage": {"text": text}} if extended else {"conversation": text}
    )
    return envelope(
        "messages.upsert",
        {
            "key": key,
            "pushName": name,
            "status": "DELIVERY_ACK",
            "message": message,
            "messageType": "extendedTextMessage" if extended else "conversation",
            "messageTimestamp": timestamp,
            "instanceId": f"fake-{instance}-id",
            "source": "android",
        },
        instance=instance,
    )


def update_event(
    message_id: str, status: str, *, remote_jid: str, instance: str = INSTANCE
) -> dict[str, Any]:
    """A `messages.update` receipt (SERVER_ACK, DELIVERY_ACK, READ, PLAYED, ERROR, …)."""
    return envelope(
        "messages.update",
        {
            "messageId": f"fake-row-{message_id}",
            "keyId": message_id,
            "remoteJid": _chat_jid(remote_jid),
            "fromMe": True,
            "participant": _chat_jid(remote_jid),
            "status": status,
            "instanceId": f"fake-{instance}-id",
        },
        instance=instance,
    )


def connection_event(
    state: str, *, instance: str = INSTANCE, status_reason: int = 200
) -> dict[str, Any]:
    """A `connection.update` (open, connecting, close, refused)."""
    return envelope(
        "connection.update",
        {"instance": instance, "wuid": OWN_JID, "state": state, "statusReason": status_reason},
        instance=instance,
    )


def qrcode_event(*, instance: str = INSTANCE, code: str = "2@fake-qr") -> dict[str, Any]:
    """A `qrcode.updated` with a PNG data URL."""
    return envelope(
        "qrcode.updated",
        {"qrcode": {"instance": instance, "pairingCode": None, "code": code, "base64": QR_IMAGE}},
        instance=instance,
    )


@contextmanager
def serving_fake_evolution(**settings: Any) -> Iterator[FakeEvolution]:
    """Serve a FakeEvolution on a free port until the block ends."""
    with serving(FakeEvolution(**settings)) as fake:
        yield fake


@pytest.fixture
def fake_evolution() -> Iterator[FakeEvolution]:
    with serving_fake_evolution() as fake:
        yield fake


__all__ = [
    "FakeEvolution",
    "connection_event",
    "envelope",
    "fake_evolution",
    "qrcode_event",
    "serving_fake_evolution",
    "update_event",
    "upsert_event",
]
