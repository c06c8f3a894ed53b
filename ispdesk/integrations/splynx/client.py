"""The Splynx REST API 2.0 client (PROTOCOLS.md, "Splynx").

Every call goes through `ispdesk.lib.http.HttpClient`. Timeouts, 5xx and 429 are retried a
bounded number of times with exponential backoff (Retry-After honoured, capped), except a
create whose answer never came: that raises `SplynxError(maybe_created=True)` so the caller
looks the ticket up (`find_ticket`) before creating it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ispdesk.integrations.splynx.auth import (
    PROCESS_NONCES,
    NonceCounter,
    Tokens,
    basic_header,
    signature,
    signed_header,
    token_header,
)
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.integrations.splynx.records import (
    Administrator,
    CatalogEntry,
    Customer,
    Ticket,
    TicketMessage,
    phone_key,
    same_phone,
    to_int,
)
from ispdesk.integrations.splynx.search import Condition, eq, format_value, search_params
from ispdesk.lib.http import HttpClient, HttpError, HttpResponse, retry_after_seconds

logger = logging.getLogger(__name__)

AUTH_TYPES = ("admin", "api_key", "basic")
API_ROOT = "/api/2.0"
TOKENS_PATH = "admin/auth/tokens"
TICKETS = "admin/support/tickets"
TICKET_MESSAGES = "admin/support/ticket-messages"
STATUSES = "admin/support/tickets-statuses"
GROUPS = "admin/support/tickets-groups"
TYPES = "admin/support/tickets-types"
CUSTOMERS = "admin/customers/customer"
ADMINISTRATORS = "admin/administration/administrators"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers to a create that may hide a ticket that was stored: a proxy's after its upstream
# timed out (502, 504), or the server failing after the insert (500). A create that got one
# is looked up, never sent again blindly; 429 and 503 mean "not processed" and are retried.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
# A guard against a server that ignores `limit`/`offset` and repeats the same page forever.
MAX_PAGES = 1000
REASON_LIMIT = 200
# Statuses of a fresh Splynx installation (PROTOCOLS.md); installations add their own.
NEW_STATUS_ID = 1
RESOLVED_STATUS_ID = 3


@dataclass(frozen=True)
class SplynxSettings:
    base_url: str  # https://splynx.example.com (with or without /api/2.0)
    auth_type: str = "api_key"  # admin | api_key | basic
    login: str = ""
    password: str = ""
    api_key: str = ""
    api_secret: str = ""
    # With api_key: exchange the signature for an access token instead of signing each call.
    api_key_token: bool = False
    timeout: float = 15.0
    max_attempts: int = 3
    backoff: float = 0.5
    max_retry_after: float = 30.0
    # Renew the access token this many seconds before it expires.
    token_margin: float = 10.0
    page_size: int = 100

    def __post_init__(self) -> None:
        if self.auth_type not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {AUTH_TYPES}")

    @property
    def api_root(self) -> str:
        root = self.base_url.rstrip("/")
        return root if root.endswith(API_ROOT) else root + API_ROOT

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.password, self.api_secret, self.api_key) if value)

    @property
    def uses_tokens(self) -> bool:
        return self.auth_type == "admin" or (self.auth_type == "api_key" and self.api_key_token)


class SplynxClient:
    def __init__(
        self,
        settings: SplynxSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        nonces: NonceCounter = PROCESS_NONCES,
    ) -> None:
        self.settings = settings
        self._nonces = nonces
        self.http = HttpClient(
            base_url=settings.api_root,
            timeout=settings.timeout,
            secrets=settings.secrets,
        )
        self._sleep = sleep
        self._clock = clock
        self._tokens: Tokens | None = None
        self._token_lock = threading.Lock()

    # ---- authentication ----------------------------------------------------------------------

    def _authorization(self) -> str:
        settings = self.settings
        if settings.auth_type == "basic":
            return basic_header(settings.api_key, settings.api_secret)
        if not settings.uses_tokens:
            nonce = self._nonces.next(settings.api_key, self._clock)
            return signed_header(settings.api_key, settings.api_secret, nonce)
        return token_header(self._access_token())

    def _signs_each_call(self) -> bool:
        return self.settings.auth_type == "api_key" and not self.settings.uses_tokens

    def _access_token(self) -> str:
        with self._token_lock:
            now = self._clock()
            margin = self.settings.token_margin
            tokens = self._tokens
            if tokens is not None and tokens.access_valid(now, margin):
                return tokens.access_token
            if tokens is not None and tokens.refresh_valid(now, margin):
                try:
                    self._remember(self._refresh(tokens.refresh_token))
                except SplynxError as exc:
                    if exc.status not in (400, 401, 403, 404):
                        raise
                    # A refresh token Splynx no longer knows: log in from scratch.
                    self._remember(self._login())
            else:
                self._remember(self._login())
            assert self._tokens is not None
            return self._tokens.access_token

    def _remember(self, tokens: Tokens) -> None:
        self._tokens = tokens
        # Tokens travel in headers and (the refresh token) in a URL path: keep both out of logs.
        self.http.secrets = (*self.settings.secrets, tokens.access_token, tokens.refresh_token)

    def _forget_tokens(self) -> None:
        with self._token_lock:
            self._tokens = None

    def _login(self) -> Tokens:
        settings = self.settings
        if settings.auth_type != "admin":
            return self._signed_login()
        body = {"auth_type": "admin", "login": settings.login, "password": settings.password}
        data = self._send("POST", TOKENS_PATH, json=body, authorize=False, what="login")
        return self._tokens_from(data)

    def _signed_login(self) -> Tokens:
        try:
            return self._tokens_from(self._send_signed_login())
        except SplynxError as exc:
            if exc.status != 401:
                raise
        # Another process may have signed with this nonce or a later one: once more, later.
        self._sleep(self._backoff(1))
        return self._tokens_from(self._send_signed_login())

    def _send_signed_login(self) -> Any:
        settings = self.settings
        nonce = self._nonces.next(settings.api_key, self._clock)
        body = {
            "auth_type": "api_key",
            "key": settings.api_key,
            "signature": signature(settings.api_key, settings.api_secret, nonce),
            "nonce": nonce,
        }
        return self._send("POST", TOKENS_PATH, json=body, authorize=False, what="login")

    def _refresh(self, refresh_token: str) -> Tokens:
        data = self._send(
            "GET", f"{TOKENS_PATH}/{refresh_token}", authorize=False, what="token refresh"
        )
        return self._tokens_from(data)

    def _tokens_from(self, data: Any) -> Tokens:
        if not isinstance(data, Mapping) or not data.get("access_token"):
            raise SplynxError(
                "Splynx answered the login without an access token.",
                permanent=True,
                reason="unexpected",
            )
        now = self._clock()
        return Tokens(
            access_token=str(data["access_token"]),
            access_expires=float(to_int(data.get("access_token_expiration")) or now + 60),
            refresh_token=str(data.get("refresh_token") or ""),
            refresh_expires=float(to_int(data.get("refresh_token_expiration")) or 0),
        )

    def logout(self) -> None:
        """End the token session, if any (a courtesy: tokens expire anyway)."""
        with self._token_lock:
            tokens, self._tokens = self._tokens, None
        if tokens is not None and tokens.refresh_token:
            try:
                # The refresh token in the path is the credential: no login just to log out.
                self._send(
                    "DELETE",
                    f"{TOKENS_PATH}/{tokens.refresh_token}",
                    authorize=False,
                    what="logout",
                )
            except SplynxError as exc:
                logger.info("Splynx logout failed: %s", exc.message)

    # ---- transport ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        creates: bool = False,
        authorize: bool = True,
        what: str = "",
    ) -> Any:
        """One call with its retries; returns the decoded JSON (None for an empty body).

        `what` names the call in error messages instead of the path (which may hold a token).
        """
        what = what or f"{method} {path.split('/')[-1] if path[-1:].isdigit() else path}"
        settings = self.settings
        attempt = 0
        logged_in_again = signed_again = False
        while True:
            attempt += 1
            last = attempt >= settings.max_attempts
            headers = {"Authorization": self._authorization()} if authorize else {}
            try:
                response = self.http.request(
                    method, path, params=dict(params or {}), json=json, headers=headers
                )
            except HttpError as exc:
                if creates and exc.maybe_received:
                    raise SplynxError(
                        f"Splynx did not answer the {what} in time; it may have been created.",
                        maybe_created=True,
                        reason="timeout",
                    ) from None
                if last:
                    raise self._no_answer(exc, what) from None
                self._sleep(self._backoff(attempt))
                continue
            status = response.status_code
            if status == 401 and authorize and settings.uses_tokens and not logged_in_again:
                # The token may have been revoked or expired early: one fresh login, once.
                logged_in_again = True
                attempt -= 1
                self._forget_tokens()
                continue
            if status == 401 and authorize and self._signs_each_call() and not signed_again:
                # A nonce another process used first (or later): once more, freshly signed.
                signed_again = True
                attempt -= 1
                self._sleep(self._backoff(1))
                continue
            if status in RETRY_STATUSES:
                if creates and status in AMBIGUOUS_STATUSES:
                    raise SplynxError(
                        f"Splynx answered HTTP {status} to the {what}; it may have been created.",
                        status=status,
                        maybe_created=True,
                        reason="server",
                    )
                if not last:
                    self._sleep(self._delay(response, attempt))
                    continue
            if status >= 400:
                raise self._refusal(response, what)
            return self._decode(response, what)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.settings.backoff * 2 ** (attempt - 1), self.settings.max_retry_after))

    def _delay(self, response: HttpResponse, attempt: int) -> float:
        asked = retry_after_seconds(response.headers.get("retry-after"))
        if asked is None:
            return self._backoff(attempt)
        return min(asked, self.settings.max_retry_after)

    def _no_answer(self, exc: HttpError, what: str) -> SplynxError:
        if exc.timeout:
            return SplynxError(
                f"Splynx did not answer the {what} within {self.settings.timeout:g} s.",
                reason="timeout",
            )
        return SplynxError(
            f"Cannot connect to Splynx at {self._host()} ({what}).", reason="connect"
        )

    def _host(self) -> str:
        return urlsplit(self.settings.api_root).hostname or self.settings.base_url[:80]

    def _refusal(self, response: HttpResponse, what: str) -> SplynxError:
        status = response.status_code
        if status == 401:
            return SplynxError(
                "Splynx rejected the credentials.",
                permanent=True,
                status=401,
                reason="credentials",
            )
        if status == 403:
            return SplynxError(
                f"Splynx refused the {what}: the API key or administrator lacks the permission.",
                permanent=True,
                status=403,
                reason="permission",
            )
        if status == 404:
            return SplynxError(
                f"Splynx found nothing for the {what}.",
                permanent=True,
                status=404,
                reason="not_found",
            )
        if status == 429:
            return SplynxError(
                "Splynx is limiting requests; try again later.", status=429, reason="rate_limited"
            )
        if status >= 500:
            return SplynxError(
                f"Splynx failed on the {what} (HTTP {status}).", status=status, reason="server"
            )
        return SplynxError(
            f"Splynx refused the {what} (HTTP {status}): {self._reason(response)}",
            permanent=True,
            status=status,
            reason="refused",
        )

    def _reason(self, response: HttpResponse) -> str:
        try:
            data = response.json()
        except (ValueError, RecursionError):
            data = None
        text = ""
        if isinstance(data, Mapping):
            error = data.get("error")
            if isinstance(error, Mapping):
                text = str(error.get("message") or error)
            else:
                text = str(data.get("message") or error or data)
        elif isinstance(data, list):
            text = "; ".join(
                str(item.get("message", item)) if isinstance(item, Mapping) else str(item)
                for item in data
            )
        text = text or response.text
        for secret in sorted(self.http.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())[:REASON_LIMIT] or "no reason given"

    def _decode(self, response: HttpResponse, what: str) -> Any:
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise SplynxError(
                f"Splynx sent an unexpected answer to the {what} (not JSON); check the address.",
                permanent=True,
                status=response.status_code,
                reason="unexpected",
            ) from None

    def _get_one(self, path: str, what: str) -> Mapping[str, Any]:
        data = self._send("GET", path, what=what)
        if not isinstance(data, Mapping):
            raise self._unexpected(what)
        return data

    def _unexpected(self, what: str) -> SplynxError:
        return SplynxError(
            f"Splynx sent an unexpected answer to the {what}.", permanent=True, reason="unexpected"
        )

    def list_all(
        self,
        path: str,
        conditions: Iterable[Condition] = (),
        *,
        order: Sequence[tuple[str, str]] = (("id", "ASC"),),
        what: str = "",
    ) -> list[Mapping[str, Any]]:
        """Every row of a list call, a page at a time until a short page."""
        size = self.settings.page_size
        conditions = list(conditions)
        rows: list[Mapping[str, Any]] = []
        for page_number in range(MAX_PAGES):
            params = search_params(conditions, order=order, limit=size, offset=page_number * size)
            page = self._send("GET", path, params=params, what=what or path)
            if not isinstance(page, list):
                raise self._unexpected(what or path)
            rows.extend(row for row in page if isinstance(row, Mapping))
            if len(page) < size:
                return rows
        logger.warning("Splynx %s: stopped after %d pages", path, MAX_PAGES)
        return rows

    # ---- tickets -----------------------------------------------------------------------------

    def list_tickets(
        self,
        *,
        open_only: bool = False,
        updated_since: datetime | None = None,
        created_since: datetime | None = None,
        customer_id: int | None = None,
        assign_to: int | None = None,
        conditions: Iterable[Condition] = (),
        include_trash: bool = False,
    ) -> list[Ticket]:
        """Tickets matching the filters (dates in the Splynx server's local time)."""
        wanted = list(conditions)
        if open_only:
            wanted.append(eq("closed", "0"))
        if updated_since is not None:
            wanted.append(Condition("updated_at", ">=", updated_since))
        if created_since is not None:
            wanted.append(Condition("created_at", ">=", created_since))
        if customer_id is not None:
            wanted.append(eq("customer_id", customer_id))
        if assign_to is not None:
            wanted.append(eq("assign_to", assign_to))
        tickets = [Ticket.from_api(row) for row in self.list_all(TICKETS, wanted, what="tickets")]
        return [ticket for ticket in tickets if include_trash or not ticket.trash]

    def get_ticket(self, ticket_id: int) -> Ticket:
        return Ticket.from_api(self._get_one(f"{TICKETS}/{int(ticket_id)}", "ticket"))

    def create_ticket(
        self,
        *,
        customer_id: int | None,
        subject: str,
        priority: str = "medium",
        status_id: int | None = None,
        group_id: int | None = None,
        type_id: int | None = None,
        assign_to: int | None = None,
        note: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> Ticket:
        """Create a ticket (send its first message with `add_ticket_message`).

        A timeout raises SplynxError(maybe_created=True): look it up with `find_ticket`.
        """
        body = {
            "customer_id": format_value(customer_id or 0),
            "subject": subject,
            "priority": priority,
            "status_id": format_value(status_id or NEW_STATUS_ID),
            "group_id": format_value(group_id or 0),
            "type_id": format_value(type_id or 0),
            "assign_to": format_value(assign_to or 0),
            "note": note,
            **{name: format_value(value) for name, value in (extra or {}).items()},
        }
        data = self._send("POST", TICKETS, json=body, creates=True, what="ticket creation")
        new_id = to_int(data.get("id")) if isinstance(data, Mapping) else None
        if not new_id:
            raise SplynxError(
                "Splynx accepted the ticket but did not say its id.",
                maybe_created=True,
                reason="unexpected",
            )
        if isinstance(data, Mapping) and "subject" in data:
            return Ticket.from_api(data)
        return self.get_ticket(new_id)

    def update_ticket(self, ticket_id: int, changes: Mapping[str, Any]) -> None:
        """A partial update (Splynx answers 202 with no useful body)."""
        body = {name: format_value(value) for name, value in changes.items()}
        self._send("PUT", f"{TICKETS}/{int(ticket_id)}", json=body, what="ticket update")

    def assign_ticket(self, ticket_id: int, admin_id: int | None) -> None:
        """Assign to a Splynx administrator (None unassigns)."""
        self.update_ticket(ticket_id, {"assign_to": admin_id or 0})

    def set_ticket_status(self, ticket_id: int, status_id: int) -> None:
        self.update_ticket(ticket_id, {"status_id": status_id})

    def close_ticket(self, ticket_id: int, resolved_status_id: int = RESOLVED_STATUS_ID) -> None:
        self.update_ticket(ticket_id, {"closed": "1", "status_id": resolved_status_id})

    def reopen_ticket(self, ticket_id: int, new_status_id: int = NEW_STATUS_ID) -> None:
        self.update_ticket(ticket_id, {"closed": "0", "status_id": new_status_id})

    def find_ticket(
        self, *, customer_id: int | None, subject: str, created_after: datetime
    ) -> Ticket | None:
        """The newest ticket of this customer with this subject created at or after
        `created_after` (Splynx local time): where a create that timed out is looked for."""
        wanted = subject.strip()
        found = [
            ticket
            for ticket in self.list_tickets(
                customer_id=customer_id or 0, created_since=created_after, include_trash=True
            )
            if ticket.subject.strip() == wanted
        ]
        return max(found, key=lambda ticket: ticket.id, default=None)

    # ---- ticket messages ---------------------------------------------------------------------

    def list_ticket_messages(self, ticket_id: int) -> list[TicketMessage]:
        rows = self.list_all(TICKET_MESSAGES, [eq("ticket_id", int(ticket_id))], what="messages")
        return [TicketMessage.from_api(row) for row in rows]

    def add_ticket_message(
        self,
        ticket_id: int,
        message: str,
        *,
        admin_id: int | None = None,
        message_type: str = "message",
    ) -> TicketMessage | None:
        """Add a message (HTML) or an internal note; a timeout raises `maybe_created`."""
        body = {
            "ticket_id": str(int(ticket_id)),
            "message": message,
            "message_type": message_type,
            "admin_id": format_value(admin_id or 0),
        }
        data = self._send("POST", TICKET_MESSAGES, json=body, creates=True, what="ticket message")
        if isinstance(data, Mapping) and to_int(data.get("id")):
            return TicketMessage.from_api({**body, **data})
        return None

    # ---- catalogs ----------------------------------------------------------------------------

    def ticket_statuses(self) -> list[CatalogEntry]:
        return [CatalogEntry.from_api(row) for row in self.list_all(STATUSES, what="statuses")]

    def ticket_groups(self) -> list[CatalogEntry]:
        return [CatalogEntry.from_api(row) for row in self.list_all(GROUPS, what="groups")]

    def ticket_types(self) -> list[CatalogEntry]:
        return [CatalogEntry.from_api(row) for row in self.list_all(TYPES, what="types")]

    def administrators(self) -> list[Administrator]:
        rows = self.list_all(ADMINISTRATORS, what="administrators")
        return [Administrator.from_api(row) for row in rows]

    # ---- customers ---------------------------------------------------------------------------

    def get_customer(self, customer_id: int) -> Customer:
        return Customer.from_api(self._get_one(f"{CUSTOMERS}/{int(customer_id)}", "customer"))

    def customer_by_login(self, login: str) -> Customer | None:
        rows = self.list_all(CUSTOMERS, [eq("login", login)], what="customers")
        matches = [Customer.from_api(row) for row in rows]
        return next((found for found in matches if found.login == login), None)

    def customers_by_phone(self, phone: str) -> list[Customer]:
        """Customers whose free-text phone field holds this number in any spelling.

        Splynx can only LIKE-match a run of characters: ask for the last 8 digits (present in
        every unbroken spelling), and when that finds nobody, for the last 4 (which also
        catch "2345-6789"); every answer is re-checked here against the number itself.
        """
        key = phone_key(phone)
        if len(key) < 8:
            return []
        for tail in (key[-8:], key[-4:]):
            rows = self.list_all(
                CUSTOMERS, [Condition("phone", "LIKE", tail)], what="customer search"
            )
            found = [Customer.from_api(row) for row in rows]
            matches = [customer for customer in found if same_phone(phone, customer.phone)]
            if matches:
                return matches
        return []
