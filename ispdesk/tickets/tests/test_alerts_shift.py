"""End-of-shift summaries and unassignment after a shift, with time frozen."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from ispdesk.accounts.models import User
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.messaging.models import OutboundMessage
from ispdesk.operators.models import Schedule, ScheduleKind
from ispdesk.system.actions import do_set_config
from ispdesk.system.config import clear_config_cache
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.actions import do_assign_ticket
from ispdesk.tickets.alert_actions import do_send_shift_summaries, do_unassign_after_shift
from ispdesk.tickets.jobs import AUTO_UNASSIGN_AFTER_SHIFT, END_OF_SHIFT_NOTIFICATIONS
from ispdesk.tickets.models import EventKind, Status, Ticket, TicketEvent
from ispdesk.tickets.tests.alerts_support import (
    ANA_PHONE,
    JUAN_PHONE,
    ana_fixture,  # noqa: F401 - the `ana` fixture
    at,
    gateway_fixture,  # noqa: F401 - the `gateway` fixture
    juan_fixture,  # noqa: F401 - the `juan` fixture
    listed,
    messages_to,
    quiet_ticket,
    run_job,
    spanish_in_buenos_aires_fixture,  # noqa: F401 - autouse
    windows,
)

WEEKDAYS = range(5)


def set_config(admin: User, **values: int) -> None:
    do_set_config(admin, values)
    clear_config_cache()


def summaries_sent(now: datetime) -> int:
    """Run the scheduled summary job at `now`; how many summaries it sent."""
    run = run_job(END_OF_SHIFT_NOTIFICATIONS, now)
    assert run is not None and run.outcome == JobRun.Outcome.OK
    return run.counts["notified"]


def office_shift(operator) -> None:  # type: ignore[no-untyped-def]
    """Monday to Friday, 8 to 18."""
    windows(operator, ScheduleKind.WORK, 8, 18, WEEKDAYS)


# End-of-shift summaries -------------------------------------------------------------------------


def test_the_summary_job_is_hourly_within_work_hours():
    job = get_job(END_OF_SHIFT_NOTIFICATIONS)
    assert job is not None
    assert (job.interval, job.work_hours_only) == (timedelta(hours=1), True)


def test_it_sends_the_summary_in_the_hour_before_the_shift_ends_once(gateway, ana):
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))
    quiet_ticket("Router", ana, at(11, 9))

    assert do_send_shift_summaries(at(11, 16, 59))["notified"] == 0  # 61 minutes before

    counts = do_send_shift_summaries(at(11, 17, 0))

    assert counts == {"checked": 1, "notified": 1, "already_sent": 0, "blocked": 0}
    [summary] = messages_to(ANA_PHONE)
    assert "Resumen de tu turno, Ana" in summary.body and "Abiertos: 2" in summary.body
    assert AuditEvent.objects.filter(action="ticket.shift_summary_sent").count() == 1

    # The job running twice in that hour sends nothing more.
    assert do_send_shift_summaries(at(11, 17, 40))["already_sent"] == 1
    assert len(messages_to(ANA_PHONE)) == 1
    # The next day's shift has its own summary.
    assert do_send_shift_summaries(at(12, 17, 30))["notified"] == 1
    assert len(messages_to(ANA_PHONE)) == 2


def test_the_reminder_lead_is_a_setting(gateway, ana, admin):
    set_config(admin, shift_reminder_minutes=120)
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))
    assert do_send_shift_summaries(at(11, 15, 59))["notified"] == 0
    assert do_send_shift_summaries(at(11, 16, 0))["notified"] == 1


def test_runs_all_through_the_lead_send_one_summary(gateway, ana, admin):
    set_config(admin, shift_reminder_minutes=120)
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))

    runs = [at(11, 16, 0), at(11, 16, 1), at(11, 16, 40), at(11, 17, 0), at(11, 17, 59)]
    counts = [do_send_shift_summaries(run) for run in runs]

    assert [c["notified"] for c in counts] == [1, 0, 0, 0, 0]
    assert [c["already_sent"] for c in counts] == [0, 1, 1, 1, 1]
    [summary] = messages_to(ANA_PHONE)
    assert summary.context["shift_ends"] == at(11, 18).isoformat()


@pytest.mark.parametrize("minute", [0, 15])
def test_a_lead_shorter_than_the_hourly_runs_still_sends_one_summary_a_day(
    gateway, ana, admin, minute
):
    # Nothing runs between 17:30 and 18:00: the 17:xx run is the last one before the end.
    set_config(admin, shift_reminder_minutes=30)
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))

    for day in (11, 12):
        sent = [do_send_shift_summaries(at(day, hour, minute))["notified"] for hour in range(8, 23)]
        assert sent == [int(hour == 17) for hour in range(8, 23)]

    summaries = messages_to(ANA_PHONE)
    assert [message.context["shift_ends"] for message in summaries] == [
        at(11, 18).isoformat(),
        at(12, 18).isoformat(),
    ]


def test_no_summary_once_the_shift_has_ended(gateway, ana, admin):
    set_config(admin, shift_reminder_minutes=30)
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))
    for run in (at(11, 18, 0), at(11, 18, 10), at(11, 22, 0), at(12, 7, 59)):
        assert do_send_shift_summaries(run)["notified"] == 0
    assert messages_to(ANA_PHONE) == []


def test_a_shift_ending_after_midnight_gets_its_summary_from_the_last_run_before(
    gateway, ana, admin
):
    # Wednesday 16:00 to Thursday 00:30; the scheduled jobs stop at midnight, so the 23:00
    # run is the last one before the end although the lead starts at 23:30.
    set_config(admin, jobs_weekday_end_hour=24)
    Schedule.objects.create(
        operator=ana, kind=ScheduleKind.WORK, weekday=2, start=time(16), end=time(0, 30)
    )
    quiet_ticket("Sin señal", ana, at(11, 9))

    assert summaries_sent(at(11, 22)) == 0
    assert summaries_sent(at(11, 23)) == 1

    [summary] = messages_to(ANA_PHONE)
    assert summary.context["shift_ends"] == at(12, 0, 30).isoformat()
    # Runs by hand on either side of midnight know it is the same shift.
    assert do_send_shift_summaries(at(11, 23, 45))["already_sent"] == 1
    assert do_send_shift_summaries(at(12, 0, 10))["already_sent"] == 1
    assert do_send_shift_summaries(at(12, 0, 30))["checked"] == 1
    assert len(messages_to(ANA_PHONE)) == 1


def test_the_summary_follows_the_jobs_interval_set_by_an_admin(gateway, ana):
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))
    ensure_schedules()
    JobSchedule.objects.filter(name=END_OF_SHIFT_NOTIFICATIONS).update(interval_seconds=7200)

    # Every two hours from 08:00: 16:00 is the last run before the 18:00 end.
    assert summaries_sent(at(11, 14)) == 0
    assert summaries_sent(at(11, 16)) == 1
    assert len(messages_to(ANA_PHONE)) == 1


def test_operators_without_open_tickets_or_off_shift_get_no_summary(gateway, ana, juan):
    office_shift(ana)
    office_shift(juan)
    closed = quiet_ticket("Resuelto", ana, at(11, 9))
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    quiet_ticket("Corte", juan, at(14, 9))

    # Saturday: Juan has no shift that day.
    assert do_send_shift_summaries(at(14, 17, 30))["notified"] == 0
    assert do_send_shift_summaries(at(11, 17, 30))["notified"] == 1
    assert messages_to(ANA_PHONE) == [] and len(messages_to(JUAN_PHONE)) == 1


def test_the_scheduled_summary_job_runs_through_the_jobs_framework(gateway, ana):
    office_shift(ana)
    quiet_ticket("Sin señal", ana, at(11, 9))
    run = run_job(END_OF_SHIFT_NOTIFICATIONS, at(11, 17, 15))
    assert run is not None and run.outcome == JobRun.Outcome.OK
    assert run.counts["notified"] == 1
    assert len(messages_to(ANA_PHONE)) == 1


# Unassignment after the shift ----------------------------------------------------------------


def test_the_unassign_job_runs_every_forty_minutes_at_any_hour():
    job = get_job(AUTO_UNASSIGN_AFTER_SHIFT)
    assert job is not None
    assert (job.interval, job.work_hours_only) == (timedelta(minutes=40), False)


def test_tickets_go_back_to_the_engine_after_the_shift_and_the_operator_is_told_once(
    gateway, ana, juan
):
    office_shift(ana)
    windows(juan, ScheduleKind.ASSIGNMENT, 0, 0)  # Juan takes new work at any hour
    first = quiet_ticket("Sin señal", ana, at(11, 10))
    second = quiet_ticket("Router", ana, at(11, 11))

    # Still on shift: she keeps them.
    assert do_unassign_after_shift(at(11, 17, 50))["unassigned"] == 0
    assert not OutboundMessage.objects.exists()

    counts = do_unassign_after_shift(at(11, 18, 10))

    assert counts == {"checked": 1, "unassigned": 2, "reassigned": 2, "notified": 1}
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert ticket.assignee == juan
        unassigned = TicketEvent.objects.get(ticket=ticket, kind=EventKind.UNASSIGNED)
        assert unassigned.previous_operator == ana
        assert "18:00" in unassigned.text
    [told] = messages_to(ANA_PHONE)
    assert "Ana, terminó tu turno" in told.body
    assert listed(told, first) and listed(told, second)
    assert told.context["tickets"] == [first.pk, second.pk]

    # Idempotent: the next runs find nothing of hers and tell her nothing more.
    assert do_unassign_after_shift(at(11, 18, 50))["unassigned"] == 0
    assert run_job(AUTO_UNASSIGN_AFTER_SHIFT, at(11, 23, 30)) is not None
    assert len(messages_to(ANA_PHONE)) == 1


def test_a_ticket_given_after_the_shift_ended_stays(gateway, ana, juan, supervisor):
    office_shift(ana)
    ticket = quiet_ticket("Sin señal", None, at(11, 9))
    do_assign_ticket(supervisor, ticket, ana)
    Ticket.objects.filter(pk=ticket.pk).update(assigned_at=at(11, 19))

    assert do_unassign_after_shift(at(11, 19, 30))["unassigned"] == 0
    ticket.refresh_from_db()
    assert ticket.assignee == ana
    assert not OutboundMessage.objects.exists()


def test_an_operator_without_work_windows_keeps_their_tickets(gateway, ana):
    ticket = quiet_ticket("Sin señal", ana, at(11, 9))
    assert do_unassign_after_shift(at(14, 3))["unassigned"] == 0
    ticket.refresh_from_db()
    assert ticket.assignee == ana


def test_a_ticket_the_engine_hands_straight_back_is_not_reported(gateway, ana):
    # Nobody is on the assignment schedule, so the round robin picks Ana again: nothing was
    # taken from her and she isn't told; the new assignment is after her shift, so it stays.
    office_shift(ana)
    ticket = quiet_ticket("Sin señal", ana, at(11, 10))

    counts = do_unassign_after_shift(at(11, 18, 10))

    assert (counts["unassigned"], counts["notified"]) == (0, 0)
    ticket.refresh_from_db()
    assert ticket.assignee == ana
    assert not OutboundMessage.objects.exists()
    assert do_unassign_after_shift(at(11, 18, 50))["unassigned"] == 0
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.UNASSIGNED).count() == 1
