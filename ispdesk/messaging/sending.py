"""Delivering one outbound message: claim it, check it may go, take a send slot, call the
gateway, record the answer.

The decisions and the arithmetic (backoff, the 24-hour window, send rates, which status
wins) are pure functions with `now` passed in. Each database step is one short statement or
transaction, so a worker may die between any two of them:

- killed before the gateway call: the claim expires and another worker sends the message;
- killed after the gateway accepted it and before `record_sent` committed: the claim expires
  and the message is sent again. That single write is the only window for a duplicate, so it
  runs straight after the gateway answers, in its own transaction, and is retried for a few
  seconds when the database hiccups.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Literal

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    transaction,
)
from django.db import connection as db_connection
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from pydantic import ValidationError

from ispdesk.integrations.whatsapp import registry
from ispdesk.integrations.whatsapp.base import Gateway, GatewayError, SendResult
from ispdesk.lib.atomic import atomic_unless_one_statement
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.lib.rawsql import Select, column, execute, in_chunks, marks, moment, name, table
from ispdesk.messaging.claims import claim_message
from ispdesk.messaging.models import (
    STATUS_ORDER,
    EarlyReceipt,
    GatewayConnection,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    Purpose,
)
from ispdesk.messaging.outbox import publish_status
from ispdesk.messaging.simulator import simulator_available
from ispdesk.system.config import get_config

logger = logging.getLogger(__name__)

SERVICE_WINDOW = timedelta(hours=24)
WINDOW_CLOSED = "the 24-hour customer-service window is closed; use an approved template"
ERROR_LENGTH = 500
# A gateway's Retry-After is honoured up to this (a day); beyond it the limit applies.
MAX_RETRY_AFTER_SECONDS = 86400.0
# Waits between attempts to record a message the gateway accepted (the duplicate window).
RECORD_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)

_RANK = {str(status): rank for status, rank in STATUS_ORDER.items()}
QUEUED = OutboundStatus.QUEUED
SENDING = OutboundStatus.SENDING
SENT = OutboundStatus.SENT
FAILED = OutboundStatus.FAILED


# --- pure decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float

    @classmethod
    def from_config(cls) -> RetryPolicy:
        return cls(
            max_attempts=get_config("outbox_max_attempts"),
            backoff_base_seconds=get_config("outbox_backoff_base_seconds"),
            backoff_max_seconds=get_config("outbox_backoff_max_seconds"),
        )


MAX_JITTER = 1 - 1e-9


def backoff_seconds(attempt: int, base: float, cap: float, jitter: float) -> float:
    """The wait after the `attempt`-th failed try (1 = the first): exponential with jitter.

    The un-jittered delay doubles from `base` up to `cap`; `jitter` (0 ≤ jitter < 1) takes up
    to half of it off, so workers retrying together spread out, while each delay still
    exceeds the previous attempt's until the cap is reached.
    """
    exponent = min(max(attempt, 1) - 1, 60)
    delay = min(cap, base * 2**exponent)
    # Just under half at most: a jitter a hair below 1 would otherwise round to exactly half
    # off, and equal the previous attempt's un-jittered delay (found by hypothesis).
    return delay * (1 - min(max(jitter, 0.0), MAX_JITTER) / 2)


@dataclass(frozen=True)
class Retry:
    at: datetime
    reason: str


@dataclass(frozen=True)
class GiveUp:
    reason: str


def after_failure(
    *,
    attempts: int,
    permanent: bool,
    reason: str,
    retry_after: float | None,
    now: datetime,
    policy: RetryPolicy,
    jitter: float,
) -> Retry | GiveUp:
    """What to do with a message whose `attempts`-th try failed."""
    if permanent:
        return GiveUp(reason)
    if attempts >= policy.max_attempts:
        return GiveUp(f"gave up after {attempts} attempts: {reason}")
    delay = backoff_seconds(
        attempts, policy.backoff_base_seconds, policy.backoff_max_seconds, jitter
    )
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return Retry(now + timedelta(seconds=delay), reason)


def service_window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Free text may go to someone who wrote to this number in the last 24 hours."""
    return last_inbound_at is not None and now - last_inbound_at < SERVICE_WINDOW


def effective_rate(connection_rate: float | None, default_rate: float | None) -> float | None:
    """Messages per second for a connection, None when unlimited.

    The connection's own rate wins (0 = unlimited); without one the gateway kind's default.
    """
    rate = default_rate if connection_rate is None else connection_rate
    if rate is None or rate <= 0:
        return None
    return rate


