"""Handing stored customer messages to the service desk, off the webhook's request path.

The webhook only verifies, stores (once per provider id) and answers; each stored customer
message waits with `handed_over_at` null. `hand_over_waiting` takes the oldest waiting
messages in one transaction, runs the inbound handlers on each (contact, conversation, bot,
queue: `messaging.inbound`) and marks them handed over, so a message is handed over exactly
once: the batch's work and its mark commit together or not at all.

Batches run one after another across threads and processes (a row lock on `HandOverLock`),
so a chat's messages are handled in the order they were stored. (Two deliveries of one chat
stored at the same instant by two threads commit in either order; a batch between the two
commits sees only the later one: that order is the order they became visible.) `HandOverLoop` runs
batches in `ispdesk serve` and `ispdesk worker`; a webhook in the same process wakes it at
once, one in another process through PostgreSQL's NOTIFY, sent by the stored rows' own
trigger (`stored_wakeup`, heard through `lib.wakeups`); elsewhere other processes' messages
are found by polling every `INBOUND_POLL_MS`.

Inside a batch, new rows the handlers write through `lib.bulk.insert` (chat lines, outbox
rows, history events) go in with one INSERT per table as the batch ends, and the batch's
contacts are read in one query (`inbound.prepare_batch`): a few queries per message instead
of a dozen.

One message whose handler raises is logged and marked handed over (it stays stored and
visible, as before). A transient database error (a lock wait, a deadlock, a lost
connection) rolls the whole batch back to be tried again; any other error, a database's
refusal of one message's values included, is that message's alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ispdesk.lib.atomic import redone_one_by_one_on_error
from ispdesk.lib.bulk import deferred_inserts
from ispdesk.lib.loops import WakeableLoop
from ispdesk.lib.memo import forget_all, memo_scope
from ispdesk.lib.wakeups import HAND_OVER, registered, wake
from ispdesk.messaging.inbound import batch_context, hand_off, prepare_batch
from ispdesk.messaging.models import WAITING_ORDER, HandOverLock, InboundMessage
from ispdesk.realtime.events import bundled_events, send_event_on_commit

logger = logging.getLogger(__name__)

LOCK_NAME = "inbound"
# Who hears about every WhatsApp message, in and out (the messages log).
STAFF_GROUPS = ("role.admin", "role.supervisor")
MAX_FAILURE_WAIT_SECONDS = 30.0


@dataclass
class HandOver:
    """What one batch did."""

    handed: int = 0  # messages handed over (their handler ran, or raised and was logged)
    failed: int = 0  # of those, how many raised
    full: bool = False  # the batch was full: more may be waiting


def _ensure_lock_row() -> None:
    """The migration creates the lock's row; a flushed database may lack it. Created in a
    transaction of its own, before the batch: locking a missing row, or two batches
    creating it, would deadlock on InnoDB (gap and duplicate-key locks)."""
    if HandOverLock.objects.filter(name=LOCK_NAME).exists():
        return
    try:
        with transaction.atomic():
            HandOverLock.objects.create(name=LOCK_NAME)
    except IntegrityError:
        pass  # another process created it


def _lock() -> None:
    """Wait for the hand-over lock (held until the current transaction ends)."""
    HandOverLock.objects.select_for_update().filter(name=LOCK_NAME).exists()


def waiting_count() -> int:
    return InboundMessage.objects.filter(handed_over_at__isnull=True).count()


class _HandlerFailed(Exception):
    """A handler raised in a batch run without savepoints: the batch is run again with one."""


def hand_over_waiting(*, batch_size: int | None = None) -> HandOver:
    """Hand the oldest waiting messages (up to `batch_size`) to the desk, in one transaction.

    The batch runs without a savepoint per message (two round trips each); if a handler
    raises, the batch is rolled back and run again with one, so only that message's work
    is lost. Database errors propagate (nothing of the batch is kept: it is tried again).
    """
    size = batch_size or settings.INBOUND_BATCH_SIZE
    _ensure_lock_row()
    try:
        return _run_batch(size, isolated=False)
    except _HandlerFailed:
        return _run_batch(size, isolated=True)


def _run_batch(size: int, *, isolated: bool) -> HandOver:
    result = HandOver()
    # Events go out per group in one bundle, queues drain once, after the batch commits;
    # calendars, flows and templates are read once per batch.
    with bundled_events(), memo_scope(), batch_context(), transaction.atomic():
        _lock()
        batch = list(waiting_batch(size))
        prepare_batch(batch)
        batch = _hand_off_each(batch, result) if isolated else _hand_off_all(batch, result)
        if batch:
            InboundMessage.objects.filter(pk__in=[message.pk for message in batch]).update(
                handed_over_at=timezone.now()
            )
        for message in batch:
            send_event_on_commit(
                STAFF_GROUPS,
                {
                    "type": "message:new",
                    "direction": "in",
                    "connection": message.connection_id,
                    "message": message.pk,
                    "phone": message.phone,
                },
            )
    result.handed = len(batch)
    result.full = result.full or len(batch) >= size
    return result


def waiting_batch(size: int) -> QuerySet[InboundMessage]:
    """The oldest `size` waiting messages with their connections: read off the waiting
    rows' index in order (`WAITING_ORDER`), so a batch costs the same however long the
    backlog behind it."""
    return (
        InboundMessage.objects.filter(handed_over_at__isnull=True)
        .select_related("connection")
        .order_by(*WAITING_ORDER)[:size]
    )


def _within_budget(batch: list[InboundMessage], result: HandOver) -> Iterator[InboundMessage]:
    """The batch's messages until its time is up (on SQLite, webhooks wait for this
    transaction's write lock); the rest are the next batch's."""
    started = time.monotonic()
    budget = settings.INBOUND_BATCH_MS / 1000
    for index, message in enumerate(batch):
        if index and time.monotonic() - started > budget:
            result.full = True
            return
        yield message


def _hand_off_all(batch: list[InboundMessage], result: HandOver) -> list[InboundMessage]:
    """Without a savepoint per message, the rows written once at the end: any error but a
    transient one makes the batch run again, isolated."""
    handed = []
    try:
        with deferred_inserts(), redone_one_by_one_on_error():
            for message in _within_budget(batch, result):
                hand_off(message)
                handed.append(message)
    except Exception as exc:
        if is_transient(exc):
            raise
        raise _HandlerFailed from exc
    return handed


def _hand_off_each(batch: list[InboundMessage], result: HandOver) -> list[InboundMessage]:
    handed = []
    for message in _within_budget(batch, result):
        result.failed += not _hand_off(message)
        handed.append(message)
    return handed


def _hand_off(message: InboundMessage) -> bool:
    """Run the handlers on one message in a savepoint; False when one raised (logged; the
    message stays stored)."""
    try:
        with transaction.atomic(), deferred_inserts():
            hand_off(message)
    except Exception as exc:
        if is_transient(exc):
            raise  # the database is busy or down: the whole batch is tried again
        # Rows remembered for the batch (a contact this message created) were rolled back
        # with its savepoint: the next messages read them again.
        forget_all()
        logger.exception("inbound handler failed for message %s; it stays stored", message.pk)
        return False
    return True


# MySQL/MariaDB report some bad values as OperationalError: those are the message's own
# fault (incorrect string value, data too long, out of range, bad date), not the database's.
_MYSQL_DATA_ERRORS = {1264, 1292, 1366, 1406}


def is_transient(exc: BaseException) -> bool:
    """A database error worth trying the whole batch again for: a lock wait, a deadlock, a
    lost or refused connection. Any other error belongs to the message that raised it."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    code = exc.args[0] if exc.args else None
    return not (isinstance(code, int) and code in _MYSQL_DATA_ERRORS)


