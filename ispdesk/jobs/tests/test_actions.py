"""Admins run a job now, change its interval, switch it off; every change is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ispdesk.jobs.actions import JobScheduleError, do_request_run, do_update_schedule
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import JobContext
from ispdesk.jobs.runner import run_due_jobs
from ispdesk.system.models import AuditEvent


def later(schedule: JobSchedule, minutes: int = 30) -> None:
    JobSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() + timedelta(minutes=minutes)
    )


def test_it_runs_a_job_now_when_an_admin_asks(db, register_job, admin):
    manual_flags = []
    schedule = register_job("report", lambda ctx: manual_flags.append(ctx.manual))
    later(schedule)

    do_request_run(admin, schedule)
    (run,) = run_due_jobs("worker")

    assert run.trigger == JobRun.Trigger.MANUAL
    assert manual_flags == [True]
    schedule.refresh_from_db()
    assert schedule.run_requested_at is None
    assert schedule.next_run_at > timezone.now()
    audit = AuditEvent.objects.get(action="job.run_requested")
    assert (audit.actor, audit.object_repr) == (admin, "report")


def test_it_keeps_a_run_requested_while_the_job_was_running(db, register_job, admin):
    triggers = []

    def ask_again_once(ctx: JobContext) -> None:
        triggers.append(ctx.manual)
        if len(triggers) == 1:
            do_request_run(admin, JobSchedule.objects.get(name="busy"))

    register_job("busy", ask_again_once)

    (first,) = run_due_jobs("worker")
    (second,) = run_due_jobs("worker")

    assert (first.trigger, second.trigger) == (JobRun.Trigger.SCHEDULE, JobRun.Trigger.MANUAL)
    assert run_due_jobs("worker") == []


def test_it_uses_an_interval_changed_while_the_job_was_running(db, register_job, admin):
    def shorten(ctx: JobContext) -> None:
        schedule = JobSchedule.objects.get(name="long")
        do_update_schedule(admin, schedule, interval_seconds=60, enabled=None)

    schedule = register_job("long", shorten, interval=timedelta(hours=6))
    due_at = timezone.now() - timedelta(seconds=5)
    JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=due_at)

    run_due_jobs("worker")

    schedule.refresh_from_db()
    assert schedule.interval_seconds == 60
    assert schedule.next_run_at == due_at + timedelta(seconds=60)


def test_it_changes_the_interval_and_audits_before_and_after(db, register_job, admin):
    schedule = register_job("sync", lambda ctx: None, interval=timedelta(hours=1))
    later(schedule, minutes=50)

    updated = do_update_schedule(admin, schedule, interval_seconds=600, enabled=False)

    assert (updated.interval_seconds, updated.enabled) == (600, False)
    # A shorter interval applies now, not after the rest of the old wait.
    assert updated.next_run_at <= timezone.now() + timedelta(seconds=600)
    audit = AuditEvent.objects.get(action="job.updated")
    assert audit.actor == admin
    assert audit.before == {"interval_seconds": 3600, "enabled": True}
    assert audit.after == {"interval_seconds": 600, "enabled": False}


def test_it_does_not_audit_a_change_that_changes_nothing(db, register_job, admin):
    schedule = register_job("same", lambda ctx: None, interval=timedelta(hours=1))

    do_update_schedule(admin, schedule, interval_seconds=3600, enabled=True)

    assert not AuditEvent.objects.filter(action="job.updated").exists()


@pytest.mark.parametrize("seconds", [0, 9, 7 * 24 * 3600 + 1])
def test_it_refuses_an_interval_out_of_bounds(db, register_job, admin, seconds):
    schedule = register_job("bounded", lambda ctx: None, interval=timedelta(hours=1))

    with pytest.raises(JobScheduleError) as raised:
        do_update_schedule(admin, schedule, interval_seconds=seconds, enabled=None)

    assert raised.value.field == "interval_seconds"
    schedule.refresh_from_db()
    assert schedule.interval_seconds == 3600
    assert not AuditEvent.objects.exists()


def test_it_keeps_the_worker_lease_when_an_admin_edits_a_running_job(db, register_job, admin):
    schedule = register_job("leased", lambda ctx: None)
    JobSchedule.objects.filter(pk=schedule.pk).update(
        lease_owner="worker", lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    do_update_schedule(admin, schedule, interval_seconds=None, enabled=False)

    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.lease_owner) == (False, "worker")
