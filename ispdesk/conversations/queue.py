"""Area queues: handing waiting chats to operators the moment someone can take them.

Lock order everywhere is operators (by id) before conversations, the same as tickets, so no
two actions deadlock. The inbound path never takes operator locks: it queues the chat, and
the drain runs after its transaction commits (and every minute from a job, as a safety net
and to serve chats that waited for opening time or a shift start).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.conversations.filters import queue_order
from ispdesk.conversations.history import announce, log_event, say_template
from ispdesk.conversations.models import Conversation, ConversationStatus, EventKind
from ispdesk.conversations.routing import ChatCandidate, RouteDecision, assign_in_order
from ispdesk.lib.bulk import deferred_inserts, update_later
from ispdesk.lib.calendar import is_available
from ispdesk.lib.rawsql import marks
from ispdesk.operators.calendars import business_calendar, windows_by_operator
from ispdesk.operators.hours import area_opening_now
from ispdesk.operators.models import Area, ConsoleSession, Operator, ScheduleKind
from ispdesk.system.config import get_config

logger = logging.getLogger(__name__)

# An operator is online while a console of theirs was heard from within this time (the
# console sends a heartbeat every 25 seconds).
PRESENCE_TIMEOUT = timedelta(seconds=75)
GENERAL_QUEUE = None  # chats without an area: every operator may take them

AreaKey = int | None


def online_operator_ids(operator_ids: Iterable[int], now: datetime) -> set[int]:
    return set(
        ConsoleSession.objects.filter(
            operator_id__in=list(operator_ids), last_seen_at__gte=now - PRESENCE_TIMEOUT
        ).values_list("operator_id", flat=True)
    )


def active_chat_counts(operator_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Conversation.objects.filter(
            assignee_id__in=list(operator_ids), status=ConversationStatus.OPEN
        )
        .values("assignee_id")
        .annotate(n=Count("id"))
    )
    return {row["assignee_id"]: row["n"] for row in rows}


def member_ids(area_id: AreaKey) -> list[int]:
    operators = Operator.objects.filter(active=True, user__is_active=True)
    if area_id is not None:
        operators = operators.filter(areas=area_id)
    return sorted(set(operators.values_list("pk", flat=True)))


def chat_candidates(operators: Sequence[Operator], now: datetime) -> list[ChatCandidate]:
    """The facts routing needs about `operators`, in a fixed number of queries."""
    ids = [operator.pk for operator in operators]
    calendar = business_calendar(now)
    assignment = windows_by_operator(ids, ScheduleKind.ASSIGNMENT)
    work = windows_by_operator(ids, ScheduleKind.WORK)
    online = online_operator_ids(ids, now)
    loads = active_chat_counts(ids)
    return [
        ChatCandidate(
            operator_id=operator.pk,
            name=operator.name,
            online=operator.pk in online,
            away=operator.away,
            paused=operator.is_paused or operator.assignment_paused,
            on_window=is_available(assignment.get(operator.pk, []), calendar, now)
            or is_available(work.get(operator.pk, []), calendar, now),
            open_chats=loads.get(operator.pk, 0),
            capacity=operator.chat_capacity,
            last_chat_assigned_at=operator.last_chat_assigned_at,
        )
        for operator in operators
    ]


def in_queue(area_id: AreaKey) -> Q:
    return Q(area__isnull=True) if area_id is None else Q(area_id=area_id)


def area_is_open(area_id: AreaKey, now: datetime) -> bool:
    if area_id is None:
        return True
    return area_opening_now(area_id, now).open


def assign(
    conversation: Conversation,
    operator: Operator,
    now: datetime,
    *,
    reason: str,
    actor: object = None,
    kind: str = EventKind.ASSIGNED,
) -> None:
    """Give a (locked) conversation to a (locked) operator and tell everyone concerned."""
    previous = conversation.assignee
    conversation.assignee = operator
    conversation.status = ConversationStatus.OPEN
    conversation.assigned_at = now
    conversation.queued_at = None
    conversation.flow_state = {}
    conversation.version += 1
    operator.last_chat_assigned_at = now
    operator.save(update_fields=["last_chat_assigned_at"])
    log_event(conversation, kind, now, actor=actor, operator=operator, detail=reason)
    if previous is None:
        say_template(
            conversation, "chat_assigned", now, operator=operator.user.first_name or operator.name
        )
    conversation.save()
    extra = [f"user.{previous.user_id}"] if previous is not None else []
    announce(
        conversation, "conversation:incoming" if previous is None else "conversation:update", *extra
    )


def _lock_operators(ids: Sequence[int]) -> list[Operator]:
    locked = list(
        Operator.objects.select_for_update()
        .filter(pk__in=list(ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(Operator.objects.filter(pk__in=locked).select_related("user").order_by("pk"))


def drain(
    area_id: AreaKey, now: datetime | None = None, *, announce_ids: Iterable[int] = ()
) -> int:
    """Assign waiting chats of one queue, oldest first, while anyone eligible has room.
    Chats in `announce_ids` that still wait are told their place. Returns how many were
    assigned."""
    now = now or timezone.now()
    with transaction.atomic(), deferred_inserts():
        if not area_is_open(area_id, now):
            return 0  # the courtesy message told them when we open
        assigned = _assign_waiting(area_id, now)
        if announce_ids and get_config("tell_queue_position"):
            _tell_positions(area_id, list(announce_ids), now)
        return assigned


def _assign_waiting(area_id: AreaKey, now: datetime) -> int:
    operators = _lock_operators(member_ids(area_id))
    candidates = chat_candidates(operators, now)
    room = sum(c.capacity - c.open_chats for c in candidates if c.eligible)
    if room <= 0:
        return 0
    # Chats another transaction holds (a hand-over batch answering their customers) are
    # passed over, not waited for: the batch locks chats in its messages' order and this in
    # the queue's, which could deadlock; they are drained when that work commits.
    skip_locked = db_connection.features.has_select_for_update_skip_locked
    waiting = list(
        Conversation.objects.select_for_update(skip_locked=skip_locked)
        .filter(in_queue(area_id), status=ConversationStatus.PENDING, assignee__isnull=True)
        .order_by(*queue_order())
        .values_list("pk", flat=True)[:room]
    )
    by_id = {operator.pk: operator for operator in operators}
    plan: list[tuple[int, RouteDecision]] = assign_in_order(waiting, candidates, now)
    chats = Conversation.objects.select_related("contact", "connection").in_bulk(
        [c for c, _d in plan]
    )
    for conversation_id, decision in plan:
        operator = by_id[decision.operator_id]  # type: ignore[index]
        conversation = chats[conversation_id]
        conversation.assignee = None
        assign(conversation, operator, now, reason=decision.reason)
    return len(plan)


def _tell_positions(area_id: AreaKey, ids: list[int], now: datetime) -> None:
    places = queue_places(area_id, ids)
    if not places:
        return
    area = Area.objects.filter(pk=area_id).first() if area_id is not None else None
    area_name = area.name if area else _("our team")
    for conversation in Conversation.objects.select_related("contact", "connection").filter(
        pk__in=list(places)
    ):
        position = places[conversation.pk]
        say_template(conversation, "queue_position", now, position=str(position), area=area_name)
        update_later(conversation, "last_message_at", "last_message_preview")


def queue_places(area_id: AreaKey, ids: Sequence[int]) -> dict[int, int]:
    """The place in their queue (1: next) of the chats among `ids` waiting in it.

    Ranked by the database in the order the queue hands chats out, and only the asked-for
    rows come back: reading every waiting id (as this once did) cost each batch of a storm
    time in proportion to the backlog.
    """
    if not ids:
        return {}
    ranked = (
        Conversation.objects.filter(in_queue(area_id), status=ConversationStatus.PENDING)
        .order_by()  # the window orders; a sort of the derived table would be wasted
        .values(ranked_id=F("pk"), place=Window(RowNumber(), order_by=queue_order()))
    )
    inner, params = ranked.query.sql_with_params()
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ranked_id, place FROM ({inner}) ranked WHERE ranked_id IN ({marks(len(ids))})",  # noqa: S608 - compiled by the ORM
            [*params, *ids],
        )
        return {int(pk): int(place) for pk, place in cursor.fetchall()}


def drain_after_commit(area_ids: Iterable[AreaKey], *, announce_ids: Iterable[int] = ()) -> None:
    """Drain these queues once the current transaction commits (capacity freed, a chat
    queued). A failure leaves the chats waiting for the next drain; it is never raised into
    the action that freed the capacity. Inside `drains_deferred`, each queue is drained once
    when the block ends."""
    areas = list(dict.fromkeys(area_ids))
    announce_list = list(announce_ids)

    def run() -> None:
        deferred: dict[AreaKey, list[int]] | None = getattr(_deferred, "drains", None)
        if deferred is not None:
            for area_id in areas:
                deferred.setdefault(area_id, []).extend(announce_list)
            return
        _drain_each({area_id: announce_list for area_id in areas})

    transaction.on_commit(run)


def _drain_each(drains: dict[AreaKey, list[int]]) -> None:
    for area_id, announce_list in drains.items():
        try:
            drain(area_id, announce_ids=announce_list)
        except Exception:
            logger.exception("draining the queue of area %s failed; the job retries", area_id)


_deferred = threading.local()


@contextmanager
def drains_deferred() -> Iterator[None]:
    """Drain each queue that committed work asked to drain once, when the block ends,
    instead of once per chat queued (the inbound hand-over batch queues many)."""
    if getattr(_deferred, "drains", None) is not None:
        yield  # an outer block drains
        return
    _deferred.drains = {}
    try:
        yield
    finally:
        drains: dict[AreaKey, list[int]] = _deferred.drains
        _deferred.drains = None
        _drain_each(drains)


def queues_of(operator: Operator) -> list[AreaKey]:
    """The queues an operator can serve: their areas and the general queue."""
    return [*operator.areas.values_list("pk", flat=True), GENERAL_QUEUE]


def waiting_queues() -> list[AreaKey]:
    """Queues with at least one chat waiting."""
    return list(
        Conversation.objects.filter(status=ConversationStatus.PENDING, assignee__isnull=True)
        .values_list("area_id", flat=True)
        .distinct()
        .order_by("area_id")
    )
