"""Housekeeping prunes what has expired and keeps what is recent."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs
from ispdesk.system.actions import do_pause_system, do_set_config
from ispdesk.system.audit import record_audit
from ispdesk.system.models import AuditEvent


def make_session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["marker"] = 1
    store.create()
    Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
    return store.session_key or ""


def make_audit_event(age: timedelta) -> AuditEvent:
    event = record_audit(None, "test.event", object_type="test", object_id="1")
    AuditEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - age)
    return event


def test_it_prunes_expired_sessions_and_old_history_and_keeps_recent(db, admin):
    do_set_config(admin, {"job_run_retention_days": 30, "audit_retention_days": 90})
    ensure_schedules()
    JobSchedule.objects.exclude(name="housekeeping").update(enabled=False)
    housekeeping = JobSchedule.objects.get(name="housekeeping")
    expired_session = make_session(timedelta(minutes=-1))
    live_session = make_session(timedelta(hours=1))
    old_run = JobRun.objects.create(
        schedule=housekeeping, started_at=timezone.now() - timedelta(days=31), outcome="ok"
    )
    recent_run = JobRun.objects.create(
        schedule=housekeeping, started_at=timezone.now() - timedelta(days=29), outcome="ok"
    )
    AuditEvent.objects.all().delete()
    old_event = make_audit_event(timedelta(days=91))
    recent_event = make_audit_event(timedelta(days=89))

    (run,) = run_due_jobs("worker")

    assert run.schedule == housekeeping
    assert run.outcome == JobRun.Outcome.OK
    assert run.counts == {"sessions_deleted": 1, "job_runs_deleted": 1, "audit_events_deleted": 1}
    assert list(Session.objects.values_list("pk", flat=True)) == [live_session]
    assert not Session.objects.filter(pk=expired_session).exists()
    assert not JobRun.objects.filter(pk=old_run.pk).exists()
    assert JobRun.objects.filter(pk=recent_run.pk).exists()
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent_event.pk]
    assert not AuditEvent.objects.filter(pk=old_event.pk).exists()


def test_it_runs_housekeeping_even_while_the_system_is_paused(db, admin):
    do_pause_system(admin)
    ensure_schedules()
    JobSchedule.objects.exclude(name="housekeeping").update(enabled=False)

    (run,) = run_due_jobs("worker")

    assert (run.schedule.name, run.outcome) == ("housekeeping", JobRun.Outcome.OK)
