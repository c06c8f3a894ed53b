"""A local WPPConnect Server for tests: real HTTP on a free port, in a thread.

Use the `fake_wppconnect` fixture (import it into a conftest.py or the test module):

    from ispdesk.testing.fakes import fake_wppconnect  # noqa: F401

    def test_it_sends(fake_wppconnect):
        gateway = registry.build("wppconnect", fake_wppconnect.config())
        gateway.send_text("+5491123456789", "hola")
        assert fake_wppconnect.accepted[0]["message"] == "hola"

It starts with one session, `fake_wppconnect.session` ("isp1"), CONNECTED. Routes
(PROTOCOLS.md):
- `POST /api/<s>/<secret>/generate-token` → 201 `{status, session, token, full}`; a wrong
  secret → 400 "The SECRET_KEY is incorrect". Tokens issued are in
  `fake_wppconnect.tokens`; `revoke_tokens()` forgets them (the next call gets 401).
- Every other route needs `Authorization: Bearer <token>` for that session, else 401.
- `POST /api/<s>/start-session` `{webhook, waitQrCode}`: a CLOSED session goes to
  `fake_wppconnect.start_state` ("QRCODE" by default; "CONNECTED" emulates a saved login)
  and keeps the webhook; a running one answers its state and keeps its old webhook, as the
  real server does. `GET status-session` → `{status, qrcode (data URL), urlcode, version}`;
  `GET check-connection-session`; `POST close-session` (CLOSED, webhook forgotten);
  `POST logout-session` (404 when not connected).
- `POST /api/<s>/send-message` `{phone, message, isGroup, isLid?, options.quotedMsg?}` and
  `POST send-file` `{phone, path, filename, caption}` → 201 `{"status":"success","response":
  [message]}`, the id a string (`true_549…@c.us_3EB0…`) or, with `id_style = "object"`, an
  object with `_serialized`. Accepted bodies, with their "id" and "to", are in `accepted`.
  Numbers in `unknown_numbers` → 400; a session not CONNECTED → 404 `{"status":
  "Disconnected"}`; `54` + 10 digits resolves to the `549…` chat, as WhatsApp does.
- `GET /api/<s>/contact/pn-lid/<lid>` answers from `fake_wppconnect.lid_phones` ({lid JID:
  phone digits}); unknown → 404.
`fake_wppconnect.scan_qr()` connects a session waiting for its QR.

Requests: `requests`, `requests_to(suffix, method=None)`, `paths()`, `wait_for_messages(n)`.
Failures: `fail_next(name, times=1, retry_after=None, path="")` answers the next send calls
(or calls whose path contains `path`; "/" = any) with one of `FAILURES`: "unknown_number"
(400), "unauthorized" (401, as for a bad token), "session_down" (404 Disconnected),
"server_error" (500), "rate_limited" (429) or "hang" (no answer until `release()` or
teardown, then 504). `gateway(timeout=...)` builds the adapter with a short HTTP timeout.

Webhooks, as WPPConnect POSTs them (one event per POST, fields at the top level): the
module-level builders `onmessage_event`, `onack_event`, `qrcode_event`, `status_find_event`
make bodies; `deliver(body, url=None)` POSTs one to `url` or to the session's webhook and
returns the answer; `deliver_text(sender, text, …)` and `deliver_ack(message_id, ack, …)`
build and POST.
"""

from __future__ import annotations

import itertools
import re
import secrets
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

SECRET_KEY = "wpp-fake-secret-0123456789abcdef"  # noqa: S105 - a fake credential
SESSION = "isp1"
OWN_ID = "5491155550000@c.us"
TIMESTAMP = 1_735_732_800  # 2025-01-01 12:00:00 UTC
VERSION = "2.8.6"
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAA"
    "AABJRU5ErkJggg=="
)
_WORD = re.compile(r"[^\w ]")
_SECRET_IN_PATH = re.compile(r"(/api/[^/\s]+/)[^/\s]+(/generate-token)")
_DISCONNECTED = {
    "response": None,
    "status": "Disconnected",
    "message": "A sessão do WhatsApp não está ativa.",
}


@dataclass
class Session:
    name: str
    status: str | None = "CONNECTED"  # None (never started), CLOSED, QRCODE, CONNECTED…
    webhook: str = ""
    qr_count: int = 0

    @property
    def urlcode(self) -> str:
        return f"2@fake-qr-{self.name}-{self.qr_count},fakekey=,fakeid=" if self.qr_count else ""


