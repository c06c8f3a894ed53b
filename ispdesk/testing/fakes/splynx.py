"""A local Splynx REST API 2.0 for tests: real HTTP on a free port, in a thread.

Use the `fake_splynx` fixture (import it into a conftest.py or the test module), then
`fake_splynx.client(auth_type=...)` for a `SplynxClient` pointing at it, or
`fake_splynx.settings(...)` for its settings. Protocol facts: PROTOCOLS.md, "Splynx".

- Auth, all three schemes, verified: API key signature (`Splynx-EA (key=…&signature=…&nonce=…)`,
  HMAC-SHA256 checked with the secret, nonces must grow per key), access tokens
  (`POST /api/2.0/admin/auth/tokens` with `auth_type` admin or api_key; refresh with
  `GET …/tokens/<refresh_token>`; `DELETE` logs out) and Basic (`allow_basic`). Anything else
  → 401. `token_lifetime` sets how long access tokens live; `expire_tokens()` makes every
  issued access token invalid now (the server forgot them); `logins` counts logins.
- Data, every value a string as Splynx sends them: `customers`, `tickets`, `messages`,
  `statuses`, `groups`, `types`, `administrators` (dicts id → row); `add_customer(...)`,
  `add_ticket(...)`, `add_administrator(...)` seed rows. Fresh installs' statuses 1 = New …
  3 = Resolved, one group and one type, two administrators.
- Lists honour `limit`/`offset`, `order[field]` and `main_attributes` (equality, `=`, `!=`,
  `<>`, `>=`, `<=`, `>`, `<`, `LIKE`, `IN`, `BETWEEN`). GET 200, POST 201, PUT 202,
  DELETE 204; unknown ids 404; a ticket without a subject 422.
- Failures (`fail_next(name, times=1, retry_after=None, path="")`; by default any API call,
  `path` narrows it): "server_error" (500), "bad_gateway" (502), "rate_limited" (429, with
  Retry-After when given), "unauthorized" (401), "not_json" (200 with an HTML page), "hang"
  (no answer until `release()` or teardown), and "create_then_hang" (the create IS stored, the
  answer never comes: the client times out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import pytest

from ispdesk.integrations.splynx.client import SplynxClient, SplynxSettings
from ispdesk.testing.fakes.server import (
    HANG_LIMIT,
    Answer,
    FakeServer,
    RecordedRequest,
    json_answer,
    serving,
)

API_KEY = "fake-splynx-key-4f1c2e"  # fake credentials
API_SECRET = "fake-splynx-secret-9d8e7f6a5b"  # noqa: S105
LOGIN = "api-admin"
PASSWORD = "fake-splynx-password-31415"  # noqa: S105
PREFIX = "/api/2.0/"
_KEY = re.compile(r"^(main_attributes|additional_attributes)\[([^\]]+)\](.*)$")
_COLLECTIONS = {
    "admin/support/tickets": "tickets",
    "admin/support/ticket-messages": "messages",
    "admin/support/tickets-statuses": "statuses",
    "admin/support/tickets-groups": "groups",
    "admin/support/tickets-types": "types",
    "admin/customers/customer": "customers",
    "admin/administration/administrators": "administrators",
}
_TICKET_DEFAULTS = {
    "customer_id": "0",
    "subject": "",
    "priority": "medium",
    "status_id": "1",
    "group_id": "0",
    "type_id": "0",
    "assign_to": "0",
    "closed": "0",
    "trash": "0",
    "unread_by_admin": "1",
    "unread_by_customer": "0",
    "reporter_type": "admin",
    "reporter_id": "0",
    "note": "",
    "source": "api",
}


def _now_text() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _error(status: int, message: str) -> Answer:
    return json_answer(status, {"error": {"message": message, "code": status}})


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(actual: str, op: str, wanted: Any) -> bool:
    if op == "LIKE":
        return str(wanted).lower() in actual.lower()
    if op == "IN":
        return actual in [str(item) for item in wanted]
    if op == "BETWEEN":
        low, high = wanted
        return _compare(actual, ">=", low) and _compare(actual, "<=", high)
    left, right = _number(actual), _number(str(wanted))
    # Numbers compare as numbers; dates in Splynx's layout compare as text.
    pair: tuple[Any, Any] = (
        (left, right)
        if left is not None and right is not None
        else (
            actual,
            str(wanted),
        )
    )
    a, b = pair
    return {
        "=": a == b,
        "!=": a != b,
        "<>": a != b,
        ">=": a >= b,
        "<=": a <= b,
        ">": a > b,
        "<": a < b,
    }.get(op, False)


def parse_conditions(query: Mapping[str, str]) -> list[tuple[str, str, Any]]:
    """(field, OP, value) from `main_attributes[...]` query keys (lists for IN/BETWEEN)."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in query.items():
        match = _KEY.match(key)
        if not match:
            continue
        field, rest = match.group(2), match.group(3)
        entry = found.setdefault(field, {"op": "=", "value": None, "items": {}})
        if rest == "":
            entry["value"] = value
        elif rest == "[0]":
            entry["op"] = value.upper()
        elif rest == "[1]":
            entry["value"] = value
        elif (item := re.match(r"^\[1\]\[(\d+)\]$", rest)) is not None:
            entry["items"][int(item.group(1))] = value
    conditions = []
    for field, entry in found.items():
        wanted: Any = [entry["items"][i] for i in sorted(entry["items"])] or entry["value"]
        conditions.append((field, entry["op"], wanted if wanted is not None else ""))
    return conditions


