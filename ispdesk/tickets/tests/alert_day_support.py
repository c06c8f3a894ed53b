"""Driving the scheduler through a working day with the clock frozen at each moment.

The scheduler polls as `ispdesk serve` does: at each poll `run_due_jobs` runs what is due
(the runner's own "due" logic, each job's interval and the jobs' work-hours window decide),
then a sender pass hands the queued WhatsApp messages to the simulator gateway. Between
polls, people act at their own minutes (a ticket arrives, a comment, a pause).

The moment is passed explicitly to `run_due_jobs` and `send_due_messages`, and Django's clock
(`django.utils.timezone.now`) is pinned to it as well: some of what the jobs call reads the
clock itself instead of the job's `now` (the runner's finish time, which places each job's
next run; the assignment job; unassigning a ticket; queueing a message), and a day in March
must not run with whatever date the machine has.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs
from ispdesk.messaging.models import OutboundMessage
from ispdesk.messaging.sender import send_due_messages
from ispdesk.tickets.tests.alerts_support import BA

# How often the scheduler polls: the overdue-alert job's interval, so every alert run happens
# on time. Polling every minute sends the same messages, at three times the cost.
POLL = timedelta(minutes=3)
SCHEDULER = "day-scheduler"
SENDER = "day-sender"

# Something a person does at a given moment.
Action = Callable[[], object]


class FrozenClock:
    """What `timezone.now()` answers: the moment the day has reached."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at.astimezone(UTC)


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def start_scheduler(at: datetime, jobs: Collection[str]) -> None:
    """Only `jobs` switched on, each due at `at`, as on a fresh install."""
    ensure_schedules(now=at)
    JobSchedule.objects.update(
        enabled=False, next_run_at=at, lease_owner="", lease_expires_at=None, run_requested_at=None
    )
    JobSchedule.objects.filter(name__in=jobs).update(enabled=True)


def moments(start: datetime, end: datetime, extra: Iterable[datetime]) -> list[datetime]:
    """The polls from `start` to `end` (both included) and the `extra` moments, in order."""
    polls = [start + POLL * step for step in range((end - start) // POLL + 1)]
    return sorted({*polls, *extra})


def is_poll(at: datetime, start: datetime) -> bool:
    return not (at - start) % POLL


def run_day(
    clock: FrozenClock,
    start: datetime,
    end: datetime,
    jobs: Collection[str],
    actions: Mapping[datetime, Sequence[Action]] | None = None,
) -> list[JobRun]:
    """Poll from `start` to `end` with only `jobs` switched on, people doing `actions` at
    their moments (before the poll of the same moment); the job runs made, in order."""
    actions = actions or {}
    outside = sorted(at for at in actions if not start <= at <= end)
    assert not outside, f"actions outside the day: {outside}"
    start_scheduler(start, jobs)
    runs: list[JobRun] = []
    for now in moments(start, end, actions):
        clock.at = now
        for action in actions.get(now, ()):
            action()
        if is_poll(now, start):
            runs += run_due_jobs(SCHEDULER, now=now)
            while (sent := send_due_messages(SENDER, now=now)).full and sent.progressed:
                pass
    return runs


def runs_at(name: str, due: datetime, first_run: datetime) -> datetime:
    """When job `name` first runs at or after `due`: at the first poll from the first slot
    of its grid (every interval from `first_run`, itself a poll) at or after `due`."""
    job = get_job(name)
    assert job is not None, name
    slot = first_run + job.interval * max(0, -((first_run - due) // job.interval))
    return first_run + POLL * -((first_run - slot) // POLL)


def hhmm(at: datetime) -> str:
    return f"{at.astimezone(BA):%H:%M}"


@dataclass(frozen=True)
class Notice:
    """One WhatsApp message to an operator: the minute it left for their phone, its template,
    and the tickets it names (by their labels in the scenario)."""

    at: str
    template: str
    tickets: tuple[str, ...] = ()


def notice(at: datetime, template: str, *tickets: str) -> Notice:
    return Notice(hhmm(at), template, tickets)


def timeline(phone: str, labels: Mapping[int, str]) -> list[Notice]:
    """What left for `phone`, in order."""
    messages = OutboundMessage.objects.filter(to=phone).order_by("sent_at", "pk")
    return [as_notice(message, labels) for message in messages]


def as_notice(message: OutboundMessage, labels: Mapping[int, str]) -> Notice:
    assert message.sent_at is not None, f"never sent: {message.body}"
    context: dict[str, Any] = message.context
    # Grouped messages list their tickets; an assignment notice names its one ticket.
    ids = context.get("tickets") or ([context["ticket"]] if "ticket" in context else [])
    tickets = tuple(labels.get(pk, f"#{pk}") for pk in ids)
    return Notice(hhmm(message.sent_at), str(context.get("template", "")), tickets)
