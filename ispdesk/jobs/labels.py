"""Words for what a job run stores as data: its counts' names and its known error texts.

`JobRun.counts` keys and the runner's own error texts are stored as stable English tokens
(`not_notified`, "system paused"), which the API returns as they are; pages show them through
these tables, in the reader's language. A name the table lacks is shown as stored.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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
# ("job count": plural in Spanish, where the same English word elsewhere is one ticket's state.)
_COUNTS: dict[str, Promise] = {
    "already_sent": pgettext_lazy("job count", "already sent"),
    "assigned": pgettext_lazy("job count", "assigned"),
    "audit_events_deleted": pgettext_lazy("job count", "audit events deleted"),
    "blocked": pgettext_lazy("job count", "could not be told"),
    "checked": pgettext_lazy("job count", "checked"),
    "closed": pgettext_lazy("job count", "closed"),
    "closed_in_splynx": pgettext_lazy("job count", "closed in Splynx"),
    "created": pgettext_lazy("job count", "created"),
    "errors": pgettext_lazy("job count", "errors"),
    "fetched": pgettext_lazy("job count", "fetched"),
    "imported": pgettext_lazy("job count", "imported"),
    "job_runs_deleted": pgettext_lazy("job count", "job runs deleted"),
    "not_notified": pgettext_lazy("job count", "not notified"),
    "notified": pgettext_lazy("job count", "notified"),
    "prealerted": pgettext_lazy("job count", "pre-alerted"),
    "pushed": pgettext_lazy("job count", "sent to Splynx"),
    "reassigned": pgettext_lazy("job count", "reassigned"),
    "reopened": pgettext_lazy("job count", "reopened"),
    "reopened_in_splynx": pgettext_lazy("job count", "reopened in Splynx"),
    "seen": pgettext_lazy("job count", "seen"),
    "sessions_deleted": pgettext_lazy("job count", "sessions deleted"),
    "skipped": pgettext_lazy("job count", "skipped"),
    "stale_consoles": pgettext_lazy("job count", "stale consoles"),
    "status_changed": pgettext_lazy("job count", "status changed"),
    "tables_analyzed": pgettext_lazy("job count", "tables analyzed"),
    "tickets": pgettext_lazy("job count", "tickets"),
    "unassigned": pgettext_lazy("job count", "unassigned"),
    "waiting": pgettext_lazy("job count", "waiting"),
}


def count_label(name: str) -> str:
    label = _COUNTS.get(name)
    return str(label) if label is not None else name


def error_text(error: str) -> str:
    known = _ERRORS.get(error)
    return str(known) if known is not None else error
