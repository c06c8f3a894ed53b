"""The periodic job that gives waiting tickets to whoever becomes available."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs
from ispdesk.operators.actions import PauseChange, do_set_pause
from ispdesk.system.actions import do_pause_system, do_resume_system
from ispdesk.tickets.actions import NewTicket, do_create_ticket
from ispdesk.tickets.jobs import ASSIGN_UNASSIGNED
from ispdesk.tickets.models import EventKind, Status, Ticket, TicketEvent


@pytest.fixture
def schedule(db) -> JobSchedule:
    """The job's schedule, alone: every other job is switched off for these tests."""
    ensure_schedules()
    JobSchedule.objects.exclude(name=ASSIGN_UNASSIGNED).update(enabled=False)
    return JobSchedule.objects.get(name=ASSIGN_UNASSIGNED)


@pytest.fixture
def everyone_paused(team):
    for operator in team.values():
        do_set_pause(None, operator, PauseChange("full", True))
    return team


def run_now(schedule: JobSchedule) -> JobRun:
    """Make the job due and run what is due; exactly this job must run."""
    JobSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )
    runs = run_due_jobs("test-worker")
    assert [run.schedule.name for run in runs] == [ASSIGN_UNASSIGNED]
    return runs[0]


def waiting_ticket(subject: str) -> Ticket:
    ticket, _created = do_create_ticket(None, NewTicket(subject=subject))
    assert ticket.assignee is None
    return ticket


def test_it_is_registered_to_run_every_minute_and_honour_the_pause(schedule):
    job = get_job(ASSIGN_UNASSIGNED)
    assert job is not None
    assert (job.interval, job.honours_pause) == (timedelta(seconds=60), True)
    assert schedule.interval_seconds == 60


def test_it_assigns_waiting_tickets_once_someone_resumes(schedule, everyone_paused):
    first, second = waiting_ticket("Sin internet"), waiting_ticket("Router")

    nobody = run_now(schedule)
    assert (nobody.outcome, nobody.counts) == (JobRun.Outcome.OK, {"assigned": 0, "waiting": 2})
    assert Ticket.objects.unassigned().count() == 2

    do_set_pause(None, everyone_paused["sofia"], PauseChange("full", False))
    with translation.override("en"):
        resumed = run_now(schedule)
    assert (resumed.outcome, resumed.counts) == (JobRun.Outcome.OK, {"assigned": 2, "waiting": 0})
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert (ticket.assignee, ticket.status) == (everyone_paused["sofia"], Status.ASSIGNED)
        event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED)
        # The engine acted on its own, and says why.
        assert event.actor is None
        assert event.text.startswith("Sofía: ")

    again = run_now(schedule)
    assert again.counts == {"assigned": 0, "waiting": 0}
    assert TicketEvent.objects.filter(kind=EventKind.ASSIGNED).count() == 2


def test_it_is_skipped_while_the_system_is_paused(schedule, everyone_paused, admin):
    ticket = waiting_ticket("Sin internet")
    do_set_pause(None, everyone_paused["juan"], PauseChange("full", False))
    do_pause_system(admin, "mantenimiento")

    skipped = run_now(schedule)
    assert skipped.outcome == JobRun.Outcome.SKIPPED
    assert skipped.counts == {}
    ticket.refresh_from_db()
    assert ticket.assignee is None

    do_resume_system(admin)
    resumed = run_now(schedule)
    assert (resumed.outcome, resumed.counts) == (JobRun.Outcome.OK, {"assigned": 1, "waiting": 0})
    ticket.refresh_from_db()
    assert ticket.assignee == everyone_paused["juan"]


def test_a_closed_ticket_in_the_queue_is_neither_assigned_nor_counted(schedule, team):
    closed = Ticket.objects.create(
        source="csv",
        external_id="c-1",
        subject="Viejo",
        status=Status.CLOSED,
        created_at=timezone.now(),
        closed_at=timezone.now(),
    )
    waiting = Ticket.objects.create(
        source="csv", external_id="c-2", subject="Nuevo", created_at=timezone.now()
    )
    run = run_now(schedule)
    assert run.counts == {"assigned": 1, "waiting": 0}
    closed.refresh_from_db()
    waiting.refresh_from_db()
    assert closed.assignee is None
    assert waiting.assignee in (team["juan"], team["sofia"])
