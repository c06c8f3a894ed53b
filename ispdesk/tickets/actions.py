"""Every change to a ticket: create, assign, unassign, status, comment, close, reopen.

Each action locks what it changes, writes a history event and an audit event, and sends
real-time events after commit. Lock order is always operators (by id) before tickets (by id),
so concurrent actions never deadlock.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.lib.rawsql import Insert, SelectRows, Update, column, write_together
from ispdesk.operators.models import Area, Operator
from ispdesk.realtime.events import bundled_events, send_event_on_commit
from ispdesk.system.audit import audit_event, record_audit
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.assignment import Decision, Rule, find_shift_tag
from ispdesk.tickets.models import EventKind, Priority, Source, Status, Ticket, TicketEvent
from ispdesk.tickets.team import lock_and_read_team, lock_team, read_team

# Tickets per transaction when the queue is assigned: the team stays locked for one batch at
# a time, not for the whole queue (other decisions and chat routing wait for that lock).
ASSIGN_BATCH = 100


class TicketActionError(ValueError):
    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


def _user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def ticket_groups(ticket: Ticket, *extra_operators: Operator | None) -> list[str]:
    groups = [f"ticket.{ticket.pk}", "role.admin", "role.supervisor"]
    for operator in (ticket.assignee, *extra_operators):
        if operator is not None:
            groups.append(f"user.{operator.user_id}")
    return groups


def _announce(ticket: Ticket, *previous: Operator | None) -> None:
    send_event_on_commit(
        ticket_groups(ticket, *previous),
        {"type": "ticket:update", "ticket": ticket.pk, "status": ticket.status},
    )


def _event(ticket: Ticket, kind: str, actor: Any, now: datetime, **fields: Any) -> TicketEvent:
    event = _event_row(ticket, kind, actor, now, **fields)
    event.save(force_insert=True)
    return event


def _event_row(ticket: Ticket, kind: str, actor: Any, now: datetime, **fields: Any) -> TicketEvent:
    """A history event, not saved yet."""
    return TicketEvent(ticket=ticket, kind=kind, actor=_user(actor), created_at=now, **fields)


@functools.cache
def _select_ticket(vendor: str) -> SelectRows[Ticket]:
    return SelectRows.where(Ticket, f"{column(Ticket, 'id')} = %s", lock=True)


def lock_ticket(ticket_id: int) -> Ticket:
    """The ticket's row, locked until the transaction ends (the row only: no operator or
    area row is locked with it). Hand-written, as the team lock: every action runs it."""
    select = _select_ticket(connection.vendor)
    return _the_ticket(select, select.select.rows([ticket_id]), ticket_id)


def _the_ticket(select: SelectRows[Ticket], rows: list[tuple[Any, ...]], ticket_id: int) -> Ticket:
    if not rows:
        raise Ticket.DoesNotExist(f"ticket {ticket_id} does not exist")
    [ticket] = select.from_rows(rows)
    return ticket


@dataclass(frozen=True)
class NewTicket:
    subject: str
    body: str = ""
    source: str = Source.MANUAL
    external_id: str = ""
    priority: str = Priority.MEDIUM
    customer_name: str = ""
    customer_external_id: str = ""
    customer_phone: str = ""
    customer_splynx_id: int | None = None
    splynx_ticket_id: int | None = None
    # The Splynx administrator assigned there, and, when that administrator is no operator
    # here, their name ("" unknown): the ticket is then held (see `Ticket.splynx_held`).
    splynx_assigned_to: int | None = None
    splynx_holder: str | None = None
    area_id: int | None = None
    created_at: datetime | None = None


def do_create_ticket(
    actor: Any, new: NewTicket, *, auto_assign: bool = True
) -> tuple[Ticket, bool]:
    """Create a ticket (idempotent by source and external id); return it and whether it's new."""
    subject = new.subject.strip()
    if not subject:
        raise TicketActionError(
            "validation_error", _("A subject is required."), {"subject": _("required")}
        )
    external_id = new.external_id.strip() or uuid.uuid4().hex
    existing = Ticket.objects.filter(source=new.source, external_id=external_id).first()
    if existing is not None:
        return existing, False
    area = Area.objects.filter(pk=new.area_id, active=True).first() if new.area_id else None
    if new.area_id and area is None:
        raise TicketActionError("validation_error", _("Unknown area."), {"area": _("unknown")})
    now = timezone.now()
    from ispdesk.operators.models import ShiftTag

    tags = ShiftTag.objects.filter(active=True).values_list("tag", flat=True)
    try:
        with transaction.atomic():
            ticket = Ticket.objects.create(
                source=new.source,
                external_id=external_id,
                subject=subject[:250],
                body=new.body,
                priority=new.priority,
                customer_name=new.customer_name[:200],
                customer_external_id=new.customer_external_id[:32],
                customer_phone=new.customer_phone[:32],
                customer_splynx_id=new.customer_splynx_id,
                splynx_ticket_id=new.splynx_ticket_id,
                splynx_assigned_to=new.splynx_assigned_to,
                splynx_held=new.splynx_holder is not None,
                splynx_assigned_name=(new.splynx_holder or "")[:200],
                area=area,
                shift_tag=find_shift_tag(f"{subject}\n{new.body}", tags) or "",
                created_at=new.created_at or now,
            )
            _event(
                ticket,
                EventKind.CREATED,
                actor,
                ticket.created_at,
                to_status=Status.NEW,
                text=_("Created from %(source)s") % {"source": ticket.get_source_display()},
            )
            record_audit(
                actor,
                "ticket.created",
                ticket,
                after={"source": new.source, "external_id": external_id},
            )
            _announce(ticket)
    except IntegrityError:
        # Another process created it between our check and insert: same outcome.
        existing = Ticket.objects.filter(source=new.source, external_id=external_id).first()
        if existing is not None:
            return existing, False
        if new.splynx_ticket_id is not None:
            # Linked meanwhile to another ticket here (one local ticket per Splynx ticket).
            raise TicketActionError(
                "conflict",
                _("Splynx ticket %(id)s is already linked to another ticket.")
                % {"id": new.splynx_ticket_id},
            ) from None
        raise
    if auto_assign:
        do_auto_assign(actor, ticket)
        ticket.refresh_from_db()
    return ticket, True


