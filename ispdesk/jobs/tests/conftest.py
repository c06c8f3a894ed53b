"""Temporary jobs for tests: registered for one test, alone in the schedule table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from ispdesk.jobs import registry
from ispdesk.jobs.models import JobSchedule
from ispdesk.jobs.registry import JobFunction, periodic_job
from ispdesk.jobs.runner import ensure_schedules

RegisterJob = Callable[..., JobSchedule]


@pytest.fixture
def register_job(db) -> Iterator[RegisterJob]:  # type: ignore[no-untyped-def]
    """Register a job for this test only; every other job's schedule is switched off."""
    names: list[str] = []

    def register(
        name: str,
        function: JobFunction,
        *,
        interval: timedelta = timedelta(minutes=5),
        honours_pause: bool = True,
    ) -> JobSchedule:
        periodic_job(name, interval=interval, description=name, honours_pause=honours_pause)(
            function
        )
        names.append(name)
        ensure_schedules()
        JobSchedule.objects.exclude(name__in=names).update(enabled=False)
        return JobSchedule.objects.get(name=name)

    yield register
    for name in names:
        registry.unregister(name)
