"""The team's test people and the job a resume wakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.jobs import registry
from ispdesk.jobs.models import JobSchedule
from ispdesk.jobs.registry import get_job, periodic_job
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.operators.actions import ASSIGN_UNASSIGNED_JOB
from ispdesk.operators.models import Area, Operator, Schedule, ScheduleKind


def make_operator(username: str, first_name: str = "", **fields: Any) -> Operator:
    user = make_user(username, Role.OPERATOR, first_name=first_name or username.title())
    return Operator.objects.create(user=user, **fields)


def always_on(operator: Operator, kind: str = ScheduleKind.ASSIGNMENT) -> None:
    """Windows of 24 hours on every weekday."""
    Schedule.objects.bulk_create(
        Schedule(operator=operator, kind=kind, weekday=day, start=time(0), end=time(0))
        for day in range(7)
    )


def put(client: Client, path: str, body: Any) -> Any:
    return client.put(path, body, content_type="application/json")


def post(client: Client, path: str, body: Any = None) -> Any:
    """POST `body` as JSON; with no body, an empty one (as `fetch(url, {method: "POST"})`)."""
    if body is None:
        return client.generic("POST", path)
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def soporte(db: Any) -> Area:
    return Area.objects.create(name="Soporte")


@pytest.fixture
def ventas(db: Any) -> Area:
    return Area.objects.create(name="Ventas")


@pytest.fixture
def juan(db: Any) -> Operator:
    """An operator whose assignment schedule covers every hour."""
    operator = make_operator("juan", "Juan", whatsapp="+5491112345678", person_id=11)
    always_on(operator)
    return operator


@pytest.fixture
def sofia(db: Any) -> Operator:
    """An operator with no schedule at all: never on shift."""
    return make_operator("sofia", "Sofía")


@pytest.fixture
def assign_job(db: Any) -> Iterator[JobSchedule]:
    """The tickets app's assign-unassigned job, registered for this test if it is not yet,
    with its next run far away."""
    registered_here = get_job(ASSIGN_UNASSIGNED_JOB) is None
    if registered_here:
        periodic_job(
            ASSIGN_UNASSIGNED_JOB, interval=timedelta(minutes=10), description="test stand-in"
        )(lambda ctx: None)
    ensure_schedules()
    JobSchedule.objects.filter(name=ASSIGN_UNASSIGNED_JOB).update(
        next_run_at=timezone.now() + timedelta(hours=1), run_requested_at=None
    )
    yield JobSchedule.objects.get(name=ASSIGN_UNASSIGNED_JOB)
    if registered_here:
        registry.unregister(ASSIGN_UNASSIGNED_JOB)


@pytest.fixture
def no_assign_job(db: Any) -> Iterator[None]:
    """A deployment without the tickets app's job: a resume must still work."""
    definition = get_job(ASSIGN_UNASSIGNED_JOB)
    registry.unregister(ASSIGN_UNASSIGNED_JOB)
    yield
    if definition is not None:
        periodic_job(
            definition.name,
            interval=definition.interval,
            description=definition.description,
            honours_pause=definition.honours_pause,
        )(definition.function)