def give_ticket(
    ticket: Ticket,
    operator: Operator | None,
    actor: Any,
    now: datetime,
    reason: str = "",
    *,
    kind: str | None = None,
    audit_extra: Mapping[str, Any] | None = None,
) -> TicketEvent:
    """Give the locked `ticket` to `operator` (None: nobody), inside the caller's transaction
    that holds `lock_team()` (when `operator` is someone) and then `lock_ticket()`: history,
    audit and real-time event. `kind` defaults to assigned, or reassigned when the ticket had
    an assignee; `audit_extra` is added to the audit's "after"."""
    previous = ticket.assignee
    if kind is None:
        kind = EventKind.REASSIGNED if previous is not None else EventKind.ASSIGNED
    from_status = ticket.status
    ticket.assignee = operator
    ticket.assigned_at = now if operator is not None else None
    if ticket.is_open:
        if operator is None:
            ticket.status = Status.NEW
        elif ticket.status == Status.NEW:
            ticket.status = Status.ASSIGNED
    event = _event_row(
        ticket,
        kind,
        actor,
        now,
        operator=operator,
        previous_operator=previous,
        from_status=from_status,
        to_status=ticket.status,
        text=reason,
    )
    audit = audit_event(
        actor,
        f"ticket.{kind}",
        ticket,
        before={"assignee": previous.pk if previous else None},
        after={
            "assignee": operator.pk if operator else None,
            "reason": reason,
            **(audit_extra or {}),
        },
    )
    # Hand-written statements, sent together (`lib.rawsql`): every decision of the engine
    # runs these, and through the ORM building them cost more than running them.
    writes: list[Update | Insert] = [
        Update(ticket, ("assignee", "assigned_at", "status", "updated_at")),
        Insert(event),
        Insert(audit),
    ]
    if operator is not None:
        # Counts for the engine's tie-break, whoever chose the assignee.
        operator.last_assigned_at = now
        writes.append(Update(operator, ("last_assigned_at",)))
    write_together(*writes)
    message: dict[str, Any] = {"type": "ticket:update", "ticket": ticket.pk}
    if operator is not None:
        message = {"type": "ticket:assigned", "ticket": ticket.pk, "operator": operator.pk}
    send_event_on_commit(ticket_groups(ticket, previous), message)
    return event