class FakeSplynx(FakeServer):
    name: ClassVar[str] = "fake-splynx"
    failures: ClassVar[tuple[str, ...]] = (
        "server_error",
        "bad_gateway",
        "rate_limited",
        "unauthorized",
        "not_json",
        "create_then_hang",
    )
    send_path_parts: ClassVar[tuple[str, ...]] = (PREFIX,)

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        login: str = LOGIN,
        password: str = PASSWORD,
        token_lifetime: float = 3600,
        refresh_lifetime: float = 86400,
        allow_basic: bool = True,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.login = login
        self.password = password
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.allow_basic = allow_basic
        self.logins = 0
        self.refreshes = 0
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, float] = {}
        self.last_nonce: dict[str, int] = {}
        # Every token ever issued, so the fake's own log lines can hide them too.
        self.issued: list[str] = []
        self._row_ids = itertools.count(1000)
        self.customers: dict[int, dict[str, str]] = {}
        self.tickets: dict[int, dict[str, str]] = {}
        self.messages: dict[int, dict[str, str]] = {}
        self.statuses = self._rows(
            "title_for_agent", ["New", "Work in progress", "Resolved", "Waiting on customer"]
        )
        self.groups = self._rows("title", ["Soporte técnico"])
        self.types = self._rows("title", ["Incidencia"])
        self.administrators: dict[int, dict[str, str]] = {}
        self.add_administrator(name="Ana Pérez", login="ana")
        self.add_administrator(name="Juan Gómez", login="juan")

    @staticmethod
    def _rows(title_field: str, titles: list[str]) -> dict[int, dict[str, str]]:
        return {
            number: {"id": str(number), title_field: title}
            for number, title in enumerate(titles, start=1)
        }

    # ---- seeding and helpers -----------------------------------------------------------------

    def settings(self, auth_type: str = "api_key", **overrides: Any) -> SplynxSettings:
        values: dict[str, Any] = {
            "base_url": self.url,
            "auth_type": auth_type,
            "login": self.login,
            "password": self.password,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "timeout": 2.0,
            "backoff": 0.01,
            **overrides,
        }
        return SplynxSettings(**values)

    def client(self, auth_type: str = "api_key", **overrides: Any) -> SplynxClient:
        return SplynxClient(self.settings(auth_type, **overrides))

    def add_customer(self, **fields: Any) -> dict[str, str]:
        with self._changed:
            number = next(self._row_ids)
            row = {
                "id": str(number),
                "name": f"Cliente {number}",
                "login": f"cli{number}",
                "status": "active",
                "phone": "",
                "email": "",
                "street_1": "",
                "city": "",
                "location_id": "1",
                "partner_id": "1",
                **{name: _text(value) for name, value in fields.items()},
            }
            self.customers[int(row["id"])] = row
            return row

    def add_ticket(self, **fields: Any) -> dict[str, str]:
        with self._changed:
            return self._store_ticket({name: _text(value) for name, value in fields.items()})

    def add_administrator(self, **fields: Any) -> dict[str, str]:
        with self._changed:
            number = len(self.administrators) + 1
            row = {"id": str(number), "name": "", "login": "", "email": "", "role_name": "admin"}
            row.update({name: _text(value) for name, value in fields.items()})
            self.administrators[int(row["id"])] = row
            return row

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (refresh tokens still do)."""
        with self._changed:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def _store_ticket(self, fields: dict[str, str]) -> dict[str, str]:
        number = int(fields.get("id") or next(self._row_ids))
        now = _now_text()
        row = {**_TICKET_DEFAULTS, "created_at": now, "updated_at": now, **fields}
        row["id"] = str(number)
        self.tickets[number] = row
        return row

    def redact_log(self, line: str) -> str:
        for secret in (self.api_secret, self.password, *self.issued):
            line = line.replace(secret, "***")
        return line

    # ---- auth --------------------------------------------------------------------------------

    def _authorized(self, header: str) -> bool:
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except ValueError:
                return False
            return self.allow_basic and decoded == f"{self.api_key}:{self.api_secret}"
        match = re.match(r"^Splynx-EA \((.*)\)$", header)
        if not match:
            return False
        pairs = dict(parse_qsl(match.group(1)))
        if "access_token" in pairs:
            return self.access_tokens.get(pairs["access_token"], 0) > time.time()
        return self._signed(pairs.get("key", ""), pairs.get("signature", ""), pairs.get("nonce"))

    def _signed(self, key: str, signature: str, nonce: Any) -> bool:
        try:
            number = int(nonce)
        except (TypeError, ValueError):
            return False
        expected = hmac.new(
            self.api_secret.encode(), f"{number}{key}".encode(), hashlib.sha256
        ).hexdigest()
        if key != self.api_key or not hmac.compare_digest(expected.upper(), signature):
            return False
        if number <= self.last_nonce.get(key, 0):
            return False  # a replayed or stale nonce
        self.last_nonce[key] = number
        return True

    def _issue_tokens(self) -> Answer:
        self.logins += 1
        now = time.time()
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.issued += [access, refresh]
        self.access_tokens[access] = now + self.token_lifetime
        self.refresh_tokens[refresh] = now + self.refresh_lifetime
        return json_answer(
            201,
            {
                "access_token": access,
                "access_token_expiration": int(now + self.token_lifetime),
                "refresh_token": refresh,
                "refresh_token_expiration": int(now + self.refresh_lifetime),
                "permissions": {},
            },
        )

    def _tokens(self, request: RecordedRequest, rest: str) -> Answer:
        if request.method == "POST" and not rest:
            body = request.json if isinstance(request.json, dict) else {}
            if body.get("auth_type") == "admin":
                if body.get("login") == self.login and body.get("password") == self.password:
                    return self._issue_tokens()
            elif body.get("auth_type") == "api_key" and self._signed(
                str(body.get("key", "")), str(body.get("signature", "")), body.get("nonce")
            ):
                return self._issue_tokens()
            return _error(401, "Invalid credentials")
        if rest and self.refresh_tokens.get(rest, 0) > time.time():
            if request.method == "GET":
                self.refreshes += 1
                del self.refresh_tokens[rest]
                return self._issue_tokens()
            if request.method == "DELETE":
                del self.refresh_tokens[rest]
                return 204, {}, b""
        return _error(401, "Invalid refresh token")

    # ---- serving -----------------------------------------------------------------------------

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        if name == "server_error":
            return _error(500, "Internal Server Error")
        if name == "bad_gateway":
            return 502, {"Content-Type": "text/html"}, b"<html>502 Bad Gateway</html>"
        if name == "rate_limited":
            return _error(429, "Too Many Requests")
        if name == "unauthorized":
            return _error(401, "Unauthorized")
        if name == "not_json":
            return 200, {"Content-Type": "text/html"}, b"<html><body>Login</body></html>"
        # create_then_hang: Splynx stores the ticket; its answer never reaches the client.
        answer = self.route(request)
        self._released.wait(HANG_LIMIT)
        return answer

    def route(self, request: RecordedRequest) -> Answer:
        with self._changed:
            return self._route(request)

    def _route(self, request: RecordedRequest) -> Answer:
        if not request.path.startswith(PREFIX):
            return _error(404, "Not found")
        path = request.path[len(PREFIX) :].strip("/")
        if path == "admin/auth/tokens" or path.startswith("admin/auth/tokens/"):
            return self._tokens(request, path[len("admin/auth/tokens") :].strip("/"))
        if not self._authorized(request.headers.get("authorization", "")):
            return _error(401, "Unauthorized")
        collection, _, rest = path.rpartition("/")
        if path in _COLLECTIONS:
            collection, rest = path, ""
        name = _COLLECTIONS.get(collection)
        if name is None or (rest and not rest.isdigit()):
            return _error(404, "Not found")
        rows: dict[int, dict[str, str]] = getattr(self, name)
        if not rest:
            if request.method == "GET":
                return json_answer(200, self._list(rows, request.query))
            if request.method == "POST" and name in ("tickets", "messages"):
                return self._create(name, request.json)
            return _error(405, "Method not allowed")
        row = rows.get(int(rest))
        if row is None:
            return _error(404, "Not found")
        if request.method == "GET":
            return json_answer(200, row)
        if request.method == "PUT" and isinstance(request.json, dict):
            row.update({key: _text(value) for key, value in request.json.items() if key != "id"})
            row["updated_at"] = _now_text()
            return 202, {}, b""
        if request.method == "DELETE":
            del rows[int(rest)]
            return 204, {}, b""
        return _error(405, "Method not allowed")

    def _list(self, rows: dict[int, dict[str, str]], query: Mapping[str, str]) -> list[Any]:
        found = [
            row
            for row in rows.values()
            if all(
                _compare(row.get(field, ""), op, value)
                for field, op, value in parse_conditions(query)
            )
        ]
        for key, direction in query.items():
            if (order := re.match(r"^order\[([^\]]+)\]$", key)) is not None:
                field = order.group(1)
                found.sort(
                    key=lambda row: (_number(row.get(field, "")) or 0, row.get(field, "")),
                    reverse=direction.upper() == "DESC",
                )
        offset = int(query.get("offset") or 0)
        limit = int(query["limit"]) if query.get("limit") else None
        return found[offset : offset + limit if limit is not None else None]

    def _create(self, name: str, body: Any) -> Answer:
        if not isinstance(body, dict):
            return _error(400, "Body must be a JSON object")
        fields = {key: _text(value) for key, value in body.items() if key != "id"}
        if name == "tickets":
            if not fields.get("subject", "").strip():
                return json_answer(422, [{"field": "subject", "message": "Subject is required"}])
            return json_answer(201, self._store_ticket(fields))
        ticket_id = int(fields.get("ticket_id") or 0)
        if ticket_id not in self.tickets:
            return json_answer(422, [{"field": "ticket_id", "message": "Ticket not found"}])
        number = next(self._row_ids)
        row = {"id": str(number), "message_type": "message", "admin_id": "0", **fields}
        row.setdefault("created_at", _now_text())
        self.messages[number] = row
        return json_answer(201, {"id": number})


@contextmanager
def serving_fake_splynx(**settings: Any) -> Iterator[FakeSplynx]:
    """Serve a FakeSplynx on a free port until the block ends."""
    with serving(FakeSplynx(**settings)) as fake:
        yield fake


@pytest.fixture
def fake_splynx() -> Iterator[FakeSplynx]:
    with serving_fake_splynx() as fake:
        yield fake


__all__ = ["FakeSplynx", "fake_splynx", "parse_conditions", "serving_fake_splynx"]
