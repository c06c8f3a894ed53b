"""The sender loop: delivers the outbox.

Each pass lists a bounded batch of due messages and hands them, one at a time, to
`sending.deliver`, which claims each with a conditional UPDATE that must change exactly one
row. Any number of workers (threads in `ispdesk serve`, processes running `ispdesk worker`)
may run passes at once: a message is sent by the one worker whose claim won, and a worker
that dies mid-send loses nothing, because its claim expires and the message is due again.

Between passes the loop sleeps until the next message falls due (a retry, a connection's
next send slot, an expired claim), at most `poll_seconds`, and wakes at once when
`ispdesk.messaging.outbox.wake_sender` is called after a message is queued in this process
(or, on PostgreSQL, in another one: `ispdesk.lib.wakeups`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import cast

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from ispdesk.lib.http import DEFAULT_TIMEOUT
from ispdesk.lib.loops import WakeableLoop
from ispdesk.lib.rawsql import Select, column, moment, table
from ispdesk.lib.wakeups import SENDER
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus, Purpose
from ispdesk.messaging.sending import (
    RetryPolicy,
    SendingPass,
    apply_stranded_receipts,
    apply_waiting_receipts,
    claim_listed,
    deliver,
    due_params,
    due_sql,
    release_claims,
    reset_broken_connection,
)
from ispdesk.realtime.events import bundled_events
from ispdesk.system.config import get_config

logger = logging.getLogger(__name__)

BATCH_SIZE = 20
DEFAULT_POLL_SECONDS = 1.0
# The shortest sleep between passes, so a row that stays due can never spin the loop.
MIN_WAIT_SECONDS = 0.01
MAX_FAILURE_WAIT_SECONDS = 60.0
# A pass's `message:status` events are sent together, each at most this late (plus the
# time until the pass publishes its next event or ends): a few Redis sends per window
# instead of three per message sent.
STATUS_BUNDLE_SECONDS = 0.1
# A pass claims its rows in one statement and sends them while the claim is this fresh
# (a change to a connection applies from the next pass, at most this much later) and at
# least this much of its lease is left: the longest a send may take (the request timeout).
CLAIM_AHEAD_SECONDS = 2.0
SEND_ALLOWANCE_SECONDS = DEFAULT_TIMEOUT
# How often the loop applies early receipts a stopped pass left behind.
RECEIPT_SWEEP_SECONDS = 60.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[-100:]


def due_rows(now: datetime, limit: int) -> list[OutboundMessage]:
    """Up to `limit` due messages with their connections, oldest due first.

    Messages of a connection whose send slot is taken until later are left for later.
    """
    select = _due_select(db_connection.vendor)
    params = [*due_params(now), moment(now), limit]
    width = len(select.messages)
    rows = []
    for values in select.select.rows(params):
        message = OutboundMessage.from_db(db_connection.alias, select.messages, values[:width])
        message.connection = GatewayConnection.from_db(
            db_connection.alias, select.connections, values[width:]
        )
        rows.append(message)
    return rows


@dataclass(frozen=True)
class _DueSelect:
    select: Select
    messages: list[str]  # attnames of the message columns, first in each row
    connections: list[str]  # then the connection's


@cache
def _due_select(vendor: str) -> _DueSelect:
    """`due_rows`' query, hand-written (`lib.rawsql`): run by every pass, where building and
    compiling the queryset (the due condition, the join, the order) cost several times running
    it."""
    message, gateway = OutboundMessage, GatewayConnection
    message_fields = list(message._meta.concrete_fields)
    gateway_fields = list(gateway._meta.concrete_fields)
    selected = [column(message, f.name) for f in message_fields]
    selected += [column(gateway, f.name) for f in gateway_fields]

    col = partial(column, message)
    slot = column(gateway, "next_send_at")
    sql = (
        f"SELECT {', '.join(selected)} FROM {table(message)}"  # noqa: S608 - names from model meta
        f" INNER JOIN {table(gateway)} ON {col('connection')} = {column(gateway, 'id')}"
        f" WHERE {due_sql()} AND ({slot} IS NULL OR {slot} <= %s)"
        f" ORDER BY {col('next_attempt_at')}, {col('id')} LIMIT %s"
    )
    return _DueSelect(
        Select.of(sql, *message_fields, *gateway_fields),
        [f.attname for f in message_fields],
        [f.attname for f in gateway_fields],
    )


def due_messages(now: datetime, limit: int) -> list[tuple[int, int]]:
    """(message id, connection id) of the due messages `due_rows` lists."""
    return [(row.pk, row.connection_id) for row in due_rows(now, limit)]


def next_due_at() -> datetime | None:
    """When the next message falls due: a queued one's attempt time (or its connection's
    next send slot, whichever is later), or the expiry of a claim."""
    params = [OutboundStatus.SENDING, OutboundStatus.QUEUED, OutboundStatus.SENDING, Purpose.ECHO]
    [(earliest,)] = _next_due_select(db_connection.vendor).rows(params)
    return cast(datetime | None, earliest)


@cache
def _next_due_select(vendor: str) -> Select:
    """`next_due_at`'s query, hand-written (`lib.rawsql`): run after every pass that did not
    fill its batch, where compiling the queryset's CASE and GREATEST cost more than running
    it."""
    message, gateway = OutboundMessage, GatewayConnection
    col = partial(column, message)
    attempt = col("next_attempt_at")
    # SQLite's GREATEST is its scalar MAX; no argument is NULL here (all three databases
    # differ on NULLs), as each is coalesced to the attempt time.
    greatest = "MAX" if vendor == "sqlite" else "GREATEST"
    queued_at = (
        f"{greatest}({attempt}, COALESCE({column(gateway, 'next_send_at')}, {attempt}),"
        # A queued row should hold no claim; if something left one, wait for it to expire.
        f" COALESCE({col('claim_expires_at')}, {attempt}))"
    )
    return Select.of(
        f"SELECT MIN(CASE WHEN {col('status')} = %s THEN {col('claim_expires_at')}"  # noqa: S608 - names from model meta
        f" ELSE {queued_at} END) FROM {table(message)}"
        f" INNER JOIN {table(gateway)} ON {col('connection')} = {column(gateway, 'id')}"
        f" WHERE {col('status')} IN (%s, %s) AND NOT ({col('purpose')} = %s)",
        message._meta.get_field("next_attempt_at"),
    )


@dataclass
class ClaimedAhead:
    """The rows a pass claimed in one statement (`claim_listed`): every row it can send
    straight away; a rate-limited connection's rows are claimed one at a time instead, each
    after the send slot before it (`deliver`)."""

    at: datetime
    lease_seconds: float
    held: set[int]
    lost: set[int]  # claimed by another worker first, or changed since the pass read them
    untried: set[int]
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def of(
        cls,
        rows: list[OutboundMessage],
        shared: SendingPass,
        worker: str,
        now: datetime,
        lease: timedelta,
    ) -> ClaimedAhead:
        together = [row for row in rows if shared.claimed_together(row.connection)]
        held = claim_listed(together, worker, now, lease)
        lost = {row.pk for row in together} - held
        return cls(now, lease.total_seconds(), held, lost, set(held))

    def may_send(self, pk: int) -> bool:
        """Whether a held row may go now: the first always; the others while the claim is
        fresh (a connection switched off or saved since is read again by the next pass)
        and a send started now ends within the lease. Slow sends end the pass early, the
        rest given back (`release_claims`)."""
        held_for = time.monotonic() - self.started
        fresh = held_for <= CLAIM_AHEAD_SECONDS
        if self.untried != self.held and not (
            fresh and self.lease_seconds - held_for >= SEND_ALLOWANCE_SECONDS
        ):
            return False
        self.untried.discard(pk)
        return True


@dataclass
class PassResult:
    """What one pass did: outcomes counted, whether the batch was full, rows that raised."""

    outcomes: Counter[str] = field(default_factory=Counter)
    listed: int = 0
    full: bool = False
    errors: int = 0

    @property
    def progressed(self) -> bool:
        return any(self.outcomes[name] for name in ("sent", "retry", "failed"))


def send_due_messages(
    worker: str,
    *,
    stop: threading.Event | None = None,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> PassResult:
    """Deliver up to `batch_size` due messages; stop claiming once `stop` is set.

    One message that raises is logged and skipped (its claim, if taken, expires and it is
    tried again, counted as an attempt); the others go on.
    """
    result = PassResult()
    policy = RetryPolicy.from_config()
    lease = timedelta(seconds=get_config("outbox_claim_lease_seconds"))
    candidates = due_rows(now or timezone.now(), batch_size)
    result.listed = len(candidates)
    result.full = len(candidates) >= batch_size
    shared = SendingPass.of(candidates)
    ahead = ClaimedAhead.of(candidates, shared, worker, now or timezone.now(), lease)
    busy: dict[int, datetime] = {}
    for row in candidates:
        pk, connection_id = row.pk, row.connection_id
        if stop is not None and stop.is_set():
            break
        if pk in ahead.held:
            if not ahead.may_send(pk):
                break
        elif pk in ahead.lost:
            result.outcomes["taken"] += 1  # another worker was first, or the row changed
            continue
        until = busy.get(connection_id)
        if until is not None and until > (now or timezone.now()):
            # This pass took the connection's slot: leave its other messages queued, untouched.
            result.outcomes["waiting"] += 1
            continue
        try:
            delivery = deliver(
                pk,
                worker,
                now=now,
                policy=policy,
                lease=lease,
                listed=row,
                shared=shared,
                claimed_at=ahead.at if pk in ahead.held else None,
            )
        except Exception:
            result.errors += 1
            logger.exception("message %s: the sender failed to handle it", pk)
            reset_broken_connection()
            continue
        result.outcomes[delivery.outcome] += 1
        if delivery.busy_until is not None:
            busy[connection_id] = delivery.busy_until
    if ahead.untried:
        result.outcomes["released"] += release_claims(ahead.untried, worker)
    try:
        apply_waiting_receipts(shared.recorded, now or timezone.now())
    except Exception:
        # Left for `apply_stranded_receipts`, at most a sweep later.
        result.errors += 1
        logger.exception("the sender could not apply early receipts")
        reset_broken_connection()
    return result


class SenderLoop(WakeableLoop):
    """Delivers the outbox until stopped; one bad pass or row never ends the loop."""

    name = "sender"
    max_failure_wait = MAX_FAILURE_WAIT_SECONDS
    wake_channel = SENDER

    def __init__(
        self,
        worker: str | None = None,
        poll_seconds: float | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        super().__init__(
            poll_seconds or float(getattr(settings, "SENDER_POLL_SECONDS", DEFAULT_POLL_SECONDS))
        )
        self.worker = worker or new_worker_id()
        self.batch_size = batch_size
        self.next_sweep = 0.0  # the first pass sweeps (a stop may have stranded receipts)

    def started(self) -> None:
        logger.info("sender %s started (poll every %ss)", self.worker, self.poll_seconds)

    def stopped(self) -> None:
        logger.info("sender %s stopped", self.worker)

    def run_once(self) -> float:
        if time.monotonic() >= self.next_sweep:
            self.next_sweep = time.monotonic() + RECEIPT_SWEEP_SECONDS
            apply_stranded_receipts(timezone.now())
        return self._pass()

    def _pass(self) -> float:
        """Run one pass; return how long to sleep before the next. Its status events go out
        in bundles, at most `STATUS_BUNDLE_SECONDS` after the first of each."""
        with bundled_events(flush_after=STATUS_BUNDLE_SECONDS):
            result = send_due_messages(
                self.worker, stop=self.stop_event, batch_size=self.batch_size
            )
        if result.full and result.progressed:
            return 0
        if result.errors:
            return self.poll_seconds
        due = next_due_at()
        if due is None:
            return self.poll_seconds
        wait = (due - timezone.now()).total_seconds()
        return min(max(wait, MIN_WAIT_SECONDS), self.poll_seconds)
