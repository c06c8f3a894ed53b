"""Which tickets a person may see and act on; the only way views fetch a ticket for a user.

Supervisors and admins see every ticket. An operator sees the tickets assigned to their
Operator profile. Anyone else (no profile, inactive, anonymous) sees none. A ticket someone
may not see is answered with 404, so guessing ids reveals nothing.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import OuterRef, Subquery
from django.http import Http404

from ispdesk.operators.models import Operator
from ispdesk.tickets.models import EventKind, Ticket, TicketEvent, TicketQuerySet


def ticket_rows() -> TicketQuerySet:
    """Tickets with what rendering them needs, fetched in the same query.

    `first_assigned_at` is the time of the first assignment event: `Ticket.assigned_at`
    moves on every reassignment and is cleared by an unassignment.
    """
    first_assigned = (
        TicketEvent.objects.filter(ticket=OuterRef("pk"), kind=EventKind.ASSIGNED)
        .order_by("created_at", "pk")
        .values("created_at")[:1]
    )
    rows = Ticket.objects.select_related("assignee__user", "area").annotate(
        first_assigned_at=Subquery(first_assigned)
    )
    return cast(TicketQuerySet, rows)


def _active_user(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def tickets_for(user: Any) -> TicketQuerySet:
    if not _active_user(user):
        return ticket_rows().none()
    if user.is_supervisor_or_admin:
        return ticket_rows()
    # No profile means no assigned tickets: the join matches nothing.
    return ticket_rows().filter(assignee__user_id=user.pk)


def access_ticket(user: Any, ticket_id: int) -> Ticket:
    ticket = tickets_for(user).filter(pk=ticket_id).first()
    if ticket is None:
        raise Http404("ticket not found")
    return ticket


def can_create_tickets(user: Any) -> bool:
    """Supervisors, admins and anyone with an active operator profile."""
    if not _active_user(user):
        return False
    if user.is_supervisor_or_admin:
        return True
    return Operator.objects.filter(user_id=user.pk, active=True).exists()
