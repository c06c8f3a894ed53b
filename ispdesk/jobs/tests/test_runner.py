"""Claiming and running due jobs: once per due time, whatever the number of workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import JobContext
from ispdesk.jobs.runner import (
    ABANDONED_RUN_ERROR,
    SchedulerLoop,
    claim,
    next_run_after,
    run_due_jobs,
)
from ispdesk.system.actions import do_pause_system, do_resume_system

BARRIER_TIMEOUT = 30


class Calls(list[str]):
    """A job function that notes which worker ran it."""

    def __call__(self, ctx: JobContext) -> None:
        self.append(ctx.worker)


def make_due(schedule: JobSchedule, seconds_ago: int = 1) -> None:
    JobSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def run_in_threads(
    count: int, target: Callable[[int], object], barriers: Sequence[threading.Barrier] = ()
) -> list[BaseException]:
    """Run `target(index)` in `count` threads, each with its own connection; return errors.

    A failing thread breaks the barriers so the others stop at once instead of timing out.
    """
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:
            errors.append(exc)
            for barrier in barriers:
                barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker thread hung"
    return errors


def test_it_runs_a_due_job_once_per_round_with_two_workers(transactional_db, register_job):
    rounds = 20
    calls = Calls()
    schedule = register_job("race", calls)
    start = threading.Barrier(3, timeout=BARRIER_TIMEOUT)
    end = threading.Barrier(3, timeout=BARRIER_TIMEOUT)
    runs_per_round: list[int] = []

    def worker(index: int) -> None:
        for _round in range(rounds):
            start.wait()
            try:
                run_due_jobs(f"worker-{index}")
            finally:
                end.wait()

    def referee() -> None:
        for _round in range(rounds):
            make_due(schedule)
            before = len(calls)
            start.wait()
            end.wait()
            runs_per_round.append(len(calls) - before)

    errors = run_in_threads(
        3, lambda index: referee() if index == 2 else worker(index), barriers=[start, end]
    )

    assert errors == []
    assert runs_per_round == [1] * rounds
    assert JobRun.objects.filter(schedule=schedule).count() == rounds
    assert set(JobRun.objects.values_list("outcome", flat=True)) == {JobRun.Outcome.OK}
    schedule.refresh_from_db()
    assert schedule.lease_owner == ""


def test_it_lets_exactly_one_of_two_simultaneous_claims_win(transactional_db, register_job):
    rounds = 20
    schedule = register_job("contested", lambda ctx: None)
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    wins: list[list[bool]] = [[], []]

    def worker(index: int) -> None:
        for _round in range(rounds):
            if index == 0:
                JobSchedule.objects.filter(pk=schedule.pk).update(
                    lease_owner="", lease_expires_at=None
                )
            barrier.wait()  # the lease is free: both claim now
            wins[index].append(claim(schedule.pk, f"worker-{index}", timezone.now()))
            barrier.wait()  # both have claimed: the round is over

    make_due(schedule)
    errors = run_in_threads(2, worker, barriers=[barrier])

    assert errors == []
    assert [a + b for a, b in zip(*wins, strict=True)] == [1] * rounds


def test_it_takes_over_the_expired_lease_of_a_crashed_worker(db, register_job):
    calls = Calls()
    schedule = register_job("orphan", calls)
    crashed_at = timezone.now() - timedelta(hours=1)
    JobSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=crashed_at,
        lease_owner="crashed",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    abandoned = JobRun.objects.create(schedule=schedule, started_at=crashed_at, worker="crashed")

    runs = run_due_jobs("survivor")

    assert calls == ["survivor"]
    assert [run.outcome for run in runs] == [JobRun.Outcome.OK]
    abandoned.refresh_from_db()
    assert abandoned.outcome == JobRun.Outcome.ERROR
    assert abandoned.error == ABANDONED_RUN_ERROR
    schedule.refresh_from_db()
    assert schedule.lease_owner == ""
    assert schedule.next_run_at > timezone.now()


def test_it_leaves_a_job_alone_while_another_worker_holds_a_live_lease(db, register_job):
    calls = Calls()
    schedule = register_job("busy", calls)
    JobSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=1),
        lease_owner="alive",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )

    assert run_due_jobs("intruder") == []
    assert not claim(schedule.pk, "intruder", timezone.now())
    assert calls == []
    schedule.refresh_from_db()
    assert schedule.lease_owner == "alive"


def test_it_does_not_run_a_disabled_job(db, register_job):
    calls = Calls()
    schedule = register_job("off", calls)
    JobSchedule.objects.filter(pk=schedule.pk).update(enabled=False)
    make_due(schedule, seconds_ago=3600)

    assert run_due_jobs("worker") == []
    assert calls == []
    assert not JobRun.objects.exists()


def test_it_does_not_run_a_job_before_it_is_due(db, register_job):
    calls = Calls()
    schedule = register_job("later", calls)
    JobSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() + timedelta(minutes=1)
    )

    assert run_due_jobs("worker") == []
    assert calls == []


def explode(ctx):  # type: ignore[no-untyped-def]
    raise ValueError("the gateway said no")


def test_it_records_a_failing_job_with_its_traceback_and_runs_the_next_one(db, register_job):
    calls = Calls()
    failing = register_job("a-failing", explode)
    working = register_job("b-working", calls)
    for schedule in (failing, working):
        make_due(schedule)

    runs = run_due_jobs("worker")

    assert [(run.schedule.name, run.outcome) for run in runs] == [
        ("a-failing", JobRun.Outcome.ERROR),
        ("b-working", JobRun.Outcome.OK),
    ]
    assert "Traceback (most recent call last)" in runs[0].error
    assert "in explode" in runs[0].error
    assert "ValueError: the gateway said no" in runs[0].error
    assert runs[0].finished_at is not None
    assert calls == ["worker"]
    failing.refresh_from_db()
    assert failing.last_outcome == JobRun.Outcome.ERROR
    assert failing.lease_owner == ""
    assert failing.next_run_at > timezone.now()


def query_a_missing_table(ctx):  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")


def test_it_keeps_going_after_a_job_breaks_a_query(transactional_db, register_job):
    register_job("a-bad-sql", query_a_missing_table)
    register_job("b-counts", lambda ctx: {"rows": JobSchedule.objects.count()})
    JobSchedule.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))

    runs = run_due_jobs("worker")

    assert [run.outcome for run in runs] == [JobRun.Outcome.ERROR, JobRun.Outcome.OK]
    assert "no_such_table" in runs[0].error
    assert runs[1].counts["rows"] >= 2


def test_it_stores_the_counts_a_job_returns(db, register_job):
    register_job("counting", lambda ctx: {"deleted": 3, "kept": 1})

    (run,) = run_due_jobs("worker")

    assert run.counts == {"deleted": 3, "kept": 1}
    assert run.trigger == JobRun.Trigger.SCHEDULE
    assert run.worker == "worker"


def test_it_skips_pause_honouring_jobs_while_the_system_is_paused(db, register_job, admin):
    polite, essential = Calls(), Calls()
    register_job("polite", polite)
    register_job("essential", essential, honours_pause=False)
    do_pause_system(admin, "maintenance")

    runs = {run.schedule.name: run for run in run_due_jobs("worker")}

    assert (polite, essential) == ([], ["worker"])
    assert runs["polite"].outcome == JobRun.Outcome.SKIPPED
    assert runs["polite"].error == "system paused"
    assert runs["essential"].outcome == JobRun.Outcome.OK

    do_resume_system(admin)
    JobSchedule.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    run_due_jobs("worker")
    assert (polite, essential) == (["worker"], ["worker", "worker"])


def test_it_records_the_claim_time_as_the_start_of_the_run(db, register_job):
    schedule = register_job("timed", lambda ctx: None)

    (run,) = run_due_jobs("worker")

    schedule.refresh_from_db()
    assert schedule.last_started_at == run.started_at
    assert schedule.last_finished_at == run.finished_at
    assert run.started_at <= run.finished_at


def test_it_claims_each_job_when_it_gets_to_it_so_a_late_lease_is_not_born_expired(
    db, register_job, settings
):
    settings.JOBS_LEASE_SECONDS = 60
    leases = []
    register_job("a-first", lambda ctx: None)
    register_job(
        "b-second",
        lambda ctx: leases.append(JobSchedule.objects.get(name="b-second").lease_expires_at),
    )

    first, second = run_due_jobs("worker")

    assert second.started_at >= first.finished_at
    assert leases == [second.started_at + timedelta(seconds=60)]


def test_it_schedules_the_next_run_on_the_jobs_grid(db, register_job):
    schedule = register_job("regular", lambda ctx: None, interval=timedelta(minutes=1))
    due_at = timezone.now() - timedelta(seconds=10)
    JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=due_at)

    run_due_jobs("worker")

    schedule.refresh_from_db()
    assert schedule.next_run_at == due_at + timedelta(minutes=1)


def test_it_skips_the_slots_a_late_run_missed():
    due_at = timezone.now()
    minute = timedelta(minutes=1)

    assert next_run_after(due_at, minute, due_at + timedelta(seconds=5)) == due_at + minute
    assert next_run_after(due_at, minute, due_at + minute) == due_at + 2 * minute
    assert next_run_after(due_at, minute, due_at + timedelta(seconds=150)) == due_at + 3 * minute
    assert next_run_after(due_at, minute, due_at - timedelta(seconds=5)) == due_at + minute


def test_it_stops_the_loop_promptly(transactional_db, register_job):
    ran = threading.Event()
    register_job("signal", lambda ctx: ran.set())
    loop = SchedulerLoop(worker="looper", poll_seconds=3600)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        assert ran.wait(timeout=20), "the loop never ran the due job"
    finally:
        loop.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert JobRun.objects.get().worker == "looper"


def test_it_claims_no_further_job_once_asked_to_stop(db, register_job):
    stop = threading.Event()
    second = Calls()
    register_job("a-first", lambda ctx: stop.set())
    register_job("b-second", second)

    runs = run_due_jobs("worker", stop=stop)

    assert [run.schedule.name for run in runs] == ["a-first"]
    assert second == []
    assert JobSchedule.objects.get(name="b-second").lease_owner == ""


def _isolation_level() -> str:
    """What each database does with concurrent writers, in its own words."""
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            mariadb = getattr(connection, "mysql_is_mariadb", False)
            variable = "tx_isolation" if mariadb else "transaction_isolation"
            cursor.execute(f"SELECT @@SESSION.{variable}")
        elif connection.vendor == "postgresql":
            cursor.execute("SHOW transaction_isolation")
        else:
            # SQLite has one writer at a time; IMMEDIATE takes the lock at BEGIN.
            return connection.settings_dict["OPTIONS"]["transaction_mode"]
        (level,) = cursor.fetchone()
    return str(level).upper().replace(" ", "-")


@pytest.mark.django_db
def test_claims_see_each_others_commits_on_every_database():
    # MariaDB defaults to REPEATABLE READ, where a second worker would decide on a stale row.
    expected = {"mysql": "READ-COMMITTED", "postgresql": "READ-COMMITTED", "sqlite": "IMMEDIATE"}
    assert _isolation_level() == expected[connection.vendor]
