"""The pipeline overview (admins and supervisors): is the ticket pipeline working?

One page answers it: each pipeline job's last run and next run, the external systems' state,
and the tickets that have not reached Splynx (waiting, or failing with an error). It reads
only; "Run now" posts to the jobs page's own action. The page refetches its live parts on
`job:*` events (sent to admins) and after a reconnect; supervisors, who get no job events,
refetch on ticket events and every minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Case, Count, F, IntegerField, Q, Value, When, Window
from django.db.models.functions import RowNumber
from django.http import HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ispdesk.accounts.decorators import AuthenticatedRequest, supervisor_required
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import JobDefinition, registered_jobs
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.jobs.views import format_seconds
from ispdesk.lib.htmx import render_page_or_fragment
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.tickets.models import Status, Ticket

# In the order a ticket meets them. Some are registered by modules that may not exist yet on
# an older install; the page shows those that are registered when it is asked for.
PIPELINE_JOBS = (
    "tickets.ticket_flow",
    "tickets.close_sync",
    "tickets.sync_status",
    "tickets.import_existing",
    "tickets.assign_unassigned",
    "tickets.overdue_alerts",
    "tickets.end_of_shift_notifications",
    "tickets.auto_unassign_after_shift",
)
ERRORS_SHOWN = 10
FINISHED = (JobRun.Outcome.OK, JobRun.Outcome.ERROR, JobRun.Outcome.SKIPPED)

SETTINGS_PAGES: dict[str, str] = {
    SystemKind.SPLYNX: "integration_splynx",
    SystemKind.GESTIONREAL: "integration_gestionreal",
    SystemKind.TICKET_HOOK: "integration_ticket_hook",
}


@dataclass(frozen=True)
class ShownRun:
    run: JobRun

    @property
    def duration(self) -> str:
        seconds = self.run.duration_seconds
        return "" if seconds is None else format_seconds(seconds)


@dataclass
class JobRow:
    definition: JobDefinition
    schedule: JobSchedule
    # The latest finished run; when that one was skipped (the system was paused), also the
    # latest run that did work, whose counts are what a person wants to see.
    last_run: JobRun | None = None
    last_worked: JobRun | None = None

    @property
    def name(self) -> str:
        return self.schedule.name

    @property
    def interval(self) -> str:
        return format_seconds(self.schedule.interval_seconds)

    @property
    def running(self) -> bool:
        return bool(self.schedule.lease_owner)

    @property
    def requested(self) -> bool:
        return self.schedule.run_requested_at is not None

    @property
    def shown_runs(self) -> list[ShownRun]:
        return [ShownRun(run) for run in (self.last_run, self.last_worked) if run is not None]


@dataclass(frozen=True)
class SystemRow:
    kind: str
    name: str
    system: ExternalSystem | None
    settings_url: str


@dataclass
class TicketCounts:
    waiting: int = 0
    failing: int = 0
    latest_errors: list[Ticket] = field(default_factory=list)


def _last_runs(rows: dict[int, JobRow]) -> None:
    """Fill each row's last runs in one query: the newest finished run of each job, ranked
    separately among skipped runs and runs that did work (so at most two per job)."""
    skipped = Case(
        When(outcome=JobRun.Outcome.SKIPPED, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    ranked = (
        JobRun.objects.filter(schedule_id__in=list(rows), outcome__in=FINISHED)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("schedule_id"), skipped],
                order_by=[F("started_at").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .order_by("schedule_id", "-started_at", "-id")
    )
    for run in ranked:
        row = rows[run.schedule_id]
        if row.last_run is None:
            row.last_run = run
        elif row.last_run.outcome == JobRun.Outcome.SKIPPED and row.last_worked is None:
            row.last_worked = run


def pipeline_jobs() -> list[JobRow]:
    definitions = registered_jobs()
    names = [name for name in PIPELINE_JOBS if name in definitions]
    # A job registered since the last scheduler loop has no row yet: make it, as the jobs page
    # does, so that "Run now" has something to run.
    ensure_schedules()
    schedules = {s.name: s for s in JobSchedule.objects.filter(name__in=names)}
    rows = [
        JobRow(definition=definitions[name], schedule=schedules[name])
        for name in names
        if name in schedules
    ]
    if rows:
        _last_runs({row.schedule.pk: row for row in rows})
    return rows


def external_systems(*, with_links: bool) -> list[SystemRow]:
    stored = {system.kind: system for system in ExternalSystem.objects.all()}
    return [
        SystemRow(
            kind=kind,
            name=str(label),
            system=stored.get(kind),
            settings_url=reverse(SETTINGS_PAGES[kind]) if with_links else "",
        )
        for kind, label in SystemKind.choices
    ]


def ticket_counts() -> TicketCounts:
    totals = Ticket.objects.aggregate(
        waiting=Count("pk", filter=Q(splynx_ticket_id__isnull=True) & ~Q(status=Status.CLOSED)),
        failing=Count("pk", filter=~Q(splynx_error="")),
    )
    latest = list(
        Ticket.objects.exclude(splynx_error="")
        .only("pk", "subject", "status", "splynx_error", "updated_at", "customer_name")
        .order_by("-updated_at", "-pk")[:ERRORS_SHOWN]
    )
    return TicketCounts(
        waiting=totals["waiting"] or 0, failing=totals["failing"] or 0, latest_errors=latest
    )


TITLE: str | Promise = _("Ticket pipeline")


@supervisor_required
def pipeline_overview(request: AuthenticatedRequest) -> HttpResponse:
    """The page; for HTMX requests only its live parts (jobs, tickets), swapped by id."""
    is_admin = request.user.is_admin
    context = {
        "title": TITLE,
        "jobs": pipeline_jobs(),
        "systems": external_systems(with_links=is_admin),
        "tickets": ticket_counts(),
        "can_run": is_admin,
        "errors_shown": ERRORS_SHOWN,
        "pipeline_page": True,  # marks the section in the navigation
    }
    return render_page_or_fragment(
        request, "pipeline/overview.html", "pipeline/_overview_live.html", context
    )
