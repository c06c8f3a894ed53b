"""Admin actions on jobs: run now, change the interval, enable or disable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.jobs.models import JobSchedule
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

MIN_INTERVAL_SECONDS = 10
MAX_INTERVAL_SECONDS = 7 * 24 * 3600


class JobScheduleError(ValueError):
    """A schedule change was refused; `field` names the bad value."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def do_request_run(actor: Any, schedule: JobSchedule) -> None:
    """Make the job due now; the next loop iteration of any worker runs it."""
    with transaction.atomic():
        now = timezone.now()
        JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=now, run_requested_at=now)
        record_audit(actor, "job.run_requested", schedule)
        send_event_on_commit(["role.admin"], {"type": "job:update", "job": schedule.name})


def do_update_schedule(
    actor: Any, schedule: JobSchedule, *, interval_seconds: int | None, enabled: bool | None
) -> JobSchedule:
    if interval_seconds is not None and not (
        MIN_INTERVAL_SECONDS <= interval_seconds <= MAX_INTERVAL_SECONDS
    ):
        raise JobScheduleError(
            "interval_seconds",
            _("must be between %(min)s and %(max)s seconds")
            % {"min": MIN_INTERVAL_SECONDS, "max": MAX_INTERVAL_SECONDS},
        )
    with transaction.atomic():
        locked = JobSchedule.objects.select_for_update().get(pk=schedule.pk)
        before = {"interval_seconds": locked.interval_seconds, "enabled": locked.enabled}
        if interval_seconds is not None:
            locked.interval_seconds = interval_seconds
            # A shorter interval applies now rather than after the old, longer wait.
            soonest = timezone.now() + timedelta(seconds=interval_seconds)
            locked.next_run_at = min(locked.next_run_at, soonest)
        if enabled is not None:
            locked.enabled = enabled
        after = {"interval_seconds": locked.interval_seconds, "enabled": locked.enabled}
        if after != before:
            # Only the admin's fields: a worker may be finishing a run of this job right now.
            locked.save(update_fields=["interval_seconds", "enabled", "next_run_at"])
            record_audit(actor, "job.updated", locked, before=before, after=after)
            send_event_on_commit(["role.admin"], {"type": "job:update", "job": locked.name})
    return locked
