"""Periodic ticket work."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from ispdesk.jobs.registry import JobContext, periodic_job
from ispdesk.tickets.actions import do_assign_unassigned
from ispdesk.tickets.models import Ticket

ASSIGN_UNASSIGNED = "tickets.assign_unassigned"


@periodic_job(
    ASSIGN_UNASSIGNED,
    interval=timedelta(seconds=60),
    description=_(
        "Offers tickets waiting in the unassigned queue to the assignment engine, so they reach "
        "someone as soon as an operator resumes or a shift starts."
    ),
)
def assign_unassigned(ctx: JobContext) -> dict[str, int]:
    results = do_assign_unassigned(None)
    assigned = sum(1 for _ticket_id, decision in results if decision.operator_id is not None)
    return {"assigned": assigned, "waiting": Ticket.objects.unassigned().count()}