def send_interval(rate: float | None) -> timedelta | None:
    """The spacing between two sends at `rate` messages per second (None: no spacing)."""
    if rate is None or rate <= 0:
        return None
    return timedelta(seconds=1 / rate)


def next_send_slot(now: datetime, next_send_at: datetime | None, interval: timedelta) -> datetime:
    """When the slot after the one taken now ends: max(now, next_send_at) + interval."""
    start = now if next_send_at is None or next_send_at < now else next_send_at
    return start + interval


def status_after_send(current: str, *receipts: str) -> str:
    """The status a message has once the gateway accepted it.

    Never backwards: a receipt that already moved it further (delivered, read) stays, and a
    failure is final.
    """
    statuses = [str(current), str(SENT), *map(str, receipts)]
    if FAILED in statuses:
        return FAILED
    return max(statuses, key=lambda status: _RANK.get(status, 0))


def recipient_phone(to: str) -> str | None:
    """The E.164 number of a recipient written as E.164, digits or a chat id, if it is one."""
    try:
        return normalize_phone(to, mobile=True)
    except PhoneError:
        return None


def reset_broken_connection() -> None:
    """Drop this thread's database connection if an error left it unusable."""
    if not db_connection.in_atomic_block:  # closing inside a transaction would poison it
        close_old_connections()


def clip(text: str) -> str:
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


# --- database steps ---------------------------------------------------------------------------


def take_send_slot(connection_id: int, interval: timedelta, now: datetime) -> datetime | None:
    """Reserve the connection's send slot at `now`; None when taken, else when it frees.

    The slot is shared by every worker through `GatewayConnection.next_send_at`, taken with
    a conditional UPDATE: the one worker whose UPDATE changed the row may send now.
    """
    free = Q(next_send_at__isnull=True) | Q(next_send_at__lte=now)
    changed = GatewayConnection.objects.filter(free, pk=connection_id).update(
        next_send_at=next_send_slot(now, None, interval)
    )
    if changed == 1:
        return None
    busy_until = (
        GatewayConnection.objects.filter(pk=connection_id)
        .values_list("next_send_at", flat=True)
        .first()
    )
    # Taken and released again between the two statements: try again one interval later.
    return busy_until if busy_until is not None and busy_until > now else now + interval


def release_for_rate(pk: int, worker: str, not_before: datetime) -> bool:
    """Give a claimed message back, untried, to be sent when the connection's slot frees."""
    changed = OutboundMessage.objects.filter(pk=pk, claimed_by=worker, status=SENDING).update(
        status=QUEUED,
        claimed_by="",
        claim_expires_at=None,
        attempts=F("attempts") - 1,
        next_attempt_at=not_before,
    )
    return changed == 1


def record_retry(message: OutboundMessage, worker: str, retry: Retry) -> bool:
    changed = OutboundMessage.objects.filter(
        pk=message.pk, claimed_by=worker, status=SENDING
    ).update(
        status=QUEUED,
        next_attempt_at=retry.at,
        error=clip(retry.reason),
        claimed_by="",
        claim_expires_at=None,
    )
    if changed:
        publish_status(message, QUEUED)
    return changed == 1


def record_failure(message: OutboundMessage, worker: str, reason: str, now: datetime) -> bool:
    changed = OutboundMessage.objects.filter(
        pk=message.pk, claimed_by=worker, status=SENDING
    ).update(
        status=FAILED,
        error=clip(reason),
        failed_at=now,
        claimed_by="",
        claim_expires_at=None,
    )
    if changed:
        publish_status(message, FAILED)
    return changed == 1