def messages_stored() -> None:
    """Called after a webhook stored new customer messages (outside its transaction).

    A hand-over loop running in this process is woken once they commit. Loops in other
    processes hear of them from the database: on PostgreSQL the INSERT's own trigger
    notifies them (`stored_wakeup`), with no statement of ours; elsewhere they poll.
    """
    if settings.INBOUND_HANDLING == "inline":
        while hand_over_waiting().full:
            pass
        return
    if registered(HAND_OVER):
        transaction.on_commit(wake_hand_over)


def wake_hand_over() -> None:
    """Wake the hand-over loop, here or, when none runs here, in every process
    (`lib.wakeups`)."""
    wake(HAND_OVER)


class HandOverLoop(WakeableLoop):
    """Hands waiting messages over until stopped. A batch that fails on the database (busy,
    down, a deadlock) is rolled back whole and tried again after a back-off; a message whose
    own handling fails is logged and stays stored, so it never holds up the others."""

    name = "hand-over"
    max_failure_wait = MAX_FAILURE_WAIT_SECONDS
    wake_channel = HAND_OVER

    def __init__(self, poll_seconds: float | None = None, batch_size: int | None = None) -> None:
        super().__init__(
            poll_seconds or settings.INBOUND_POLL_MS / 1000, settings.INBOUND_GATHER_MS / 1000
        )
        self.batch_size = batch_size or settings.INBOUND_BATCH_SIZE

    def started(self) -> None:
        logger.info("hand-over loop started (poll every %ss)", self.poll_seconds)

    def stopped(self) -> None:
        logger.info("hand-over loop stopped")

    def run_once(self) -> float:
        """One batch; returns how long to sleep before the next (0: more is waiting)."""
        if not InboundMessage.objects.filter(handed_over_at__isnull=True).exists():
            return self.poll_seconds  # idle: no lock taken, no write
        result = hand_over_waiting(batch_size=self.batch_size)
        return 0 if result.full else self.poll_seconds