def _release_hold(ticket: Ticket) -> bool:
    """A person here chose for a ticket held in Splynx (see `Ticket.splynx_held`): the hold
    ends, before the ticket is given (the table allows no assignee on a held ticket), and
    the assignment is then pushed to Splynx like any other. True when it was held."""
    if not ticket.splynx_held:
        return False
    Ticket.objects.filter(pk=ticket.pk).update(splynx_held=False, splynx_assigned_name="")
    ticket.splynx_held = False
    ticket.splynx_assigned_name = ""
    return True


def _auto_assign(
    actor: Any, ticket_id: int, now: datetime, *, release_hold: bool = False
) -> tuple[Ticket, Decision | None]:
    """The locked ticket and the engine's decision; None if it was already assigned or
    closed, or is held in Splynx and `release_hold` is false."""
    with transaction.atomic():
        # The team locked and read, then the ticket locked: in one round trip where it can.
        select = _select_ticket(connection.vendor)
        team, rows = lock_and_read_team(now, select.select, [ticket_id])
        locked = _the_ticket(select, rows, ticket_id)
        if not locked.is_open or locked.assignee_id is not None:
            return locked, None
        if locked.splynx_held and not release_hold:
            return locked, None
        decision = team.decide(f"{locked.subject}\n{locked.body}")
        if decision.operator_id is not None:
            operator = team.operator(decision.operator_id)
            released = _release_hold(locked)
            extra = {"released_splynx_hold": True} if released else None
            give_ticket(locked, operator, actor, now, decision.reason, audit_extra=extra)
    return locked, decision


def do_auto_assign(actor: Any, ticket: Ticket, now: datetime | None = None) -> Decision:
    """Let the engine choose; a ticket already assigned or closed is left alone.

    A ticket held by a Splynx administrator is left alone when ispdesk asks (no actor: a
    job, an import), and is given to the engine's choice when a person asks for this one
    ticket: that is a deliberate choice here. With nobody to choose, the hold stays."""
    release_hold = _user(actor) is not None
    locked, decision = _auto_assign(
        actor, ticket.pk, now or timezone.now(), release_hold=release_hold
    )
    if decision is None:
        if locked.splynx_held and locked.is_open:
            return Decision(
                None,
                Rule.NONE,
                _("Held in Splynx by %(name)s: ispdesk does not assign it.")
                % {"name": locked.splynx_holder},
            )
        return Decision(locked.assignee_id, Rule.NONE, _("Already assigned or closed"))
    return decision


def do_assign_ticket(actor: Any, ticket: Ticket, operator: Operator) -> Ticket:
    """A person chooses the assignee (assign or reassign)."""
    now = timezone.now()
    if not operator.active or not operator.user.is_active:
        raise TicketActionError(
            "operator_inactive", _("%(name)s is not active.") % {"name": operator.name}
        )
    with transaction.atomic():
        lock_team()
        locked = lock_ticket(ticket.pk)
        if not locked.is_open:
            raise TicketActionError("ticket_closed", _("Reopen the ticket before assigning it."))
        if locked.assignee_id == operator.pk:
            return locked
        who = getattr(actor, "display_name", None) or _("ispdesk")
        # A person's choice wins over a hand assignment in Splynx, and is pushed there.
        released = _release_hold(locked)
        give_ticket(
            locked,
            operator,
            actor,
            now,
            _("Assigned by %(who)s") % {"who": who},
            audit_extra={"released_splynx_hold": True} if released else None,
        )
    return locked


def do_unassign_ticket(actor: Any, ticket: Ticket, reason: str = "") -> Ticket:
    now = timezone.now()
    with transaction.atomic():
        locked = lock_ticket(ticket.pk)
        previous = locked.assignee
        if previous is None:
            return locked
        from_status = locked.status
        locked.assignee = None
        locked.assigned_at = None
        if locked.is_open:
            locked.status = Status.NEW
        locked.save(update_fields=["assignee", "assigned_at", "status", "updated_at"])
        _event(
            locked,
            EventKind.UNASSIGNED,
            actor,
            now,
            previous_operator=previous,
            from_status=from_status,
            to_status=locked.status,
            text=reason,
        )
        record_audit(
            actor,
            "ticket.unassigned",
            locked,
            before={"assignee": previous.pk},
            after={"assignee": None, "reason": reason},
        )
        _announce(locked, previous)
    return locked


