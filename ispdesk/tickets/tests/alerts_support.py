"""Shared setup of the alert and shift job tests: a desk in Buenos Aires with frozen times.

Times are fixed by passing `now` to the actions and to `run_due_jobs`; tickets are backdated
by rewriting their history's timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs
from ispdesk.messaging.models import GatewayConnection, OutboundMessage
from ispdesk.operators.models import Operator, Schedule
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import Ticket, TicketEvent

BA = ZoneInfo("America/Argentina/Buenos_Aires")
ANA_PHONE = "+5491155550001"
JUAN_PHONE = "+5491155550002"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of March 2026 in Buenos Aires (11th = Wednesday, 14th = Saturday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=BA)


# The fixtures: import them into a test module (under their function names) to use them.


@pytest.fixture(name="_spanish_in_buenos_aires", autouse=True)
def spanish_in_buenos_aires_fixture(settings: Any) -> None:
    """The messages' language and the business zone."""
    settings.LANGUAGE_CODE = "es-ar"
    settings.TIME_ZONE = "America/Argentina/Buenos_Aires"


@pytest.fixture(name="gateway")
def gateway_fixture(db: Any) -> GatewayConnection:
    return GatewayConnection.objects.create(kind="simulator", name="Simulador", is_default=True)


@pytest.fixture(name="ana")
def ana_fixture(db: Any) -> Operator:
    return make_operator("ana2", "Ana", whatsapp="+54 9 11 5555-0001")


@pytest.fixture(name="juan")
def juan_fixture(db: Any) -> Operator:
    return make_operator("juan", "Juan", whatsapp="+54 9 11 5555-0002")


def windows(
    operator: Operator, kind: str, start: int, end: int, days: Iterable[int] = range(7)
) -> None:
    Schedule.objects.bulk_create(
        Schedule(operator=operator, kind=kind, weekday=day, start=time(start), end=time(end))
        for day in days
    )


def quiet_ticket(subject: str, operator: Operator | None, since: datetime) -> Ticket:
    """A ticket assigned to `operator` whose whole history happened at `since`."""
    ticket, _created = do_create_ticket(None, NewTicket(subject=subject), auto_assign=False)
    if operator is not None:
        do_assign_ticket(None, ticket, operator)
    TicketEvent.objects.filter(ticket=ticket).update(created_at=since)
    Ticket.objects.filter(pk=ticket.pk).update(
        created_at=since, assigned_at=since if operator else None
    )
    ticket.refresh_from_db()
    return ticket


def messages_to(phone: str) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(to=phone).order_by("pk"))


def listed(message: OutboundMessage, ticket: Ticket) -> bool:
    return f"#{ticket.pk} {ticket.subject}" in message.body


def run_job(name: str, now: datetime) -> JobRun | None:
    """Make the job (alone) due at `now` and let a worker run it at `now`; None if it didn't."""
    ensure_schedules()
    JobSchedule.objects.exclude(name=name).update(enabled=False)
    JobSchedule.objects.filter(name=name).update(
        enabled=True, next_run_at=now - timedelta(seconds=1), run_requested_at=None
    )
    runs = run_due_jobs("test-worker", now=now)
    assert len(runs) <= 1
    return runs[0] if runs else None
