"""Claiming and running due jobs, and the scheduler loop.

A worker claims a job with a conditional UPDATE that must change exactly one row (the job is
due, enabled and not leased by a live worker), so several workers never run one job at once.
A crashed worker's lease expires after `JOBS_LEASE_SECONDS` and another worker takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from ispdesk.jobs.actions import do_request_run
from ispdesk.jobs.labels import ABANDONED_RUN_ERROR, NOT_REGISTERED_ERROR, PAUSED_ERROR
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import JobContext, get_job, registered_jobs
from ispdesk.jobs.work_hours import WorkHoursCheck, load_work_hours
from ispdesk.realtime.events import send_event_on_commit

logger = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def ensure_schedules(now: datetime | None = None) -> int:
    """Create a schedule row for every registered job that has none; return how many."""
    now = now or timezone.now()
    existing = set(JobSchedule.objects.values_list("name", flat=True))
    created = 0
    for name, job in registered_jobs().items():
        if name in existing:
            continue
        _schedule, was_created = JobSchedule.objects.get_or_create(
            name=name,
            defaults={"interval_seconds": int(job.interval.total_seconds()), "next_run_at": now},
        )
        created += int(was_created)
    return created


def _lease_free(now: datetime) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)


def claim(schedule_id: int, worker: str, now: datetime) -> bool:
    """Take the lease of one due job; True only for the single worker whose UPDATE won.

    `now` must be the time of this claim, not of an earlier poll: the lease runs from it.
    """
    lease = timedelta(seconds=settings.JOBS_LEASE_SECONDS)
    changed = (
        JobSchedule.objects.filter(pk=schedule_id, enabled=True, next_run_at__lte=now)
        .filter(_lease_free(now))
        .update(lease_owner=worker, lease_expires_at=now + lease, last_started_at=now)
    )
    return changed == 1


def due_schedule_ids(now: datetime) -> list[int]:
    return [row[0] for row in _due_schedules(now)]


def _due_schedules(now: datetime) -> list[tuple[int, str, datetime, datetime | None]]:
    """(id, name, next_run_at, run_requested_at) of every due job, soonest first."""
    names = list(registered_jobs())
    return list(
        JobSchedule.objects.filter(enabled=True, next_run_at__lte=now, name__in=names)
        .filter(_lease_free(now))
        .order_by("next_run_at", "name")
        .values_list("pk", "name", "next_run_at", "run_requested_at")
    )


def postpone(schedule_id: int, seen_next_run_at: datetime, until: datetime, now: datetime) -> bool:
    """Move a due scheduled run outside work hours on to `until`, without running it.

    A conditional UPDATE like `claim`: it changes nothing if another worker claimed the job,
    or an admin asked for a run, since we read the row.
    """
    changed = (
        JobSchedule.objects.filter(
            pk=schedule_id,
            enabled=True,
            next_run_at=seen_next_run_at,
            run_requested_at__isnull=True,
        )
        .filter(_lease_free(now))
        .update(next_run_at=until)
    )
    return changed == 1


def run_due_jobs(
    worker: str, now: datetime | None = None, stop: threading.Event | None = None
) -> list[JobRun]:
    """Claim and run every job that is due now; return the runs this worker made.

    `now` (for tests) fixes the clock for choosing and claiming; otherwise each claim reads
    the clock afresh, so a lease taken after a long earlier job is not born expired. Once
    `stop` is set no further job is claimed.
    """
    runs = []
    hours: WorkHoursCheck | None = None
    for schedule_id, name, next_run_at, run_requested_at in _due_schedules(now or timezone.now()):
        if stop is not None and stop.is_set():
            break
        claimed_at = now or timezone.now()
        job = get_job(name)
        # A run asked for by hand ignores the work hours; a scheduled one waits for them.
        if job is not None and job.work_hours_only and run_requested_at is None:
            hours = hours or load_work_hours(claimed_at)
            if not hours.allows(claimed_at):
                postpone(schedule_id, next_run_at, hours.postponed_until(claimed_at), claimed_at)
                continue
        if claim(schedule_id, worker, claimed_at):
            runs.append(_run_claimed(schedule_id, worker, claimed_at))
    return runs


def next_run_after(due_at: datetime, interval: timedelta, finished: datetime) -> datetime:
    """The first slot of the job's grid (due_at + k·interval) after `finished`.

    A fixed grid keeps the rhythm (no drift by the run's duration or the poll delay) and a
    run that overran its interval skips the missed slots instead of running back to back.
    """
    if finished < due_at:
        return due_at + interval
    return due_at + interval * ((finished - due_at) // interval + 1)


def _start_run(schedule: JobSchedule, worker: str, started: datetime, manual: bool) -> JobRun:
    """The run's row: the one queued by `request_run` when there is one, else a new one."""
    queued = None
    if manual:
        queued = (
            JobRun.objects.filter(schedule=schedule, outcome=JobRun.Outcome.QUEUED)
            .order_by("pk")
            .first()
        )
    if queued is not None:
        queued.started_at = started
        queued.worker = worker
        queued.outcome = JobRun.Outcome.RUNNING
        queued.save(update_fields=["started_at", "worker", "outcome"])
        return queued
    return JobRun.objects.create(
        schedule=schedule,
        started_at=started,
        worker=worker,
        trigger=JobRun.Trigger.MANUAL if manual else JobRun.Trigger.SCHEDULE,
    )


def request_run(actor: Any, schedule: JobSchedule) -> JobRun:
    """Ask for a run now (any worker takes it, at any hour) and return its queued JobRun.

    For API endpoints that answer 202 with the run's id. Requests made before a worker takes
    the job share one run, as "run now" clicks do.
    """
    with transaction.atomic():
        do_request_run(actor, schedule)
        locked = JobSchedule.objects.select_for_update().get(pk=schedule.pk)
        queued = (
            JobRun.objects.filter(schedule=locked, outcome=JobRun.Outcome.QUEUED)
            .order_by("pk")
            .first()
        )
        if queued is not None:
            return queued
        return JobRun.objects.create(
            schedule=locked,
            started_at=locked.run_requested_at or timezone.now(),
            trigger=JobRun.Trigger.MANUAL,
            outcome=JobRun.Outcome.QUEUED,
        )


def request_run_by_name(actor: Any, name: str) -> JobRun:
    """`request_run` for a registered job, creating its schedule row if needed."""
    if get_job(name) is None:
        raise LookupError(f"job {name!r} is not registered")
    ensure_schedules()
    return request_run(actor, JobSchedule.objects.get(name=name))


def _run_claimed(schedule_id: int, worker: str, started: datetime) -> JobRun:
    from ispdesk.system.actions import is_system_paused

    schedule = JobSchedule.objects.get(pk=schedule_id)
    job = get_job(schedule.name)
    # "Run now" requests seen at the claim are served by this run; later ones are kept.
    request_served = schedule.run_requested_at
    manual = request_served is not None
    # Runs left "running" by a worker whose lease expired never finish; say so.
    JobRun.objects.filter(schedule_id=schedule_id, outcome=JobRun.Outcome.RUNNING).update(
        outcome=JobRun.Outcome.ERROR, finished_at=started, error=ABANDONED_RUN_ERROR
    )
    run = _start_run(schedule, worker, started, manual)
    counts: dict[str, int] = {}
    error = ""
    if job is None:
        outcome = JobRun.Outcome.ERROR
        error = NOT_REGISTERED_ERROR
    elif job.honours_pause and is_system_paused():
        outcome = JobRun.Outcome.SKIPPED
        error = PAUSED_ERROR
    else:
        try:
            counts = job.function(JobContext(now=started, worker=worker, manual=manual)) or {}
            outcome = JobRun.Outcome.OK
        except Exception:
            logger.exception("job %s failed", schedule.name)
            outcome = JobRun.Outcome.ERROR
            # The innermost frames say where it failed; keep those.
            error = traceback.format_exc(limit=-20)[-4000:]
            if not connection.in_atomic_block:
                # A job that broke the connection must not break recording its run.
                close_old_connections()
    finished = timezone.now()
    with transaction.atomic():
        JobRun.objects.filter(pk=run.pk).update(
            finished_at=finished, outcome=outcome, counts=counts, error=error
        )
        # Release only our own lease: if it expired and another worker took over, leave it.
        # Read the row under lock: an admin may have changed the interval or asked for a
        # run while this one was going.
        current = (
            JobSchedule.objects.select_for_update()
            .filter(pk=schedule_id, lease_owner=worker)
            .first()
        )
        if current is not None:
            if current.run_requested_at is not None and current.run_requested_at != request_served:
                next_run_at = current.next_run_at
                run_requested_at = current.run_requested_at
            else:
                interval = timedelta(seconds=current.interval_seconds)
                next_run_at = next_run_after(schedule.next_run_at, interval, finished)
                run_requested_at = None
            JobSchedule.objects.filter(pk=schedule_id, lease_owner=worker).update(
                lease_owner="",
                lease_expires_at=None,
                last_finished_at=finished,
                last_outcome=outcome,
                run_requested_at=run_requested_at,
                next_run_at=next_run_at,
            )
        send_event_on_commit(
            ["role.admin"], {"type": "job:run", "job": schedule.name, "outcome": outcome}
        )
    run.refresh_from_db()
    return run


class SchedulerLoop:
    """Runs due jobs until stopped; one bad iteration never ends the loop."""

    def __init__(self, worker: str | None = None, poll_seconds: float | None = None) -> None:
        self.worker = worker or new_worker_id()
        self.poll_seconds = poll_seconds or settings.JOBS_POLL_SECONDS
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()

    def run(self) -> None:
        logger.info("scheduler %s started (poll every %ss)", self.worker, self.poll_seconds)
        failures = 0
        try:
            while not self.stop_event.is_set():
                try:
                    close_old_connections()
                    ensure_schedules()
                    run_due_jobs(self.worker, stop=self.stop_event)
                    failures = 0
                except Exception:
                    failures += 1
                    logger.exception("scheduler iteration failed (%s in a row)", failures)
                    close_old_connections()
                delay = min(self.poll_seconds * (2 ** min(failures, 5)), 300)
                self.wake_event.wait(delay)
                self.wake_event.clear()
        finally:
            # This thread's connection would otherwise outlive it (and block test teardown).
            connections.close_all()
            logger.info("scheduler %s stopped", self.worker)
