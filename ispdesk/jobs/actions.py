"""Admin actions on jobs: run now, change the interval, enable or disable."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ispdesk.jobs.models import JobSchedule
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

MIN_INTERVAL_SECONDS = 10
MAX_INTERVAL_SECONDS = 7 * 24 * 3600


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
    with transaction.atomic():
        locked = JobSchedule.objects.select_for_update().get(pk=schedule.pk)
        before = {"interval_seconds": locked.interval_seconds, "enabled": locked.enabled}
        if interval_seconds is not None:
            locked.interval_seconds = interval_seconds
            # A shorter interval applies now rather than after the old, longer wait.
            soonest = timezone.now() + timezone.timedelta(seconds=interval_seconds)
            locked.next_run_at = min(locked.next_run_at, soonest)
        if enabled is not None:
            locked.enabled = enabled
        after = {"interval_seconds": locked.interval_seconds, "enabled": locked.enabled}
        if after != before:
            locked.save()
            record_audit(actor, "job.updated", locked, before=before, after=after)
            send_event_on_commit(["role.admin"], {"type": "job:update", "job": locked.name})
    return locked