class FakeWppConnect(FakeServer):
    name: ClassVar[str] = "fake-wppconnect"
    failures: ClassVar[tuple[str, ...]] = (
        "unknown_number",
        "unauthorized",
        "session_down",
        "server_error",
        "rate_limited",
    )
    send_path_parts: ClassVar[tuple[str, ...]] = ("/send-message", "/send-file")

    def __init__(self, secret_key: str = SECRET_KEY, session: str = SESSION) -> None:
        super().__init__()
        self.secret_key = secret_key
        self.session = session
        self.sessions: dict[str, Session] = {session: Session(session)}
        self.tokens: dict[str, str] = {}  # token → session
        self.start_state = "QRCODE"
        self.id_style = "string"  # or "object"
        self.unknown_numbers: set[str] = set()
        self.lid_phones: dict[str, str] = {}

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A `wppconnect` connection config pointing at this server."""
        return {
            "base_url": self.url,
            "session": self.session,
            "secret_key": self.secret_key,
            **overrides,
        }

    def gateway(self, *, timeout: float = 5.0, **overrides: Any) -> Gateway:
        """The WPPConnect adapter for this server, with a short HTTP timeout."""
        from ispdesk.integrations.whatsapp.wppconnect import WppConnectConfig, WppConnectGateway

        config = WppConnectConfig.model_validate(self.config(**overrides))
        http = WppConnectGateway.make_http(config)
        http.timeout = timeout
        return WppConnectGateway(config, http)

    def redact_log(self, line: str) -> str:
        return _SECRET_IN_PATH.sub(r"\1***\2", line)

    def revoke_tokens(self) -> None:
        """Forget every issued token: the next authenticated call is answered 401."""
        with self._changed:
            self.tokens.clear()

    def scan_qr(self, session: str | None = None) -> None:
        """The phone scanned the QR: the session is CONNECTED."""
        with self._changed:
            self.sessions[session or self.session].status = "CONNECTED"

    def webhook_url(self, session: str | None = None) -> str:
        with self._changed:
            found = self.sessions.get(session or self.session)
            return found.webhook if found else ""

    # ---- webhooks ----------------------------------------------------------------------------

    def deliver(self, body: dict[str, Any] | bytes, url: str | None = None) -> httpx.Response:
        target = url or self.webhook_url()
        if not target:
            raise RuntimeError("no webhook URL: pass url= or start the session with one")
        return self.post_webhook(target, body)

    def deliver_text(
        self, sender: str, text: str, *, url: str | None = None, **fields: Any
    ) -> httpx.Response:
        return self.deliver(onmessage_event(sender, text, session=self.session, **fields), url)

    def deliver_ack(
        self, message_id: str, ack: int, *, to: str, url: str | None = None
    ) -> httpx.Response:
        return self.deliver(onack_event(message_id, ack, to=to, session=self.session), url)

    # ---- serving -----------------------------------------------------------------------------

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        phone = request.json.get("phone", "") if isinstance(request.json, dict) else ""
        if name == "unknown_number":
            number = str(phone).split("@")[0]
            message = f"O número {number} não existe."
            return json_answer(400, {"response": None, "status": "Connected", "message": message})
        if name == "unauthorized":
            return json_answer(401, {"error": "Check that the Session and Token are correct"})
        if name == "session_down":
            return json_answer(404, _DISCONNECTED)
        if name == "rate_limited":
            return json_answer(429, {"status": "error", "message": "Too many requests"})
        return json_answer(
            500, {"status": "Error", "message": "Error sending the message.", "error": {}}
        )

    def route(self, request: RecordedRequest) -> Answer:
        parts = request.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "api":
            return json_answer(404, {"message": f"Cannot {request.method} {request.path}"})
        session = parts[1]
        if request.method == "POST" and len(parts) == 4 and parts[3] == "generate-token":
            return self._generate_token(session, parts[2])
        header = request.headers.get("authorization", "")
        token = header.split(" ", 1)[1] if " " in header else ""
        if not token:
            return json_answer(
                401, {"message": "Token is not present. Check your header and try again"}
            )
        with self._changed:
            if self.tokens.get(token) != session:
                return json_answer(401, {"error": "Check that the Session and Token are correct"})
            state = self.sessions.setdefault(session, Session(session, status=None))
            action = "/".join(parts[2:])
            if action.startswith("contact/pn-lid/") and request.method == "GET":
                return self._pn_lid(action.removeprefix("contact/pn-lid/"))
            handler = _ROUTES.get((request.method, action))
            if handler is None:
                return json_answer(404, {"message": f"Cannot {request.method} {request.path}"})
            return handler(self, state, request)

    def _generate_token(self, session: str, secret: str) -> Answer:
        if secret != self.secret_key:
            return json_answer(400, {"response": False, "message": "The SECRET_KEY is incorrect"})
        token = "$2b$10$" + secrets.token_urlsafe(40).replace("_", "-")
        with self._changed:
            self.tokens[token] = session
        return json_answer(
            201,
            {"status": "success", "session": session, "token": token, "full": f"{session}:{token}"},
        )

    def _status(self, session: Session) -> dict[str, Any]:
        if session.status in (None, "CLOSED"):
            return {"status": "CLOSED", "qrcode": None}
        qrcode = f"data:image/png;base64,{PNG}" if session.status == "QRCODE" else None
        return {
            "status": session.status,
            "qrcode": qrcode,
            "urlcode": session.urlcode,
            "version": VERSION,
        }

    def _start(self, session: Session, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        answer = self._status(session)
        if session.status in (None, "CLOSED"):
            # The real server answers the state it had, then starts the browser.
            session.status = self.start_state
            webhook = body.get("webhook")
            session.webhook = webhook if isinstance(webhook, str) else ""
            if self.start_state == "QRCODE":
                session.qr_count += 1
        return json_answer(200, answer)

    def _status_session(self, session: Session, request: RecordedRequest) -> Answer:
        return json_answer(200, self._status(session))

    def _check_connection(self, session: Session, request: RecordedRequest) -> Answer:
        connected = session.status == "CONNECTED"
        return json_answer(
            200, {"status": connected, "message": "Connected" if connected else "Disconnected"}
        )

    def _close(self, session: Session, request: RecordedRequest) -> Answer:
        session.status = "CLOSED"
        session.webhook = ""
        return json_answer(200, {"status": True, "message": "Session successfully closed"})

    def _logout(self, session: Session, request: RecordedRequest) -> Answer:
        if session.status != "CONNECTED":
            return json_answer(404, _DISCONNECTED)
        session.status = "CLOSED"
        session.webhook = ""
        return json_answer(200, {"status": True, "message": "Session successfully closed"})

    def _pn_lid(self, lid: str) -> Answer:
        digits = self.lid_phones.get(lid)
        if digits is None:
            return json_answer(404, {"status": "error", "message": "Contact not found"})
        user = lid.split("@")[0]
        return json_answer(
            200,
            {
                "lid": {"id": user, "server": "lid", "_serialized": lid},
                "phoneNumber": {"id": digits, "server": "c.us", "_serialized": f"{digits}@c.us"},
                "contact": {"name": "Cliente", "pushname": "Cliente"},
            },
        )

    def _send_message(self, session: Session, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        if not isinstance(body.get("message"), str):
            return json_answer(400, "Error sending message")
        return self._send(session, body, "chat", body["message"])

    def _send_file(self, session: Session, request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        if not (body.get("path") or body.get("base64")):
            return json_answer(401, {"message": "Sending the file is mandatory"})
        return self._send(session, body, "image", body.get("caption") or "")

    def _send(self, session: Session, body: dict[str, Any], kind: str, text: str) -> Answer:
        if session.status != "CONNECTED":
            return json_answer(404, _DISCONNECTED)
        phone = body.get("phone")
        if not isinstance(phone, str) or not phone:
            return json_answer(400, "Error sending message")
        to = _chat_id(phone, bool(body.get("isLid")))
        number = to.split("@")[0]
        if to.endswith("@c.us") and number in self.unknown_numbers:
            message = f"O número {number} não existe."
            return json_answer(400, {"response": None, "status": "Connected", "message": message})
        key = f"3EB0{self.next_number():018X}"
        serialized = f"true_{to}_{key}"
        self.accept({**body, "to": to}, serialized)
        message_id: str | dict[str, Any] = serialized
        if self.id_style == "object":
            message_id = {"fromMe": True, "remote": to, "id": key, "_serialized": serialized}
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        return json_answer(
            201,
            {
                "status": "success",
                "response": [
                    {
                        "id": message_id,
                        "ack": 1,
                        "from": OWN_ID,
                        "to": to,
                        "body": text,
                        "type": kind,
                        "t": TIMESTAMP,
                        "fromMe": True,
                        "self": "out",
                        "isNewMsg": True,
                        "quotedMsgId": (options or {}).get("quotedMsg"),
                    }
                ],
                "mapper": "return",
            },
        )


_ROUTES = {
    ("POST", "start-session"): FakeWppConnect._start,
    ("GET", "status-session"): FakeWppConnect._status_session,
    ("GET", "check-connection-session"): FakeWppConnect._check_connection,
    ("POST", "close-session"): FakeWppConnect._close,
    ("POST", "logout-session"): FakeWppConnect._logout,
    ("POST", "send-message"): FakeWppConnect._send_message,
    ("POST", "send-file"): FakeWppConnect._send_file,
}


def _chat_id(phone: str, is_lid: bool) -> str:
    """What the server's contactToArray makes of `phone`, with WhatsApp's AR 9 resolution."""
    contact = _WORD.sub("", phone.split("@")[0])
    if is_lid or len(contact) > 14 or phone.endswith("@lid"):
        return f"{contact}@lid"
    if len(contact) == 12 and contact.startswith("54") and contact[2] != "9":
        contact = "549" + contact[2:]
    return f"{contact}@c.us"


# ---- webhook builders ------------------------------------------------------------------------

_inbound = itertools.count(1)


def _jid(sender: str) -> str:
    """`+5491123456789` → `5491123456789@c.us`; JIDs as given."""
    return sender if "@" in sender else f"{sender.lstrip('+')}@c.us"


def onmessage_event(
    sender: str,
    text: str,
    *,
    session: str = SESSION,
    message_id: str | None = None,
    name: str = "Cliente",
    from_me: bool = False,
    id_style: str = "string",
    timestamp: int = TIMESTAMP,
) -> dict[str, Any]:
    """An `onmessage` text (`type: chat`) from `sender` (E.164 or a JID, e.g. a `…@lid`)."""
    chat = _jid(sender)
    key = f"3A{next(_inbound):018X}"
    serialized = message_id or f"{'true' if from_me else 'false'}_{chat}_{key}"
    identifier: str | dict[str, Any] = serialized
    if id_style == "object":
        identifier = {
            "fromMe": from_me,
            "remote": chat,
            "id": serialized.rsplit("_", 1)[-1],
            "_serialized": serialized,
        }
    return {
        "event": "onmessage",
        "session": session,
        "id": identifier,
        "body": text,
        "type": "chat",
        "t": timestamp,
        "notifyName": name,
        "from": OWN_ID if from_me else chat,
        "to": chat if from_me else OWN_ID,
        "self": "out" if from_me else "in",
        "ack": 1,
        "isNewMsg": True,
        "star": False,
        "isFromTemplate": False,
        "fromMe": from_me,
        "sender": {"id": OWN_ID if from_me else chat, "pushname": name, "isMe": from_me},
        "chatId": chat,
        "isGroupMsg": False,
        "mediaData": {},
    }


def onack_event(message_id: str, ack: int, *, to: str, session: str = SESSION) -> dict[str, Any]:
    """An `onack` for a message we sent (ack -1 failed … 4 played)."""
    chat = _jid(to)
    return {
        "event": "onack",
        "session": session,
        "id": {
            "fromMe": True,
            "remote": chat,
            "id": message_id.rsplit("_", 1)[-1],
            "_serialized": message_id,
        },
        "body": "hola",
        "type": "chat",
        "t": TIMESTAMP,
        "from": OWN_ID,
        "to": chat,
        "self": "out",
        "ack": ack,
        "isNewMsg": False,
    }


def qrcode_event(*, session: str = SESSION) -> dict[str, Any]:
    """A `qrcode` event: the server strips the data-URL prefix from `qrcode`."""
    return {
        "event": "qrcode",
        "session": session,
        "qrcode": PNG,
        "urlcode": f"2@fake-qr-{session},fakekey=,fakeid=",
    }


def status_find_event(status: str, *, session: str = SESSION) -> dict[str, Any]:
    """A `status-find` event (isLogged, notLogged, qrReadSuccess, browserClose, …)."""
    return {"event": "status-find", "session": session, "status": status}


@contextmanager
def serving_fake_wppconnect(**settings: Any) -> Iterator[FakeWppConnect]:
    """Serve a FakeWppConnect on a free port until the block ends."""
    with serving(FakeWppConnect(**settings)) as fake:
        yield fake


@pytest.fixture
def fake_wppconnect() -> Iterator[FakeWppConnect]:
    with serving_fake_wppconnect() as fake:
        yield fake


__all__ = [
    "FakeWppConnect",
    "fake_wppconnect",
    "onack_event",
    "onmessage_event",
    "qrcode_event",
    "serving_fake_wppconnect",
    "status_find_event",
]
