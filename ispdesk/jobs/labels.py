"""Words for what a job run stores as data: its counts' names and its known error texts.

`JobRun.counts` keys and the runner's own error texts are stored as stable English tokens
(`not_notified`, "system paused"), which the API returns as they are; pages show them through
these tables, in the reader's language. A name the table lacks is shown as stored.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ABANDONED_RUN_ERROR = (
    "abandoned: the lease expired before this run finished (the worker stopped or the run "
    "took longer than JOBS_LEASE_SECONDS)"
)
NOT_REGISTERED_ERROR = "job is no longer registered"
PAUSED_ERROR = "system paused"

_ERRORS: dict[str, Promise] = {
    ABANDONED_RUN_ERROR: _(
        "Abandoned: the lease expired before this run finished (the worker stopped, or the "
        "run took longer than JOBS_LEASE_SECONDS)."
    ),
    NOT_REGISTERED_ERROR: _("This job no longer exists in this version."),
    PAUSED_ERROR: _("The system is paused."),
}
# Every job's counts share one vocabulary: the same name means the same thing everywhere.
_COUNTS: dict[str, Promise] = {
    "already_sent": _("already sent"),
    "assigned": _("assigned"),
    "audit_events_deleted": _("audit events deleted"),
    "blocked": _("could not be told"),
    "checked": _("checked"),
    "closed": _("closed"),
    "closed_in_splynx": _("closed in Splynx"),
    "created": _("created"),
    "errors": _("errors"),
    "fetched": _("fetched"),
    "imported": _("imported"),
    "job_runs_deleted": _("job runs deleted"),
    "not_notified": _("not notified"),
    "notified": _("notified"),
    "prealerted": _("pre-alerted"),
    "pushed": _("sent to Splynx"),
    "reassigned": _("reassigned"),
    "reopened": _("reopened"),
    "seen": _("seen"),
    "sessions_deleted": _("sessions deleted"),
    "skipped": _("skipped"),
    "stale_consoles": _("stale consoles"),
    "status_changed": _("status changed"),
    "tickets": _("tickets"),
    "unassigned": _("unassigned"),
    "waiting": _("waiting"),
}


def count_label(name: str) -> str:
    label = _COUNTS.get(name)
    return str(label) if label is not None else name


def error_text(error: str) -> str:
    known = _ERRORS.get(error)
    return str(known) if known is not None else error
