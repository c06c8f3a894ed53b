"""Tickets API: the list with filters, one ticket with its history, and every action.

Every ticket is fetched through `access_ticket`: someone who may not see a ticket gets 404.
Endpoints that change who works a ticket are for supervisors and admins (403 for others,
before any lookup).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_supervisor
from ispdesk.api_errors import ApiError
from ispdesk.jobs.api_runs import add_job_starters
from ispdesk.operators.models import Operator
from ispdesk.tickets.access import access_ticket, can_create_tickets, tickets_for
from ispdesk.tickets.actions import (
    NewTicket,
    TicketActionError,
    do_assign_ticket,
    do_assign_unassigned,
    do_auto_assign,
    do_change_status,
    do_close_ticket,
    do_comment_ticket,
    do_create_ticket,
    do_reopen_ticket,
    do_unassign_ticket,
)
from ispdesk.tickets.assignment import Rule
from ispdesk.tickets.filters import filter_tickets, overdue_after
from ispdesk.tickets.jobs import (
    AUTO_UNASSIGN_AFTER_SHIFT,
    END_OF_SHIFT_NOTIFICATIONS,
    OVERDUE_ALERTS,
)
from ispdesk.tickets.metrics import TicketTimes, ticket_metrics
from ispdesk.tickets.models import EventKind, Source, Ticket, TicketEvent
from ispdesk.tickets.schemas import (
    AssignIn,
    AssignOut,
    AssignUnassignedOut,
    CommentIn,
    NoteIn,
    StatusIn,
    TicketDetailOut,
    TicketFilters,
    TicketIn,
    TicketPageOut,
)

router = Router(tags=["tickets"])

ENGINE_NAME = "ispdesk"


@contextmanager
def _action_errors() -> Iterator[None]:
    """A refused action answers 422 for bad input and 409 for the ticket's state."""
    try:
        yield
    except TicketActionError as exc:
        status = 422 if exc.code == "validation_error" else 409
        raise ApiError(status, exc.code, exc.message, exc.fields or None) from None


def _operator_ref(operator: Operator | None) -> dict[str, Any] | None:
    return {"id": operator.pk, "name": operator.name} if operator is not None else None


def _holder(ticket: Ticket) -> dict[str, Any] | None:
    if not ticket.splynx_held:
        return None
    return {"administrator_id": ticket.splynx_assigned_to or 0, "name": ticket.splynx_holder}


def _ticket_out(
    ticket: Ticket, now: datetime, overdue_after: timedelta, first_assigned_at: datetime | None
) -> dict[str, Any]:
    times = TicketTimes(
        created_at=ticket.created_at,
        first_assigned_at=first_assigned_at or ticket.assigned_at,
        first_response_at=ticket.first_response_at,
        closed_at=ticket.closed_at,
        is_open=ticket.is_open,
        alerts_sent=ticket.alerts_sent,
    )
    return {
        "id": ticket.pk,
        "source": ticket.source,
        "external_id": ticket.external_id,
        "splynx_ticket_id": ticket.splynx_ticket_id,
        "customer_splynx_id": ticket.customer_splynx_id,
        "customer_name": ticket.customer_name,
        "subject": ticket.subject,
        "priority": ticket.priority,
        "status": ticket.status,
        "shift_tag": ticket.shift_tag,
        "area": {"id": ticket.area.pk, "name": ticket.area.name} if ticket.area else None,
        "assignee": _operator_ref(ticket.assignee),
        "held_in_splynx": _holder(ticket),
        "created_at": ticket.created_at,
        "assigned_at": ticket.assigned_at,
        "first_response_at": ticket.first_response_at,
        "updated_at": ticket.updated_at,
        "closed_at": ticket.closed_at,
        "metrics": ticket_metrics(times, now, overdue_after),
    }