def _is_human_response(actor: Any, ticket: Ticket) -> bool:
    user = _user(actor)
    return user is not None and ticket.first_response_at is None


def do_change_status(actor: Any, ticket: Ticket, status: str) -> Ticket:
    if status == Status.CLOSED:
        return do_close_ticket(actor, ticket)
    if status not in Status.values:
        raise TicketActionError("validation_error", _("Unknown status."), {"status": status})
    now = timezone.now()
    with transaction.atomic():
        locked = lock_ticket(ticket.pk)
        if not locked.is_open:
            raise TicketActionError("ticket_closed", _("Reopen the ticket to change its status."))
        if status == Status.ASSIGNED and locked.assignee_id is None:
            raise TicketActionError("no_assignee", _("Assign the ticket first."))
        if status == Status.NEW and locked.assignee_id is not None:
            # "New" means waiting in the queue; an assigned "new" ticket would be in neither.
            raise TicketActionError(
                "ticket_assigned", _("Unassign the ticket to put it back in the queue.")
            )
        if locked.status == status:
            return locked
        from_status = locked.status
        locked.status = status
        if status in (Status.IN_PROGRESS, Status.WAITING) and _is_human_response(actor, locked):
            locked.first_response_at = now
        locked.save(update_fields=["status", "first_response_at", "updated_at"])
        _event(
            locked, EventKind.STATUS_CHANGED, actor, now, from_status=from_status, to_status=status
        )
        record_audit(
            actor,
            "ticket.status_changed",
            locked,
            before={"status": from_status},
            after={"status": status},
        )
        _announce(locked)
    return locked


def do_comment_ticket(actor: Any, ticket: Ticket, text: str) -> TicketEvent:
    text = text.strip()
    if not text:
        raise TicketActionError("validation_error", _("Write a comment."), {"text": _("required")})
    now = timezone.now()
    with transaction.atomic():
        locked = lock_ticket(ticket.pk)
        if _is_human_response(actor, locked):
            locked.first_response_at = now
            locked.save(update_fields=["first_response_at", "updated_at"])
        event = _event(locked, EventKind.COMMENTED, actor, now, text=text[:5000])
        record_audit(actor, "ticket.commented", locked, after={"event": event.pk})
        _announce(locked)
    return event


def do_close_ticket(actor: Any, ticket: Ticket, note: str = "") -> Ticket:
    now = timezone.now()
    with transaction.atomic():
        locked = lock_ticket(ticket.pk)
        if not locked.is_open:
            return locked
        from_status = locked.status
        locked.status = Status.CLOSED
        locked.closed_at = now
        if locked.first_response_at is None and _user(actor) is not None:
            locked.first_response_at = now
        locked.save(update_fields=["status", "closed_at", "first_response_at", "updated_at"])
        _event(
            locked,
            EventKind.CLOSED,
            actor,
            now,
            from_status=from_status,
            to_status=Status.CLOSED,
            text=note,
        )
        record_audit(
            actor,
            "ticket.closed",
            locked,
            before={"status": from_status},
            after={"status": Status.CLOSED},
        )
        _announce(locked)
    return locked


def do_reopen_ticket(actor: Any, ticket: Ticket, note: str = "") -> Ticket:
    now = timezone.now()
    with transaction.atomic():
        locked = lock_ticket(ticket.pk)
        if locked.is_open:
            return locked
        locked.status = Status.ASSIGNED if locked.assignee_id else Status.NEW
        locked.closed_at = None
        # Durable until it reaches Splynx (`Ticket.splynx_reopen_pending`): the status sync
        # must not close the ticket again from Splynx's older "closed" meanwhile.
        locked.reopened_at = now
        locked.save(update_fields=["status", "closed_at", "reopened_at", "updated_at"])
        _event(
            locked,
            EventKind.REOPENED,
            actor,
            now,
            from_status=Status.CLOSED,
            to_status=locked.status,
            text=note,
        )
        record_audit(
            actor,
            "ticket.reopened",
            locked,
            before={"status": Status.CLOSED},
            after={"status": locked.status},
        )
        _announce(locked)
    return locked


