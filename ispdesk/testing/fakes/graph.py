"""A local Graph API (WhatsApp Cloud API) for tests: real HTTP on a free port, in a thread.

Use the `fake_graph` fixture (import it into a conftest.py or the test module):

    from ispdesk.testing.fakes.graph import fake_graph, text_message  # noqa: F401

    def test_it_sends(fake_graph):
        gateway = registry.build("meta_cloud", fake_graph.config())
        gateway.send_text("+5491123456789", "hola")
        assert fake_graph.accepted[0]["text"]["body"] == "hola"

Endpoints (all need `Authorization: Bearer <fake_graph.access_token>`, else 401 code 190):
- `POST /<version>/<phone_number_id>/messages`: validates the body like Graph does (code 100
  when malformed) and answers `{"messaging_product","contacts":[{"input","wa_id"}],
  "messages":[{"id":"wamid.…"}]}`; accepted bodies, with their id, are in `fake_graph.accepted`.
- `GET /<version>/<phone_number_id>`: `{"verified_name","display_phone_number","id",…}`.
- Anything else is recorded and answered 404, so a webhook POSTed at the fake is recorded too.
Every request is in `fake_graph.requests` (method, path, query, lower-cased headers, raw body,
JSON); `fake_graph.wait_for_messages(n)` waits (with a deadline) for n accepted sends.

Failures: `fake_graph.fail_next(name, times=1, retry_after=None)` answers the next calls with
one of `FAILURES`: "window_closed" (131047), "undeliverable" (131026), "not_allowed" (131030),
"bad_token" (401, code 190), "rate_limited" (130429), "pair_rate_limited" (131056),
"invalid_parameter" (100), "server_error" (HTTP 500 without a Graph body) and "hang" (no
answer until `fake_graph.release()` or teardown: point a client with a short timeout at it).
`fake_graph.allowed_recipients = {"541123456789"}` emulates a test number's allowed list:
sends to any other wa_id fail with 131030.

Webhooks, signed as Meta signs them (compact JSON, non-ASCII and `/` escaped, HMAC-SHA256 of
those exact bytes with the app secret in `X-Hub-Signature-256`):
- `text_message(wa_id, body, ...)` and `status_update(message_id, status, ...)` build items;
  `webhook_payload(messages, statuses, names=...)` wraps them in one entry/change.
- `fake_graph.signed_webhook(messages=[...], statuses=[...], names={wa_id: name})` →
  `(body bytes, headers)`; pass `payload=` (a dict or raw bytes) to sign anything else.
- `fake_graph.post_webhook(url, messages=[...], ...)` POSTs that to a URL (e.g. our
  `/hooks/whatsapp/<secret>/` on a live server) and returns the response.
- `fake_graph.webhook_request(...)` gives the same as a `WebhookRequest` for adapter tests;
  `fake_graph.verification_query(challenge)` the GET handshake's query.
The module-level `meta_body`, `sign`, `signed_webhook` and `post_webhook` take the app secret
explicitly, for use without the server.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from ispdesk.integrations.whatsapp.base import WebhookRequest
from ispdesk.lib.http import HttpClient, HttpResponse
from ispdesk.testing.fakes.server import (
    Answer,
    FakeServer,
    RecordedRequest,
    json_answer,
    serving,
)

logger = logging.getLogger("ispdesk.testing.fake_graph")

API_VERSION = "v22.0"
PHONE_NUMBER_ID = "109876543210987"
WABA_ID = "102938475610293"
DISPLAY_PHONE_NUMBER = "5491155550000"
VERIFIED_NAME = "ISP Demo"
# Fake credentials; tests assert that none of them reaches a log line.
ACCESS_TOKEN = "EAAGfakeAccessToken0123456789abcdefZZ"  # noqa: S105
APP_SECRET = "fake-app-secret-0123456789abcdef"  # noqa: S105
VERIFY_TOKEN = "fake-verify-token-42"  # noqa: S105
_PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)(/messages)?/?$")
_MESSAGE_TYPES = {
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "template",
    "interactive",
    "location",
    "contacts",
    "reaction",
}


@dataclass(frozen=True)
class Failure:
    status: int
    code: int | None  # None: a non-Graph body (a proxy's 500 page)
    message: str
    details: str = ""
    error_type: str = "OAuthException"
    subcode: int | None = None


FAILURES: dict[str, Failure] = {
    "window_closed": Failure(
        400,
        131047,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    "undeliverable": Failure(
        400, 131026, "(#131026) Message undeliverable", "Message Undeliverable."
    ),
    "not_allowed": Failure(
        400,
        131030,
        "(#131030) Recipient phone number not in allowed list",
        "Recipient phone number not in allowed list: Add recipient phone number to recipient "
        "list and try again.",
    ),
    "bad_token": Failure(
        401,
        190,
        "Error validating access token: Session has expired on Friday, 01-Nov-24 10:00:00 PDT.",
        subcode=463,
    ),
    "rate_limited": Failure(
        400, 130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."
    ),
    "pair_rate_limited": Failure(
        400,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    "invalid_parameter": Failure(
        400, 100, "(#100) Invalid parameter", "Parameter value is not valid"
    ),
    "server_error": Failure(500, None, "Internal Server Error"),
}


class FakeGraph(FakeServer):
    """The Graph API endpoints the Cloud API adapter calls (see the module docstring)."""

    name = "fake-graph"
    failures = tuple(FAILURES)
    # A scripted failure answers the next call, whatever its path.
    send_path_parts = ("/",)

    def __init__(
        self,
        *,
        api_version: str = API_VERSION,
        phone_number_id: str = PHONE_NUMBER_ID,
        access_token: str = ACCESS_TOKEN,
        app_secret: str = APP_SECRET,
        verify_token: str = VERIFY_TOKEN,
        allowed_recipients: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.api_version = api_version
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.app_secret = app_secret
        self.verify_token = verify_token
        # wa_ids a test number may send to; None = any.
        self.allowed_recipients = allowed_recipients

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A `meta_cloud` connection config pointing at this server."""
        return {
            "base_url": self.url,
            "api_version": self.api_version,
            "phone_number_id": self.phone_number_id,
            "access_token": self.access_token,
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
            **overrides,
        }

    # --- scripting and assertions -------------------------------------------------------------

    def requests_to(self, suffix: str, method: str | None = "POST") -> list[RecordedRequest]:
        """Recorded requests whose path ends with `suffix`; POSTs unless told otherwise."""
        return super().requests_to(suffix, method)

    # --- webhooks -----------------------------------------------------------------------------

    def signed_webhook(
        self,
        messages: Sequence[dict[str, Any]] = (),
        statuses: Sequence[dict[str, Any]] = (),
        *,
        names: Mapping[str, str] | None = None,
        payload: dict[str, Any] | bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        if payload is None:
            payload = webhook_payload(
                messages, statuses, names=names, phone_number_id=self.phone_number_id
            )
        return signed_webhook(payload, self.app_secret)

    def webhook_request(
        self,
        messages: Sequence[dict[str, Any]] = (),
        statuses: Sequence[dict[str, Any]] = (),
        *,
        names: Mapping[str, str] | None = None,
        payload: dict[str, Any] | bytes | None = None,
    ) -> WebhookRequest:
        body, headers = self.signed_webhook(messages, statuses, names=names, payload=payload)
        return WebhookRequest("POST", body, headers, {})

    # Signed for Meta, so it takes messages and statuses rather than a ready body.
    def post_webhook(  # type: ignore[override]
        self,
        url: str,
        messages: Sequence[dict[str, Any]] = (),
        statuses: Sequence[dict[str, Any]] = (),
        *,
        names: Mapping[str, str] | None = None,
        payload: dict[str, Any] | bytes | None = None,
        timeout: float = 10.0,
    ) -> HttpResponse:
        body, headers = self.signed_webhook(messages, statuses, names=names, payload=payload)
        return _post(url, body, headers, timeout)

    def verification_query(self, challenge: str = "1158201444") -> dict[str, str]:
        return {
            "hub.mode": "subscribe",
            "hub.verify_token": self.verify_token,
            "hub.challenge": challenge,
        }

    # --- serving ------------------------------------------------------------------------------

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        return _graph_error(FAILURES[name])

    def route(self, request: RecordedRequest) -> Answer:
        match = _PATH.match(request.path)
        if not match:
            return _graph_error(Failure(404, 100, f"Unknown path {request.path}"))
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return _graph_error(
                Failure(401, 190, "Invalid OAuth access token - Cannot parse access token")
            )
        _version, number_id, messages = match.groups()
        if number_id != self.phone_number_id:
            return _graph_error(
                Failure(
                    400,
                    100,
                    f"Unsupported get request. Object with ID '{number_id}' does not exist",
                    error_type="GraphMethodException",
                    subcode=33,
                )
            )
        if messages and request.method == "POST":
            return self._send(request.json)
        if not messages and request.method == "GET":
            fields = request.query.get("fields", "display_phone_number,verified_name").split(",")
            number = {
                "verified_name": VERIFIED_NAME,
                "display_phone_number": "+54 9 11 5555-0000",
                "quality_rating": "GREEN",
                "id": self.phone_number_id,
            }
            return json_answer(200, {k: v for k, v in number.items() if k in fields or k == "id"})
        return _graph_error(Failure(400, 100, f"Unsupported {request.method} request"))

    def _send(self, body: Any) -> Answer:
        problem = _invalid_message(body)
        if problem:
            return _graph_error(Failure(400, 100, "(#100) Invalid parameter", problem))
        to = body["to"]
        if self.allowed_recipients is not None and to not in self.allowed_recipients:
            return _graph_error(FAILURES["not_allowed"])
        message_id = f"wamid.FAKE{self.next_number():08d}"
        self.accept(body, message_id)
        answer: dict[str, Any] = {"id": message_id}
        if body["type"] == "template":
            answer["message_status"] = "accepted"
        return json_answer(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [answer],
            },
        )


