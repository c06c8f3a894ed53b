"""The sender loop: delivers the outbox.

Each pass lists a bounded batch of due messages and sends them one at a time through
`sending.deliver`. Each is first claimed by a conditional UPDATE: a few rows at a time for
connections without a rate limit (`ClaimedAhead`), one row just before its send slot for
the others. Any number of workers (threads in `ispdesk serve`, processes running `ispdesk
worker`) may run passes at once: a message is sent by the one worker whose claim won, and a
worker that dies mid-send loses nothing, because its claim expires and the message is due
again.

Between passes the loop sleeps until the next message falls due (a retry, a connection's
next send slot, an expired claim), at most `poll_seconds`, and wakes at once when
`ispdesk.messaging.outbox.wake_sender` is called after a message is queued in this process
(or, on PostgreSQL, in another one: `ispdesk.lib.wakeups`).
"""

from __future__ import annotations

import contextlib
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
from ispdesk.messaging.claims import claim_listed, due_params, due_sql, release_claims
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus, Purpose
from ispdesk.messaging.sending import (
    RECORD_RETRY_DELAYS,
    RetryPolicy,
    SendingPass,
    apply_stranded_receipts,
    apply_waiting_receipts,
    deliver,
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
# A pass claims the rows it can send straight away this many at a time, in one statement,
# and sends each while its claim is this fresh: a connection switched off or saved since
# the claim applies at most this much later (the rest of the pass then claims row by row).
CLAIM_AHEAD_ROWS = 5
CLAIM_AHEAD_SECONDS = 2.0
# About the longest one send takes (the request's timeout applies to connecting and to
# reading; then recording it retries for a while).
SEND_ALLOWANCE_SECONDS = 2 * DEFAULT_TIMEOUT + sum(RECORD_RETRY_DELAYS)
# Leases shorter than this (at least twice that, a wide margin: a send may make several
# requests, and waits on the database come on top) claim one row at a time, just before its
# send. The lease setting's help text names it.
CLAIM_AHEAD_MIN_LEASE_SECONDS = 80
_clock = time.monotonic  # how fresh a claim is (tests move it)
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


class ClaimedAhead:
    """Rows a pass claims a few at a time in one statement (`claim_listed`) instead of one
    statement each: the rows it can send straight away. A rate-limited connection's rows
    are claimed one at a time instead, each after the send slot before it (`deliver`).

    A held row is sent only while its claim is fresh; once one is not (slow sends before
    it), every untried row is given back (`release_claims`) and the rest of the pass claims
    one row at a time again, each checked against its connection as it is then. A lease
    too short to cover a send after a few seconds' wait turns claiming ahead off."""

    def __init__(self, worker: str, lease: timedelta) -> None:
        self.worker = worker
        self.lease = lease
        self.on = lease.total_seconds() >= CLAIM_AHEAD_MIN_LEASE_SECONDS
        self.claims: dict[int, tuple[datetime, float]] = {}  # held row: (claimed at, clock)
        self.lost: set[int] = set()  # another worker was first, or the row changed
        self.untried: set[int] = set()

    def claim(self, rows: list[OutboundMessage], now: datetime) -> None:
        """Claim `rows` in one statement. If that fails, the pass claims row by row from
        here on (whatever the statement took is given back, if it can be)."""
        started = _clock()  # before the statement: its own wait counts against the claim
        try:
            held = claim_listed(rows, self.worker, now, self.lease)
        except Exception:
            self.on = False
            logger.exception("the sender could not claim %s messages ahead", len(rows))
            reset_broken_connection()
            # Only this worker's claims; if the database is still away they just expire.
            with contextlib.suppress(Exception):
                release_claims([row.pk for row in rows], self.worker)
            return
        self.claims.update((pk, (now, started)) for pk in held)
        self.untried |= held
        self.lost |= {row.pk for row in rows} - held

    def claimed_at(self, pk: int) -> datetime | None:
        """When the row was claimed, if it is held and fresh (taken off the untried)."""
        if pk not in self.untried:
            return None
        claimed_at, started = self.claims[pk]
        if _clock() - started > CLAIM_AHEAD_SECONDS:
            return None
        self.untried.discard(pk)
        return claimed_at

    def give_back(self) -> int:
        """Release every untried row and claim no more ahead in this pass."""
        self.on = False
        released = release_claims(self.untried, self.worker) if self.untried else 0
        self.untried = set()
        return released


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


def _count(result: PassResult, outcome: str, count: int) -> None:
    if count:
        result.outcomes[outcome] += count


def send_due_messages(
    worker: str,
    *,
    stop: threading.Event | None = None,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> PassResult:
    """Deliver up to `batch_size` due messages; stop sending once `stop` is set (what was
    claimed ahead and not tried is given back).

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
    ahead = ClaimedAhead(worker, lease)
    together = [shared.claimed_together(row.connection) for row in candidates]
    busy: dict[int, datetime] = {}
    try:
        for index, row in enumerate(candidates):
            pk, connection_id = row.pk, row.connection_id
            if stop is not None and stop.is_set():
                break
            until = busy.get(connection_id)
            if until is not None and until > (now or timezone.now()):
                # This pass took the connection's slot: leave its other messages queued.
                result.outcomes["waiting"] += 1
                continue
            if pk in ahead.lost:
                result.outcomes["taken"] += 1
                continue
            if ahead.on and together[index] and pk not in ahead.claims:
                pairs = zip(candidates[index:], together[index:], strict=True)
                chunk = [other for other, ok in pairs if ok][:CLAIM_AHEAD_ROWS]
                ahead.claim(chunk, now or timezone.now())
                if pk in ahead.lost:
                    result.outcomes["taken"] += 1
                    continue
            claimed_at = ahead.claimed_at(pk)
            if claimed_at is None and pk in ahead.untried:
                # Held too long (slow sends before it): this one and the rest are
                # claimed one at a time from here on.
                _count(result, "released", ahead.give_back())
            try:
                delivery = deliver(
                    pk,
                    worker,
                    now=now,
                    policy=policy,
                    lease=lease,
                    listed=row,
                    shared=shared,
                    claimed_at=claimed_at,
                )
            except Exception:
                result.errors += 1
                logger.exception("message %s: the sender failed to handle it", pk)
                reset_broken_connection()
                continue
            result.outcomes[delivery.outcome] += 1
            if delivery.busy_until is not None:
                busy[connection_id] = delivery.busy_until
    finally:
        # Rows claimed ahead and not tried (stopped, or the pass failed) go back at once,
        # not when their claim expires.
        if ahead.untried:
            try:
                _count(result, "released", ahead.give_back())
            except Exception:
                result.errors += 1
                logger.exception("the sender could not give back its claims")
                reset_broken_connection()
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
            poll_seconds or float(getattr(settings, "SENDER_POLL_SECONDS", DEFAULT_POLL_SECONDS)),
            settings.SENDER_GATHER_MS / 1000,
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