def _event_out(event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "kind_label": event.get_kind_display(),
        "created_at": event.created_at,
        "actor": event.actor.display_name if event.actor is not None else ENGINE_NAME,
        "actor_id": event.actor_id,
        "operator": _operator_ref(event.operator),
        "previous_operator": _operator_ref(event.previous_operator),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "text": event.text,
    }


def _detail(ticket: Ticket) -> dict[str, Any]:
    events = list(
        TicketEvent.objects.filter(ticket=ticket).select_related(
            "actor", "operator__user", "previous_operator__user"
        )
    )
    first_assigned = next((e.created_at for e in events if e.kind == EventKind.ASSIGNED), None)
    return {
        **_ticket_out(ticket, timezone.now(), overdue_after(), first_assigned),
        "body": ticket.body,
        "history": [_event_out(event) for event in events],
    }


def _after_action(ticket: Ticket) -> dict[str, Any]:
    # The action changed the row under a lock; render what it stored.
    ticket.refresh_from_db()
    return _detail(ticket)


@router.get("", response=TicketPageOut)
def list_tickets(request: ApiRequest, filters: Query[TicketFilters]) -> dict[str, Any]:
    now = timezone.now()
    waited_too_long = overdue_after()
    tickets = filter_tickets(tickets_for(request.auth), filters, now)
    count = tickets.count()
    pages = max(1, -(-count // filters.page_size))
    start = (filters.page - 1) * filters.page_size
    rows = tickets[start : start + filters.page_size]
    return {
        "count": count,
        "page": filters.page,
        "pages": pages,
        "items": [
            _ticket_out(row, now, waited_too_long, getattr(row, "first_assigned_at", None))
            for row in rows
        ],
    }


@router.post("", response={201: TicketDetailOut})
def create_ticket(request: ApiRequest, payload: TicketIn) -> Status:
    if not can_create_tickets(request.auth):
        raise ApiError(
            403,
            "permission_denied",
            _("Only operators, supervisors and administrators may create tickets."),
        )
    new = NewTicket(
        subject=payload.subject,
        body=payload.body,
        source=Source.MANUAL,
        priority=payload.priority,
        customer_name=payload.customer_name,
        customer_splynx_id=payload.customer_splynx_id,
        area_id=payload.area,
    )
    with _action_errors():
        ticket, _created = do_create_ticket(request.auth, new)
    return Status(201, _detail(ticket))


@router.post("/assign_unassigned", response=AssignUnassignedOut)
def assign_unassigned(request: ApiRequest) -> dict[str, Any]:
    api_require_supervisor(request.auth)
    return _assign_waiting_tickets(request.auth)


def _assign_waiting_tickets(actor: Any) -> dict[str, Any]:
    """Offer every waiting ticket to the engine; say how many found someone, and whom."""
    results = do_assign_unassigned(actor)
    chosen = [(ticket_id, d) for ticket_id, d in results if d.operator_id is not None]
    operators = Operator.objects.select_related("user").in_bulk(
        {decision.operator_id for _id, decision in chosen}
    )
    return {
        "assigned": len(chosen),
        "waiting": Ticket.objects.unassigned().count(),
        "assignments": [
            {
                "ticket": ticket_id,
                "operator": _operator_ref(operators[decision.operator_id]),
                "reason": decision.reason,
            }
            for ticket_id, decision in chosen
        ],
    }


# `int:` so that one-word action paths (`/alert_overdue`, …) defined later don't match here.
@router.get("/{int:ticket_id}", response=TicketDetailOut)
def get_ticket(request: ApiRequest, ticket_id: int) -> dict[str, Any]:
    return _detail(access_ticket(request.auth, ticket_id))


def _refuse_engine_for(ticket: Ticket) -> None:
    """The engine only assigns open tickets that nobody has."""
    if not ticket.is_open:
        raise ApiError(409, "ticket_closed", _("Reopen the ticket before assigning it."))
    if ticket.assignee_id is not None:
        raise ApiError(
            409,
            "already_assigned",
            _("The ticket already has an assignee; unassign it or choose an operator."),
        )


@router.post("/{ticket_id}/assign", response=AssignOut)
def assign_ticket(
    request: ApiRequest, ticket_id: int, payload: AssignIn | None = None
) -> dict[str, Any]:
    api_require_supervisor(request.auth)
    ticket = access_ticket(request.auth, ticket_id)
    operator_id = payload.operator if payload is not None else None
    if operator_id is not None:
        operator = Operator.objects.select_related("user").filter(pk=operator_id).first()
        if operator is None:
            raise ApiError(
                422, "validation_error", _("Unknown operator."), {"operator": _("unknown")}
            )
        with _action_errors():
            do_assign_ticket(request.auth, ticket, operator)
        return {"ticket": _after_action(ticket), "decision": None}
    _refuse_engine_for(ticket)
    decision = do_auto_assign(request.auth, ticket)
    if decision.rule == Rule.NONE:
        # Closed or assigned by someone else since we read it: say so, not "nobody free".
        ticket.refresh_from_db()
        _refuse_engine_for(ticket)
    chosen = None
    if decision.operator_id is not None:
        chosen = Operator.objects.select_related("user").filter(pk=decision.operator_id).first()
    return {
        "ticket": _after_action(ticket),
        "decision": {
            "operator": _operator_ref(chosen),
            "rule": str(decision.rule),
            "reason": decision.reason,
        },
    }


@router.post("/{ticket_id}/unassign", response=TicketDetailOut)
def unassign_ticket(
    request: ApiRequest, ticket_id: int, payload: NoteIn | None = None
) -> dict[str, Any]:
    api_require_supervisor(request.auth)
    ticket = access_ticket(request.auth, ticket_id)
    with _action_errors():
        do_unassign_ticket(request.auth, ticket, payload.note if payload else "")
    return _after_action(ticket)


@router.post("/{ticket_id}/status", response=TicketDetailOut)
def change_status(request: ApiRequest, ticket_id: int, payload: StatusIn) -> dict[str, Any]:
    ticket = access_ticket(request.auth, ticket_id)
    with _action_errors():
        do_change_status(request.auth, ticket, payload.status)
    return _after_action(ticket)


@router.post("/{ticket_id}/comment", response=TicketDetailOut)
def comment_ticket(request: ApiRequest, ticket_id: int, payload: CommentIn) -> dict[str, Any]:
    ticket = access_ticket(request.auth, ticket_id)
    with _action_errors():
        do_comment_ticket(request.auth, ticket, payload.text)
    return _after_action(ticket)


@router.post("/{ticket_id}/close", response=TicketDetailOut)
def close_ticket(
    request: ApiRequest, ticket_id: int, payload: NoteIn | None = None
) -> dict[str, Any]:
    ticket = access_ticket(request.auth, ticket_id)
    with _action_errors():
        do_close_ticket(request.auth, ticket, payload.note if payload else "")
    return _after_action(ticket)


@router.post("/{ticket_id}/reopen", response=TicketDetailOut)
def reopen_ticket(
    request: ApiRequest, ticket_id: int, payload: NoteIn | None = None
) -> dict[str, Any]:
    ticket = access_ticket(request.auth, ticket_id)
    with _action_errors():
        do_reopen_ticket(request.auth, ticket, payload.note if payload else "")
    return _after_action(ticket)


# Ticket jobs started by hand (admins): 202 with the queued JobRun's id, which
# `GET /api/jobs/runs/{id}` reports on. A run started this way ignores the jobs' work hours.
# (The pipeline's jobs add theirs under the same prefix: `ispdesk.pipeline.api_jobs`.)
add_job_starters(
    router,
    {
        "auto_unassign_after_shift": AUTO_UNASSIGN_AFTER_SHIFT,
        "alert_overdue": OVERDUE_ALERTS,
        "end_of_shift_notifications": END_OF_SHIFT_NOTIFICATIONS,
    },
)