def _invalid_message(body: Any) -> str:
    """Why Graph would reject this send body, or ""."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if not isinstance(body.get("to"), str) or not body["to"].isdigit():
        return "to must be a phone number"
    kind = body.get("type", "text")
    content = body.get(kind)
    if kind not in _MESSAGE_TYPES or not isinstance(content, dict):
        return f"a {kind!r} object is required"
    if kind == "text" and not content.get("body"):
        return "text.body is required"
    if kind in ("image", "audio", "video", "document", "sticker") and not (
        content.get("link") or content.get("id")
    ):
        return f"{kind}.link or {kind}.id is required"
    if kind == "audio" and "caption" in content:
        return "audio does not take a caption"
    if kind == "template" and not (
        content.get("name") and isinstance(content.get("language"), dict)
    ):
        return "template.name and template.language.code are required"
    context = body.get("context")
    if context is not None and not (isinstance(context, dict) and context.get("message_id")):
        return "context.message_id is required"
    return ""


def _graph_error(failure: Failure) -> Answer:
    if failure.code is None:
        return failure.status, {"Content-Type": "text/html"}, failure.message.encode()
    error: dict[str, Any] = {
        "message": failure.message,
        "type": failure.error_type,
        "code": failure.code,
        "fbtrace_id": "AbCdEfGhIjKlMnOp",
    }
    if failure.subcode is not None:
        error["error_subcode"] = failure.subcode
    if failure.details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": failure.details}
    return json_answer(failure.status, {"error": error})


@contextmanager
def serving_fake_graph(**settings: Any) -> Iterator[FakeGraph]:
    """Serve a FakeGraph on a free port until the block ends."""
    with serving(FakeGraph(**settings)) as fake:
        yield fake


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    with serving_fake_graph() as fake:
        yield fake


# --- webhook builders -----------------------------------------------------------------------

_inbound_ids = itertools.count(1)


def text_message(
    wa_id: str,
    body: str,
    *,
    message_id: str | None = None,
    timestamp: int = 1_735_732_800,
    quoted_id: str = "",
) -> dict[str, Any]:
    """One inbound text message as the Cloud API sends it."""
    message: dict[str, Any] = {
        "from": wa_id,
        "id": message_id or f"wamid.IN{next(_inbound_ids):012d}",
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
    }
    if quoted_id:
        message["context"] = {"from": DISPLAY_PHONE_NUMBER, "id": quoted_id}
    return message


def status_update(
    message_id: str,
    status: str,
    *,
    recipient_id: str,
    timestamp: int = 1_735_732_800,
    error_code: int | None = None,
    error_title: str = "",
    error_details: str = "",
) -> dict[str, Any]:
    """One status receipt (sent, delivered, read, failed) as the Cloud API sends it."""
    update: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient_id,
    }
    if error_code is not None:
        update["errors"] = [
            {
                "code": error_code,
                "title": error_title,
                "message": error_title,
                "error_data": {"details": error_details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return update


def webhook_payload(
    messages: Sequence[Any] = (),
    statuses: Sequence[Any] = (),
    *,
    names: Mapping[str, str] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_phone_number: str = DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """A `messages` webhook with one entry and change; `names` gives senders' profile names.

    Items are used as given (any JSON), so tests can build malformed ones too.
    """
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    senders = dict.fromkeys(m.get("from") for m in messages if isinstance(m, dict))
    contacts = [
        {"profile": {"name": names[wa_id]}, "wa_id": wa_id}
        for wa_id in senders
        if names and isinstance(wa_id, str) and wa_id in names
    ]
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def meta_body(payload: dict[str, Any]) -> bytes:
    """Serialised as Meta sends it: compact, non-ASCII as \\uXXXX and `/` as `\\/`."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    # "/" only occurs inside strings in JSON text, so this is exactly Meta's escaping.
    return text.replace("/", "\\/").encode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed_webhook(
    payload: dict[str, Any] | bytes, app_secret: str
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a webhook POST Meta would send; bytes are signed unchanged."""
    body = payload if isinstance(payload, bytes) else meta_body(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": sign(body, app_secret),
    }
    return body, headers


def post_webhook(
    url: str, payload: dict[str, Any] | bytes, app_secret: str, *, timeout: float = 10.0
) -> HttpResponse:
    body, headers = signed_webhook(payload, app_secret)
    return _post(url, body, headers, timeout)


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpResponse:
    return HttpClient(timeout=timeout).request("POST", url, content=body, headers=headers)