def record_sent(
    message: OutboundMessage, provider_id: str, now: datetime, *, receipts_later: bool = False
) -> str:
    """Store what the gateway answered; return the message's status afterwards.

    One UPDATE in the usual case. The status only moves forward: a receipt may have moved
    it further already. If a `fromMe` echo of this very message was stored before us (a
    gateway may report our own send by webhook before it answers the request), the echo
    row is merged into this one: its receipts kept, the row deleted, the id stored here.
    With `receipts_later` the caller looks for receipts that arrived before the id was
    stored (`apply_waiting_receipts`, once for many messages).
    """
    stored_id = provider_id or None  # "": accepted without an id; NULLs never collide
    known = False  # whether the status after the update is known without reading it
    try:
        with atomic_unless_one_statement():
            # The usual case, still ours as we claimed it: a plain update, known to be `sent`.
            params = [stored_id, SENT, moment(now), message.pk, SENDING]
            known = bool(execute(_record_sent_sql(db_connection.vendor), params))
            if not known:
                OutboundMessage.objects.filter(pk=message.pk).update(
                    provider_id=stored_id,
                    status=Case(
                        When(status__in=[QUEUED, SENDING], then=Value(SENT)), default=F("status")
                    ),
                    sent_at=Coalesce(F("sent_at"), Value(now)),
                    error=Case(When(status=FAILED, then=F("error")), default=Value("")),
                    claimed_by="",
                    claim_expires_at=None,
                )
    except IntegrityError:
        known = False
        _merge_echo(message, provider_id, now)
    if stored_id and not receipts_later and _early_receipts_waiting(message, stored_id):
        from ispdesk.messaging.receiving import apply_early_receipts

        known = False
        moved_to = apply_early_receipts(message.pk, now)
        if moved_to is not None:
            return moved_to  # published with the receipts: once is enough
    status: str | None = SENT
    if not known:
        status = (
            OutboundMessage.objects.filter(pk=message.pk).values_list("status", flat=True).first()
        )
    status = status or SENT
    publish_status(message, status)
    return status


def apply_waiting_receipts(sent: Iterable[tuple[int, int, str]], now: datetime) -> int:
    """`record_sent`'s early-receipt check for messages recorded with `receipts_later`,
    given as (message id, connection id, the gateway's id), in one query: apply the receipts
    that arrived before those ids were stored. Returns how many messages had some. (If this
    never runs, the pass killed first, `apply_stranded_receipts` finds them later.)"""
    by_id: dict[tuple[int, str], int] = {}
    for pk, connection_id, provider_id in sent:
        if provider_id:
            # The first message recorded with an id holds it (a later one is flagged).
            by_id.setdefault((connection_id, provider_id), pk)
    if not by_id:
        return 0
    connections = sorted({cid for cid, _p in by_id})
    ids = sorted({pid for _c, pid in by_id})
    found: set[tuple[int, str]] = set()
    for chunk in in_chunks(ids):
        select = _early_select(db_connection.vendor, len(connections), len(chunk))
        found.update(
            (cid, pid) for cid, pid in select.rows([*connections, *chunk]) if (cid, pid) in by_id
        )
    return _apply_each(sorted(by_id[key] for key in found), now)


@lru_cache(maxsize=64)
def _early_select(vendor: str, connections: int, ids: int) -> Select:
    """The early receipts of some connections' provider ids, hand-written (`lib.rawsql`):
    one per sender pass, where compiling the queryset cost more than running it."""
    receipt = EarlyReceipt
    return Select.of(
        f"SELECT {column(receipt, 'connection')}, {column(receipt, 'provider_id')}"  # noqa: S608 - names from model meta
        f" FROM {table(receipt)} WHERE {column(receipt, 'connection')} IN ({marks(connections)})"
        f" AND {column(receipt, 'provider_id')} IN ({marks(ids)})"
    )


def apply_stranded_receipts(now: datetime) -> int:
    """Apply early receipts whose id a message carries by now: a pass stopped between
    recording its messages and looking for their receipts (killed, an error) leaves them
    behind, and nothing else would (the next receipt may never come). Returns how many
    messages had some."""
    stranded = OutboundMessage.objects.filter(
        Exists(
            EarlyReceipt.objects.filter(
                connection_id=OuterRef("connection_id"), provider_id=OuterRef("provider_id")
            )
        )
    )
    return _apply_each(list(stranded.order_by("pk").values_list("pk", flat=True)), now)


def _apply_each(message_ids: list[int], now: datetime) -> int:
    from ispdesk.messaging.receiving import apply_early_receipts

    for pk in message_ids:
        try:
            apply_early_receipts(pk, now)
        except Exception:  # one message's failure leaves the others' receipts to apply
            logger.exception("message %s: could not apply its early receipts", pk)
            reset_broken_connection()
    return len(message_ids)


@cache
def _record_sent_sql(vendor: str) -> str:
    """`record_sent`'s usual UPDATE, hand-written (see `claim_message`)."""
    message = OutboundMessage
    sets = ", ".join(
        f"{name(message, field_name)} = {value}"
        for field_name, value in (
            ("provider_id", "%s"),
            ("status", "%s"),
            ("sent_at", "%s"),
            ("error", "''"),
            ("claimed_by", "''"),
            ("claim_expires_at", "NULL"),
        )
    )
    return (
        f"UPDATE {table(message)} SET {sets} WHERE {column(message, 'id')} = %s"  # noqa: S608 - names from model meta
        f" AND {column(message, 'status')} = %s AND {column(message, 'sent_at')} IS NULL"
    )


