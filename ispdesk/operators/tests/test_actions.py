"""Team actions called directly, as pages, jobs and commands call them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connections
from django.utils import timezone

from ispdesk.jobs.models import JobSchedule
from ispdesk.lib.calendar import Window
from ispdesk.operators.actions import (
    PauseChange,
    TeamChangeError,
    do_add_calendar_exception,
    do_add_schedule,
    do_replace_schedules,
    do_save_area,
    do_save_operator,
    do_set_on_duty,
    do_set_pause,
    is_day_off,
)
from ispdesk.operators.calendars import on_duty_ids
from ispdesk.operators.models import Area, OnDuty, Operator, Schedule
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.system.models import AuditEvent

MONDAY, TUESDAY = 0, 1


def night(weekday: int = MONDAY) -> Window:
    return Window(weekday, time(22), time(6))


# Schedules


def test_it_refuses_a_week_with_an_overlap_whole(admin, sofia):
    do_replace_schedules(admin, sofia, kind="work", windows=[Window(MONDAY, time(8), time(12))])

    with pytest.raises(TeamChangeError) as refused:
        do_replace_schedules(
            admin,
            sofia,
            kind="work",
            windows=[Window(3, time(9), time(10)), night(), Window(TUESDAY, time(5), time(9))],
        )

    assert refused.value.code == "schedule_overlap"
    assert "22:00-06:00" in refused.value.message
    assert "05:00-09:00" in refused.value.message
    assert [row.as_window() for row in Schedule.objects.all()] == [
        Window(MONDAY, time(8), time(12))
    ]
    assert AuditEvent.objects.filter(action="schedule.replaced").count() == 1


def test_it_refuses_a_week_of_an_unknown_kind(admin, sofia):
    with pytest.raises(TeamChangeError) as refused:
        do_replace_schedules(admin, sofia, kind="night", windows=[])
    assert refused.value.fields == {"kind": "night"}


def test_it_checks_a_new_window_against_one_crossing_midnight(admin, sofia):
    do_add_schedule(admin, sofia, kind="alert", weekday=MONDAY, start=time(22), end=time(6))
    with pytest.raises(TeamChangeError) as refused:
        do_add_schedule(admin, sofia, kind="alert", weekday=TUESDAY, start=time(5), end=time(9))
    assert refused.value.code == "schedule_overlap"
    assert Schedule.objects.count() == 1


# Waking the assignment job


def _due_now(schedule: JobSchedule) -> bool:
    schedule.refresh_from_db()
    return schedule.run_requested_at is not None and schedule.next_run_at <= timezone.now()


def test_it_wakes_the_assignment_job_when_an_operator_is_reactivated(admin, juan, assign_job):
    Operator.objects.filter(pk=juan.pk).update(active=False)
    juan.refresh_from_db()
    do_save_operator(admin, juan, {"active": True})
    assert _due_now(assign_job)


def test_it_wakes_the_assignment_job_for_a_new_active_operator(admin, operator, assign_job):
    do_save_operator(admin, Operator(user=operator), {})
    assert _due_now(assign_job)


def test_it_leaves_the_job_alone_for_a_new_paused_operator(admin, operator, assign_job):
    do_save_operator(admin, Operator(user=operator), {"is_paused": True})
    assert not _due_now(assign_job)


def test_it_leaves_a_disabled_assignment_job_off(admin, juan, assign_job):
    JobSchedule.objects.filter(pk=assign_job.pk).update(enabled=False)
    Operator.objects.filter(pk=juan.pk).update(is_paused=True)
    do_set_pause(admin, juan, PauseChange("full", paused=False))
    assert not _due_now(assign_job)
    requested = AuditEvent.objects.filter(action="job.run_requested")
    assert not requested.filter(object_id=str(assign_job.pk)).exists()
    # The chat queues' drain is still woken: a resumed operator may take waiting chats.
    assert [event.object_repr for event in requested] == ["conversations.route_waiting"]


# On-duty cover


@pytest.mark.parametrize(
    ("day", "off"),
    [
        (date(2026, 1, 3), True),  # Saturday
        (date(2026, 1, 4), True),  # Sunday
        (date(2026, 7, 9), True),  # Independence Day, a Thursday
        (date(2026, 11, 23), True),  # Soberanía Nacional, moved to a Monday
        (date(2026, 1, 9), False),  # an ordinary Friday
    ],
)
def test_it_knows_the_days_that_take_on_duty_cover(day, off):
    assert is_day_off(day) is off


def test_it_keeps_one_row_each_when_the_same_cover_is_set_twice(admin, juan, sofia):
    day = date(2026, 1, 3)
    do_set_on_duty(admin, day, [juan, sofia])
    do_set_on_duty(admin, day, [sofia, juan, juan])
    assert OnDuty.objects.filter(day=day).count() == 2
    assert AuditEvent.objects.filter(action="on_duty.updated").count() == 2


def test_it_needs_force_for_cover_on_a_working_day(admin, juan):
    with pytest.raises(TeamChangeError) as refused:
        do_set_on_duty(admin, date(2026, 1, 9), [juan])
    assert refused.value.code == "not_a_day_off"
    do_set_on_duty(admin, date(2026, 1, 9), [juan], force=True)
    assert on_duty_ids(date(2026, 1, 9)) == {juan.pk}


# The calendar


def test_it_gives_a_closed_day_no_hours(admin):
    with pytest.raises(TeamChangeError) as refused:
        do_add_calendar_exception(admin, day=date(2026, 12, 24), closed=True, start=time(9))
    assert refused.value.fields.keys() == {"start"}


# Real-time events


@pytest.fixture
def supervisors_inbox(db: Any) -> Iterator[Callable[[], dict]]:
    """The next event the supervisors' group receives."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("role.supervisor", channel)

    def next_event() -> dict:
        return async_to_sync(layer.receive)(channel)["event"]

    yield next_event
    async_to_sync(layer.group_discard)("role.supervisor", channel)


