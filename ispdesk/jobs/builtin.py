"""Housekeeping: prune expired sessions, old job runs and old audit events; keep the
database's planner statistics current."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.db import connection
from django.utils.translation import gettext_lazy as _

from ispdesk.jobs.models import JobRun
from ispdesk.jobs.registry import JobContext, periodic_job
from ispdesk.lib.dbstats import refresh_statistics
from ispdesk.system.config import get_config
from ispdesk.system.models import AuditEvent


@periodic_job(
    "housekeeping",
    interval=timedelta(hours=1),
    description=_("Deletes expired sessions, old job runs and old audit log entries."),
    honours_pause=False,
)
def housekeeping(ctx: JobContext) -> dict[str, int]:
    sessions, _by_model = Session.objects.filter(expire_date__lt=ctx.now).delete()
    run_cutoff = ctx.now - timedelta(days=get_config("job_run_retention_days"))
    runs, _by_model = JobRun.objects.filter(started_at__lt=run_cutoff).delete()
    audit_cutoff = ctx.now - timedelta(days=get_config("audit_retention_days"))
    audits, _by_model = AuditEvent.objects.filter(created_at__lt=audit_cutoff).delete()
    return {"sessions_deleted": sessions, "job_runs_deleted": runs, "audit_events_deleted": audits}


DATABASE_STATISTICS = "database.statistics"


def database_statistics(ctx: JobContext) -> dict[str, int]:
    return {"tables_analyzed": len(refresh_statistics())}


# PostgreSQL only: elsewhere it would find nothing to do and leave a run behind every 30 s.
if connection.vendor == "postgresql":
    periodic_job(
        DATABASE_STATISTICS,
        interval=timedelta(seconds=30),
        description=_(
            "Refreshes the database's planner statistics for tables that changed a lot since "
            "they were last analyzed (PostgreSQL), so queries stay fast while a storm fills "
            "the queues."
        ),
        honours_pause=False,
    )(database_statistics)