def _early_receipts_waiting(message: OutboundMessage, provider_id: str) -> bool:
    # One indexed read in the usual case (no receipt beat the send) instead of a locking
    # transaction per message sent.
    return EarlyReceipt.objects.filter(
        connection_id=message.connection_id, provider_id=provider_id
    ).exists()


def _merge_echo(message: OutboundMessage, provider_id: str, now: datetime) -> None:
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().get(pk=message.pk)
        other = (
            OutboundMessage.objects.select_for_update()
            .filter(connection_id=row.connection_id, provider_id=provider_id)
            .exclude(pk=row.pk)
            .first()
        )
        fields: dict[str, Any] = {"provider_id": provider_id}
        receipts: list[str] = []
        if other is not None and other.purpose == Purpose.ECHO:
            receipts.append(other.status)
            fields["delivered_at"] = row.delivered_at or other.delivered_at
            fields["read_at"] = row.read_at or other.read_at
            if other.status == FAILED:
                fields["failed_at"] = row.failed_at or other.failed_at or now
                fields["error"] = clip(other.error)
            other.delete()
        elif other is not None:
            # Another real message holds this id: keep both rows, flag this one.
            logger.error(
                "message %s: the gateway answered with the id of message %s", row.pk, other.pk
            )
            fields["provider_id"] = None
            fields["error"] = f"the gateway answered with the id of message {other.pk}"
        status = status_after_send(row.status, *receipts)
        if "error" not in fields:
            fields["error"] = "" if status != FAILED else row.error
        OutboundMessage.objects.filter(pk=row.pk).update(
            status=status,
            sent_at=row.sent_at or now,
            claimed_by="",
            claim_expires_at=None,
            **fields,
        )


def last_inbound_at(connection_id: int, to: str) -> datetime | None:
    """When the recipient last wrote to this connection (matched on phone, else chat id)."""
    inbound = InboundMessage.objects.filter(connection_id=connection_id)
    phone = recipient_phone(to)
    if phone:
        latest = (
            inbound.filter(phone=phone).order_by("-sent_at").values_list("sent_at", flat=True)
        ).first()
        if latest is not None:
            return latest
    chat_ids = {to, to.lstrip("+")}
    if phone:
        chat_ids.add(phone.lstrip("+"))
    return (
        inbound.filter(chat_id__in=chat_ids)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )


# --- one message ------------------------------------------------------------------------------

Outcome = Literal["sent", "retry", "failed", "deferred", "taken", "lost"]


@dataclass(frozen=True)
class Delivery:
    """What happened to one due message.

    `busy_until`: the connection's send slot is taken until then (rate limit), when known.
    """

    outcome: Outcome
    busy_until: datetime | None = None


@dataclass
class SendingPass:
    """What a sender pass shares between the messages it lists: when each recipient last
    wrote (one query for the pass), each connection's adapter (built once), and what it
    recorded as sent, whose early receipts are looked for once at its end."""

    last_inbound: dict[tuple[int, str], datetime] = field(default_factory=dict)
    gateways: dict[int, Gateway | str] = field(default_factory=dict)
    recorded: list[tuple[int, int, str]] = field(default_factory=list)

    @classmethod
    def of(cls, rows: Iterable[OutboundMessage]) -> SendingPass:
        shared = cls()
        wanted: set[tuple[int, str]] = set()
        for row in rows:
            phone = recipient_phone(row.to)
            if phone is not None and _has_service_window(row.connection.kind):
                wanted.add((row.connection_id, phone))
        if wanted:
            select = _last_inbound_select(db_connection.vendor, len(wanted))
            try:
                latest = select.rows([value for pair in sorted(wanted) for value in pair])
                shared.last_inbound = {(cid, phone): last for cid, phone, last in latest}
            except DatabaseError:
                # Each message then looks its recipient up itself, as without a pass.
                logger.exception("the sender could not read its recipients' windows")
                reset_broken_connection()
        return shared

    def gateway(self, connection: GatewayConnection) -> Gateway | str:
        if connection.pk not in self.gateways:
            self.gateways[connection.pk] = _gateway(connection)
        return self.gateways[connection.pk]

    def claimed_together(self, connection: GatewayConnection) -> bool:
        """Whether the pass may claim this connection's messages in one statement
        (`claim_listed`): not when its sends are spaced by a rate (each takes the send
        slot before it goes, one per pass), nor when its adapter cannot be built (the
        message fails on its own)."""
        gateway = self.gateway(connection)
        return not isinstance(gateway, str) and _interval(connection, gateway) is None

    def window_open(self, connection_id: int, to: str, now: datetime) -> bool:
        """`service_window_open` for a recipient, from the pass's reading when that shows
        it open (a reading that shows it closed is checked again: they may have just
        written)."""
        phone = recipient_phone(to)  # parsed once per number (`lib.phones`)
        if phone and service_window_open(self.last_inbound.get((connection_id, phone)), now):
            return True
        return service_window_open(last_inbound_at(connection_id, to), now)