def test_it_announces_changes_to_supervisors_after_commit(
    admin, juan, supervisors_inbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        do_set_pause(admin, juan, PauseChange("assignment", paused=True))
    assert supervisors_inbox() == {"type": "operator:update", "operator": juan.pk}

    with django_capture_on_commit_callbacks(execute=True):
        do_set_on_duty(admin, date(2026, 1, 3), [juan])
    assert supervisors_inbox() == {"type": "on_duty:update", "day": "2026-01-03"}

    with django_capture_on_commit_callbacks(execute=True):
        area = do_save_area(admin, Area(), {"name": "Soporte"})
    assert supervisors_inbox() == {"type": "area:update", "area": area.pk}


def test_it_announces_nothing_before_commit(admin, juan, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        do_set_on_duty(admin, date(2026, 1, 3), [juan])
    assert len(callbacks) == 1


# Concurrency: what the row locks are for


def _at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # the caller inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_concurrent_overlapping_windows_in():
    admin_user = None
    operator = make_operator("sofia", "Sofía")

    def add(index: int) -> Schedule:
        # Each window overlaps every other: all start Monday morning.
        return do_add_schedule(
            admin_user, operator, kind="work", weekday=MONDAY, start=time(8, index), end=time(16)
        )

    results = _at_once(4, add)

    refused = [result for result in results if isinstance(result, TeamChangeError)]
    assert Schedule.objects.count() == 1
    assert len(refused) == 3, results
    assert {error.code for error in refused} == {"schedule_overlap"}


@pytest.mark.django_db(transaction=True)
def test_it_leaves_one_of_concurrent_cover_changes_whole():
    team = [make_operator(f"op{index}") for index in range(4)]
    day = date(2026, 1, 3)
    choices = [[team[0], team[1]], [team[2]], [team[3], team[0]], [team[1], team[2]]]

    results = _at_once(4, lambda index: do_set_on_duty(None, day, choices[index]))

    assert not [result for result in results if isinstance(result, Exception)], results
    final = on_duty_ids(day)
    assert final in [{operator.pk for operator in choice} for choice in choices]
    assert AuditEvent.objects.filter(action="on_duty.updated").count() == 4


def test_pausing_an_operator_who_is_already_paused_writes_nothing(admin):
    juan = make_operator("juan", is_paused=True)
    do_set_pause(admin, juan, PauseChange("full", paused=True))
    assert not AuditEvent.objects.filter(action__startswith="operator.").exists()
    do_set_pause(admin, juan, PauseChange("full", paused=False))
    assert AuditEvent.objects.filter(action="operator.resumed").count() == 1
