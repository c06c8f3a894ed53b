"""Ticket list filters shared by the API and the queue page."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from ispdesk.system.config import get_config
from ispdesk.tickets.models import OPEN_STATUSES, Ticket
from ispdesk.tickets.schemas import TicketFilters


def overdue_after() -> timedelta:
    """How long a ticket may wait for a first response (SystemConfig)."""
    return timedelta(minutes=get_config("ticket_overdue_minutes"))


def overdue_q(now: datetime, overdue_after: timedelta) -> Q:
    # The same rule as metrics.is_overdue.
    return Q(
        status__in=OPEN_STATUSES, first_response_at__isnull=True, created_at__lt=now - overdue_after
    )


def filter_tickets(
    tickets: QuerySet[Ticket], filters: TicketFilters, now: datetime
) -> QuerySet[Ticket]:
    if filters.status:
        tickets = tickets.filter(status__in=filters.status)
    if filters.assignee == "none":
        # The unassigned queue: a ticket a Splynx administrator holds waits for nobody here.
        tickets = tickets.filter(assignee__isnull=True, splynx_held=False)
    elif filters.assignee:
        tickets = tickets.filter(assignee_id=int(filters.assignee))
    if filters.area:
        tickets = tickets.filter(area_id=filters.area)
    if filters.source:
        tickets = tickets.filter(source=filters.source)
    if filters.overdue is not None:
        overdue = overdue_q(now, overdue_after())
        tickets = tickets.filter(overdue) if filters.overdue else tickets.exclude(overdue)
    if filters.q and filters.q.strip():
        words = filters.q.strip()
        tickets = tickets.filter(
            Q(subject__icontains=words)
            | Q(body__icontains=words)
            | Q(customer_name__icontains=words)
            | Q(external_id__icontains=words)
        )
    if filters.order == "oldest":
        tickets = tickets.order_by("created_at", "pk")
    else:
        tickets = tickets.order_by("-created_at", "-pk")
    return tickets