@lru_cache(maxsize=64)
def _last_inbound_select(vendor: str, recipients: int) -> Select:
    """When each of some (connection, phone) pairs last wrote, hand-written (`lib.rawsql`):
    one per sender pass, where compiling the queryset cost more than running it."""
    inbound = InboundMessage
    connection, phone = column(inbound, "connection"), column(inbound, "phone")
    pairs = " OR ".join([f"({connection} = %s AND {phone} = %s)"] * recipients)
    return Select.of(
        f"SELECT {connection}, {phone}, MAX({column(inbound, 'sent_at')})"  # noqa: S608 - names from model meta
        f" FROM {table(inbound)} WHERE {pairs} GROUP BY {connection}, {phone}",
        None,
        None,
        inbound._meta.get_field("sent_at"),
    )


def _has_service_window(kind: str) -> bool:
    try:
        return registry.adapter_class(kind).has_service_window
    except (ValueError, ImportError):
        return False  # the message fails on its own, with `_gateway`'s reason


def deliver(
    pk: int,
    worker: str,
    *,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    lease: timedelta | None = None,
    jitter: Callable[[], float] = random.random,
    listed: OutboundMessage | None = None,
    shared: SendingPass | None = None,
    claimed_at: datetime | None = None,
) -> Delivery:
    """Claim message `pk` if it is still due (unless the pass already did: `claimed_at`)
    and send it.

    `listed`: the row (with its connection) as a pass read it; the claim then also requires
    the row and its connection unchanged since (see `claim_message`), and neither is read
    again; with `claimed_at`, the pass already claimed it then (`claim_listed`). `shared`:
    what the pass shares between its messages; a message recorded as sent is added to it,
    for the pass to look for its early receipts (`apply_waiting_receipts`).
    `now` (for tests) fixes the clock of every step; otherwise each step reads it afresh.
    """

    def clock() -> datetime:
        return now or timezone.now()

    policy = policy or RetryPolicy.from_config()
    lease = lease or timedelta(seconds=get_config("outbox_claim_lease_seconds"))
    attempts = listed.attempts if listed is not None else None
    as_read = listed.connection if listed is not None else None
    if claimed_at is None or listed is None:
        claimed_at = clock()
        if not claim_message(pk, worker, claimed_at, lease, attempts=attempts, connection=as_read):
            return Delivery("taken")
    if listed is not None:
        # The row and its connection as listed: the claim checked that neither changed
        # since (nothing of the row changes once queued but what the claim set).
        message = listed
        message.status = SENDING
        message.claimed_by = worker[:100]
        message.claim_expires_at = claimed_at + lease
        message.attempts += 1
    else:
        message = OutboundMessage.objects.select_related("connection").get(pk=pk)
    connection = message.connection

    def fail(reason: str) -> Delivery:
        recorded = record_failure(message, worker, reason, clock())
        _log(message, "failed", reason)
        return Delivery("failed" if recorded else "lost")

    if message.attempts > policy.max_attempts:
        # Claimed again and again by workers that stopped before recording an outcome.
        return fail(
            f"gave up after {message.attempts - 1} attempts that ended without an answer "
            "(the sender stopped mid-send); the message may or may not have been delivered"
        )
    if not connection.enabled:
        return fail(f"the WhatsApp connection {connection.name!r} is disabled")
    if connection.kind == "simulator" and not simulator_available():
        return fail("the simulator is switched off (Settings: simulator_enabled)")
    # Alone, a message is a pass of its own: nothing read ahead, its adapter built for it.
    sharing = shared or SendingPass()
    gateway = sharing.gateway(connection)
    if isinstance(gateway, str):
        return fail(gateway)
    if gateway.has_service_window and not sharing.window_open(connection.pk, message.to, clock()):
        return fail(WINDOW_CLOSED)

    busy_until = None
    interval = _interval(connection, gateway)
    if interval is not None:
        slot_at = clock()
        taken_until = take_send_slot(connection.pk, interval, slot_at)
        if taken_until is not None:
            release_for_rate(pk, worker, taken_until)
            return Delivery("deferred", busy_until=taken_until)
        busy_until = slot_at + interval

    try:
        result = _send(gateway, message)
    except GatewayError as exc:
        return _after_error(message, worker, exc, policy, clock(), jitter(), busy_until)
    except Exception as exc:
        # An adapter bug, not the gateway's answer: retry with backoff, then give up.
        logger.exception("message %s via %s: unexpected error", message.pk, connection.name)
        error = GatewayError(f"unexpected error: {type(exc).__name__}: {exc}", permanent=False)
        return _after_error(message, worker, error, policy, clock(), jitter(), busy_until)

    status = _record_sent_persistently(
        message, result.provider_id, clock, receipts_later=shared is not None
    )
    if shared is not None:
        shared.recorded.append((message.pk, connection.pk, result.provider_id))
    _log(message, "sent" if status == SENT else f"sent (already {status})", "")
    return Delivery("sent", busy_until=busy_until)