def do_assign_unassigned(actor: Any, now: datetime | None = None) -> list[tuple[int, Decision]]:
    """Offer every open unassigned ticket to the engine, oldest first (tickets held in Splynx
    are not in that queue: see `TicketQuerySet.unassigned`).

    In batches of `ASSIGN_BATCH`, each in one transaction that locks the team and its
    tickets, reads the team's facts once and keeps them current as it gives tickets, and
    writes in bulk: the decisions, history, audit and real-time events are those of one
    `do_auto_assign` per ticket in turn (with the facts of the batch's start; the events go
    out bundled per group)."""
    pending = list(
        Ticket.objects.unassigned().order_by("created_at", "pk").values_list("pk", flat=True)
    )
    results: list[tuple[int, Decision]] = []
    for start in range(0, len(pending), ASSIGN_BATCH):
        # A batch's real-time events leave as one message per group once it commits.
        with bundled_events():
            decided = _assign_batch(actor, pending[start : start + ASSIGN_BATCH], now)
        results += decided
        if decided and decided[-1][1].operator_id is None:
            # Nobody can take work now; the rest would get the same answer.
            break
    return results


def _assign_batch(
    actor: Any, ticket_ids: list[int], now: datetime | None
) -> list[tuple[int, Decision]]:
    """Decide for the tickets in order, stopping at the first that nobody can take."""
    results: list[tuple[int, Decision]] = []
    given: list[tuple[Ticket, Decision, datetime]] = []
    with transaction.atomic():
        lock_team()
        rows = Ticket.objects.select_for_update().filter(pk__in=ticket_ids).order_by("pk")
        locked = {ticket.pk: ticket for ticket in rows}
        team = read_team(now or timezone.now())
        for ticket_id in ticket_ids:
            ticket = locked.get(ticket_id)
            if (
                ticket is None
                or not ticket.is_open
                or ticket.assignee_id is not None
                or ticket.splynx_held
            ):
                # Assigned by another worker, closed, held in Splynx or deleted since we listed
                # it: not ours to report, and no reason to stop (it says nothing about who is
                # available).
                continue
            decision = team.decide(f"{ticket.subject}\n{ticket.body}")
            results.append((ticket_id, decision))
            if decision.operator_id is None:
                break
            at = now or timezone.now()
            team.given(decision.operator_id, at)
            given.append((ticket, decision, at))
        _give_from_queue(actor, given)
    return results


def _give_from_queue(actor: Any, given: list[tuple[Ticket, Decision, datetime]]) -> None:
    """`give_ticket` for locked tickets from the queue (nobody had them, none is held), each
    to its decision's operator at its moment, in a few statements for all: the same rows,
    history, audit and real-time events as one `give_ticket` each."""
    if not given:
        return
    operators = Operator.objects.in_bulk({decision.operator_id for _t, decision, _at in given})
    user = _user(actor)
    updated_at = timezone.now()  # what `save()` would stamp (an update does not)
    history, audit = [], []
    for ticket, decision, at in given:
        operator = operators[decision.operator_id]
        from_status = ticket.status
        ticket.assignee = operator
        ticket.assigned_at = at
        if ticket.status == Status.NEW:
            ticket.status = Status.ASSIGNED
        ticket.updated_at = updated_at
        operator.last_assigned_at = at  # the latest wins: `given` is in decision order
        history.append(
            TicketEvent(
                ticket=ticket,
                kind=EventKind.ASSIGNED,
                actor=user,
                created_at=at,
                operator=operator,
                from_status=from_status,
                to_status=ticket.status,
                text=decision.reason,
            )
        )
        audit.append(
            audit_event(
                user,
                f"ticket.{EventKind.ASSIGNED}",
                ticket,
                before={"assignee": None},
                after={"assignee": operator.pk, "reason": decision.reason},
            )
        )
        send_event_on_commit(
            ticket_groups(ticket),
            {"type": "ticket:assigned", "ticket": ticket.pk, "operator": operator.pk},
        )
    tickets = [ticket for ticket, _d, _at in given]
    # Only what differs from ticket to ticket goes through bulk_update (costly per field).
    Ticket.objects.bulk_update(tickets, ["assignee", "assigned_at"])
    Ticket.objects.filter(pk__in=[ticket.pk for ticket in tickets]).update(
        status=Case(When(status=Status.NEW, then=Value(Status.ASSIGNED)), default=F("status")),
        updated_at=updated_at,
    )
    Operator.objects.bulk_update(operators.values(), ["last_assigned_at"])
    TicketEvent.objects.bulk_create(history)
    AuditEvent.objects.bulk_create(audit)
