"""The jobs' work-hours window: scheduled runs wait for it, runs started by hand don't."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.jobs import registry
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import JobContext, periodic_job
from ispdesk.jobs.runner import ensure_schedules, request_run, run_due_jobs
from ispdesk.jobs.work_hours import (
    WorkHours,
    in_work_hours,
    next_opening,
    postponed_until,
)
from ispdesk.system.actions import do_pause_system, do_set_config
from ispdesk.system.config import clear_config_cache

BA = ZoneInfo("America/Argentina/Buenos_Aires")
DEFAULT = WorkHours()
NO_HOLIDAYS: frozenset[date] = frozenset()
# Tuesday 24 March 2026 is a national holiday in Argentina (and Monday 23 a bridge holiday).
HOLIDAY = date(2026, 3, 24)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BA)


NIGHT = at(11, 2)  # Wednesday 02:00


# The window (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (at(11, 7, 59), False),  # Wednesday, before 8
        (at(11, 8), True),
        (at(11, 22, 59), True),
        (at(11, 23), False),  # the end hour is not inside
        (at(14, 8, 30), False),  # Saturday opens at 9
        (at(14, 9), True),
        (at(15, 20, 59), True),  # Sunday
        (at(15, 21), False),
        (at(24, 8, 30), False),  # a holiday Tuesday keeps weekend hours
        (at(24, 9, 30), True),
        (at(24, 22), False),
    ],
)
def test_it_tells_weekday_weekend_and_holiday_hours_apart(moment, inside):
    assert in_work_hours(moment, DEFAULT, {HOLIDAY}, BA) is inside


def test_it_reads_the_moment_in_the_business_time_zone():
    # 11:30 UTC is 08:30 in Buenos Aires: inside; 02:30 UTC next day is 23:30 there: outside.
    assert in_work_hours(datetime(2026, 3, 11, 11, 30, tzinfo=ZoneInfo("UTC")), DEFAULT, (), BA)
    utc_late = datetime(2026, 3, 12, 2, 30, tzinfo=ZoneInfo("UTC"))
    assert not in_work_hours(utc_late, DEFAULT, (), BA)


def test_it_finds_the_next_opening_across_a_weekend_and_a_holiday():
    assert next_opening(at(11, 10), DEFAULT, (), BA) == at(11, 10)
    assert next_opening(at(11, 23, 30), DEFAULT, (), BA) == at(12, 8)
    assert next_opening(at(13, 23, 30), DEFAULT, (), BA) == at(14, 9)  # Friday night → Sat 9
    assert next_opening(at(23, 23, 30), DEFAULT, {HOLIDAY}, BA) == at(24, 9)


def test_a_span_that_ends_before_it_starts_means_no_runs_that_kind_of_day():
    weekdays_only = WorkHours(weekday=(8, 23), weekend=(0, 0))
    assert not in_work_hours(at(14, 12), weekdays_only, (), BA)
    assert next_opening(at(13, 23, 30), weekdays_only, (), BA) == at(16, 8)
    all_day = WorkHours(weekday=(0, 24), weekend=(0, 24))
    assert in_work_hours(at(11, 23, 59), all_day, (), BA)
    assert in_work_hours(at(12, 0), all_day, (), BA)


def test_a_postponed_job_looks_again_within_the_hour_or_at_the_opening():
    assert postponed_until(at(11, 2), DEFAULT, (), BA) == at(11, 3)
    assert postponed_until(at(11, 7, 30), DEFAULT, (), BA) == at(11, 8)
    never = WorkHours(weekday=(5, 5), weekend=(5, 5))
    assert postponed_until(at(11, 7, 30), never, (), BA) == at(11, 8, 30)


@given(
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(BA)
    ),
    weekday=st.tuples(st.integers(0, 23), st.integers(1, 24)),
    weekend=st.tuples(st.integers(0, 23), st.integers(1, 24)),
)
def test_the_next_opening_is_never_earlier_and_always_inside(moment, weekday, weekend):
    hours = WorkHours(weekday=weekday, weekend=weekend)
    opening = next_opening(moment, hours, {HOLIDAY}, BA)
    if opening is None:
        assert weekday[1] <= weekday[0] and weekend[1] <= weekend[0]
        return
    assert opening >= moment
    assert in_work_hours(opening, hours, {HOLIDAY}, BA)
    # It is the first opening: the minute before it is outside, or before the moment.
    before = opening - timedelta(minutes=1)
    assert before < moment or not in_work_hours(before, hours, {HOLIDAY}, BA)


# The runner ------------------------------------------------------------------------------------


class Calls(list[JobContext]):
    def __call__(self, ctx: JobContext) -> dict[str, int]:
        self.append(ctx)
        return {"ran": 1}


@pytest.fixture(autouse=True)
def _buenos_aires(settings):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "America/Argentina/Buenos_Aires"


RegisterJob = Callable[..., tuple[JobSchedule, Calls]]


@pytest.fixture
def office_job(db) -> Iterator[RegisterJob]:  # type: ignore[no-untyped-def]
    """Register one job for this test only (every other schedule off); it is due at `due`."""
    names: list[str] = []

    def register(
        name: str = "office", *, work_hours_only: bool = True, due: datetime = NIGHT
    ) -> tuple[JobSchedule, Calls]:
        calls = Calls()
        periodic_job(
            name,
            interval=timedelta(minutes=3),
            description=name,
            work_hours_only=work_hours_only,
        )(calls)
        names.append(name)
        ensure_schedules()
        JobSchedule.objects.exclude(name__in=names).update(enabled=False)
        JobSchedule.objects.filter(name=name).update(next_run_at=due)
        return JobSchedule.objects.get(name=name), calls

    yield register
    for name in names:
        registry.unregister(name)


def test_it_postpones_a_scheduled_run_outside_work_hours_without_a_run(office_job):
    schedule, calls = office_job(due=at(11, 2))

    assert run_due_jobs("w1", now=at(11, 2, 1)) == []

    schedule.refresh_from_db()
    assert calls == []
    assert not JobRun.objects.exists()
    # Rechecked within the hour, never later than the opening; the lease was never taken.
    assert schedule.next_run_at == at(11, 3, 1)
    assert (schedule.lease_owner, schedule.last_started_at) == ("", None)


def test_it_moves_a_late_run_straight_to_the_opening(office_job):
    schedule, calls = office_job(due=at(11, 7, 30))

    run_due_jobs("w1", now=at(11, 7, 40))
    schedule.refresh_from_db()
    assert schedule.next_run_at == at(11, 8)

    runs = run_due_jobs("w1", now=at(11, 8))
    assert [(run.outcome, run.trigger, run.counts) for run in runs] == [
        (JobRun.Outcome.OK, JobRun.Trigger.SCHEDULE, {"ran": 1})
    ]
    assert [ctx.now for ctx in calls] == [at(11, 8)]


def test_a_job_without_the_flag_runs_at_night(office_job):
    _schedule, calls = office_job("night", work_hours_only=False, due=at(11, 2))
    runs = run_due_jobs("w1", now=at(11, 2, 1))
    assert [run.outcome for run in runs] == [JobRun.Outcome.OK]
    assert len(calls) == 1


def test_the_hours_are_editable_settings(office_job, admin):
    do_set_config(admin, {"jobs_weekday_start_hour": 0, "jobs_weekday_end_hour": 24})
    clear_config_cache()
    _schedule, calls = office_job(due=at(11, 2))
    assert [run.outcome for run in run_due_jobs("w1", now=at(11, 2, 1))] == [JobRun.Outcome.OK]
    assert len(calls) == 1


def test_a_run_started_by_hand_runs_at_any_hour_in_its_queued_run(office_job, admin):
    schedule, calls = office_job(due=at(11, 2))
    queued = request_run(admin, schedule)
    assert (queued.outcome, queued.trigger) == (JobRun.Outcome.QUEUED, JobRun.Trigger.MANUAL)
    # A second request before any worker took it shares the run.
    assert request_run(admin, schedule).pk == queued.pk

    # `run_due_jobs` at 02:00 Buenos Aires (the request made the job due at the real now).
    night = at(11, 2)
    JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=night)
    runs = run_due_jobs("w1", now=night)

    assert [run.pk for run in runs] == [queued.pk]
    queued.refresh_from_db()
    assert (queued.outcome, queued.trigger, queued.counts) == (
        JobRun.Outcome.OK,
        JobRun.Trigger.MANUAL,
        {"ran": 1},
    )
    assert (queued.started_at, queued.worker) == (night, "w1")
    assert len(calls) == 1 and calls[0].manual
    schedule.refresh_from_db()
    assert schedule.run_requested_at is None
    assert JobRun.objects.count() == 1


def test_a_request_made_during_a_scheduled_run_gets_its_own_run(office_job, admin):
    requested: list[JobRun] = []

    def ask_while_running(ctx: JobContext) -> None:
        if not requested:
            requested.append(request_run(admin, JobSchedule.objects.get(name="busy")))

    schedule, _calls = office_job("busy", work_hours_only=False, due=at(11, 10))
    registry.unregister("busy")
    periodic_job("busy", interval=timedelta(minutes=3), description="busy")(ask_while_running)

    first = run_due_jobs("w1", now=at(11, 10))
    assert [run.trigger for run in first] == [JobRun.Trigger.SCHEDULE]
    assert first[0].pk != requested[0].pk
    schedule.refresh_from_db()
    assert schedule.run_requested_at is not None  # kept for the next run

    JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=at(11, 10, 1))
    second = run_due_jobs("w1", now=at(11, 10, 1))
    assert [(run.pk, run.outcome) for run in second] == [(requested[0].pk, JobRun.Outcome.OK)]


def test_the_system_pause_still_skips_a_manual_run_and_says_why(office_job, admin):
    schedule, calls = office_job(due=at(11, 10))
    do_pause_system(admin, "mantenimiento")
    queued = request_run(admin, schedule)
    JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=at(11, 10))

    run_due_jobs("w1", now=at(11, 10))

    queued.refresh_from_db()
    assert (queued.outcome, queued.error) == (JobRun.Outcome.SKIPPED, "system paused")
    assert calls == []
