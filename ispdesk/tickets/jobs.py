"""Periodic ticket work: assignment of the queue, alerts, shift reminders, shift-end unassignment.

The alert and reminder jobs run only inside the jobs' work hours (`ispdesk.jobs.work_hours`);
a run started by hand runs at any hour. Unassignment after a shift runs at any hour: its
moment is the operator's own shift end, and gating it would leave a late shift's tickets with
someone who has gone home until the next morning.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from ispdesk.jobs.registry import JobContext, periodic_job
from ispdesk.tickets.actions import do_assign_unassigned
from ispdesk.tickets.alert_actions import (
    do_send_shift_summaries,
    do_send_ticket_alerts,
    do_unassign_after_shift,
)
from ispdesk.tickets.models import Ticket

ASSIGN_UNASSIGNED = "tickets.assign_unassigned"
OVERDUE_ALERTS = "tickets.overdue_alerts"
END_OF_SHIFT_NOTIFICATIONS = "tickets.end_of_shift_notifications"
AUTO_UNASSIGN_AFTER_SHIFT = "tickets.auto_unassign_after_shift"


@periodic_job(
    ASSIGN_UNASSIGNED,
    interval=timedelta(seconds=60),
    description=_(
        "Offers tickets waiting in the unassigned queue to the assignment engine, so they reach "
        "someone as soon as an operator resumes or a shift starts."
    ),
)
def assign_unassigned(ctx: JobContext) -> dict[str, int]:
    results = do_assign_unassigned(None, ctx.now)
    assigned = sum(1 for _ticket_id, decision in results if decision.operator_id is not None)
    return {"assigned": assigned, "waiting": Ticket.objects.unassigned().count()}


@periodic_job(
    OVERDUE_ALERTS,
    interval=timedelta(minutes=3),
    description=_(
        "Sends each operator one WhatsApp message listing their tickets without updates for "
        "too long, and a warning shortly before; within their alert hours, without repeats."
    ),
    work_hours_only=True,
)
def overdue_alerts(ctx: JobContext) -> dict[str, int]:
    return do_send_ticket_alerts(ctx.now)


@periodic_job(
    END_OF_SHIFT_NOTIFICATIONS,
    interval=timedelta(hours=1),
    description=_(
        "Sends operators whose shift is about to end a summary of their open tickets, once "
        "per shift."
    ),
    work_hours_only=True,
)
def end_of_shift_notifications(ctx: JobContext) -> dict[str, int]:
    return do_send_shift_summaries(ctx.now)


@periodic_job(
    AUTO_UNASSIGN_AFTER_SHIFT,
    interval=timedelta(minutes=40),
    description=_(
        "Gives the open tickets of operators whose shift has ended back to the assignment "
        "engine, and tells each operator which."
    ),
)
def auto_unassign_after_shift(ctx: JobContext) -> dict[str, int]:
    return do_unassign_after_shift(ctx.now)
