"""The ticket pipeline's periodic jobs (see `ispdesk.pipeline.flow`).

All run on schedule only inside the jobs' work hours and never while the system is paused;
a run started by hand (the jobs page, `POST /api/tickets/...`) runs at any hour.

`tickets.download` and `tickets.create` are the two halves of `tickets.ticket_flow`, for the
`/api/tickets/download` and `/api/tickets/create` endpoints. The registry has no "manual
only" jobs, and a switched-off job cannot be started by hand, so they are scheduled daily:
each is a subset of the flow and idempotent, so that run only repeats what the flow does.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from ispdesk.jobs.registry import JobContext, periodic_job
from ispdesk.pipeline import flow, splynx_follow, splynx_sync
from ispdesk.pipeline.run_context import SplynxSession

TICKET_FLOW = "tickets.ticket_flow"
CLOSE_SYNC = "tickets.close_sync"
SYNC_STATUS = "tickets.sync_status"
IMPORT_EXISTING = "tickets.import_existing"
DOWNLOAD = "tickets.download"
CREATE = "tickets.create"


@periodic_job(
    TICKET_FLOW,
    interval=timedelta(minutes=3),
    description=_(
        "Downloads new cases from Gestión Real, creates their tickets here and in Splynx, "
        "assigns each to an operator, sets the assignee in Splynx and tells the operator by "
        "WhatsApp."
    ),
    work_hours_only=True,
)
def ticket_flow(ctx: JobContext) -> dict[str, int]:
    return flow.run_ticket_flow(ctx.now)


@periodic_job(
    CLOSE_SYNC,
    interval=timedelta(minutes=5),
    description=_(
        "Closes here and in Splynx the tickets whose case was closed in Gestión Real, and "
        "reopens tickets closed in Splynx while their case is still open."
    ),
    work_hours_only=True,
)
def close_sync(ctx: JobContext) -> dict[str, int]:
    return flow.close_sync(ctx.now)


@periodic_job(
    SYNC_STATUS,
    interval=timedelta(minutes=5),
    description=_(
        "Brings each ticket's status from Splynx, records reassignments made in Splynx and "
        "tells the operator a ticket was reassigned to by WhatsApp."
    ),
    work_hours_only=True,
)
def sync_status(ctx: JobContext) -> dict[str, int]:
    with SplynxSession() as session:
        client = session.client()
        if client is None:
            return {}
        counts = splynx_follow.sync_status(client=client, now=ctx.now)
    # A hand reassignment in Splynx is announced now, not at the next ticket flow (which may
    # be switched off); the notices' own record keeps it to one message either way.
    counts["notified"] = flow.send_assignment_notices(ctx.now)["notified"]
    return counts


@periodic_job(
    IMPORT_EXISTING,
    interval=timedelta(minutes=5),
    description=_("Imports the open Splynx tickets that ispdesk does not know yet."),
    work_hours_only=True,
)
def import_existing(ctx: JobContext) -> dict[str, int]:
    with SplynxSession() as session:  # one token session per run, logged out at its end
        client = session.client()
        if client is None:
            return {}
        return splynx_sync.import_existing(client=client, now=ctx.now)


@periodic_job(
    DOWNLOAD,
    interval=timedelta(days=1),
    description=_(
        "Only the download of the ticket flow: new cases from Gestión Real become tickets "
        "here. For running by hand; the ticket flow does this every few minutes."
    ),
    work_hours_only=True,
)
def download(ctx: JobContext) -> dict[str, int]:
    return flow.download_cases(ctx.now)


@periodic_job(
    CREATE,
    interval=timedelta(days=1),
    description=_(
        "Only the Splynx part of the ticket flow: tickets not yet in Splynx are created there "
        "and assignees are set. For running by hand; the ticket flow does this every few "
        "minutes."
    ),
    work_hours_only=True,
)
def create(ctx: JobContext) -> dict[str, int]:
    return flow.create_in_splynx(ctx.now)