def _interval(connection: GatewayConnection, gateway: Gateway) -> timedelta | None:
    """The spacing between two of the connection's sends (its rate or its kind's)."""
    rate = effective_rate(connection.rate_per_second, type(gateway).default_rate_per_second)
    return send_interval(rate)


def _gateway(connection: GatewayConnection) -> Gateway | str:
    """The connection's adapter, or why it cannot be built."""
    try:
        return registry.build(connection.kind, connection.config)
    except ValidationError as exc:
        # Field names only: the rejected values may be secrets.
        fields = sorted({".".join(map(str, error["loc"])) or "config" for error in exc.errors()})
        return f"the settings of connection {connection.name!r} are invalid: {', '.join(fields)}"
    except (ValueError, ImportError) as exc:
        return f"connection {connection.name!r} cannot be used: {exc}"


def _send(gateway: Gateway, message: OutboundMessage) -> SendResult:
    if message.media_url:
        return gateway.send_media(message.to, message.media_url, caption=message.body)
    return gateway.send_text(message.to, message.body, quoted_id=message.quoted_id)


def _after_error(
    message: OutboundMessage,
    worker: str,
    exc: GatewayError,
    policy: RetryPolicy,
    now: datetime,
    jitter: float,
    busy_until: datetime | None,
) -> Delivery:
    decision = after_failure(
        attempts=message.attempts,
        permanent=exc.permanent,
        reason=exc.message or str(exc),
        retry_after=exc.retry_after,
        now=now,
        policy=policy,
        jitter=jitter,
    )
    if isinstance(decision, GiveUp):
        recorded = record_failure(message, worker, decision.reason, now)
        _log(message, "failed", decision.reason)
        return Delivery("failed" if recorded else "lost", busy_until=busy_until)
    recorded = record_retry(message, worker, decision)
    delay = (decision.at - now).total_seconds()
    _log(message, f"retry in {delay:.0f}s", decision.reason)
    return Delivery("retry" if recorded else "lost", busy_until=busy_until)


def _record_sent_persistently(
    message: OutboundMessage,
    provider_id: str,
    clock: Callable[[], datetime],
    *,
    receipts_later: bool = False,
) -> str:
    """`record_sent`, retried for a few seconds: failing here means sending twice later."""
    for delay in (*RECORD_RETRY_DELAYS, None):
        try:
            return record_sent(message, provider_id, clock(), receipts_later=receipts_later)
        except (OperationalError, InterfaceError):
            if delay is None:
                raise
            logger.warning(
                "message %s was sent but could not be recorded yet; retrying", message.pk
            )
            reset_broken_connection()
            time.sleep(delay)
    raise AssertionError("unreachable")


def _log(message: OutboundMessage, outcome: str, reason: str) -> None:
    # Never the body, the recipient or anything from the connection's config.
    suffix = f": {reason}" if reason else ""
    logger.info(
        "message %s via %s (attempt %s): %s%s",
        message.pk,
        message.connection.name,
        message.attempts,
        outcome,
        suffix,
    )
