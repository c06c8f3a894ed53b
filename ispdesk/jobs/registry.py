"""The registry of periodic jobs: each is a function with a default interval.

    @periodic_job("housekeeping", interval=timedelta(hours=1), description=...)
    def housekeeping(ctx: JobContext) -> dict[str, int]: ...

A job returns counts (`{"deleted": 3}`) that are stored with its run. `honours_pause` jobs
don't run while the system is paused; `work_hours_only` jobs run on schedule only inside the
jobs' work hours (`ispdesk.jobs.work_hours`), though a run started by hand runs at any hour.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.utils.functional import Promise

# Defines the work-hours settings when the app registry loads this module.
from ispdesk.jobs import work_hours  # noqa: F401


@dataclass(frozen=True)
class JobContext:
    now: datetime
    worker: str
    manual: bool


JobFunction = Callable[[JobContext], dict[str, int] | None]


@dataclass(frozen=True)
class JobDefinition:
    name: str
    function: JobFunction
    interval: timedelta
    description: str | Promise
    honours_pause: bool
    work_hours_only: bool = False


_JOBS: dict[str, JobDefinition] = {}


def periodic_job(
    name: str,
    *,
    interval: timedelta,
    description: str | Promise,
    honours_pause: bool = True,
    work_hours_only: bool = False,
) -> Callable[[JobFunction], JobFunction]:
    if interval < timedelta(seconds=1):
        raise ValueError("a job's interval must be at least one second")

    def decorator(function: JobFunction) -> JobFunction:
        existing = _JOBS.get(name)
        if existing is not None and existing.function is not function:
            raise RuntimeError(f"job {name!r} is registered twice")
        _JOBS[name] = JobDefinition(
            name, function, interval, description, honours_pause, work_hours_only
        )
        return function

    return decorator


def registered_jobs() -> dict[str, JobDefinition]:
    return dict(_JOBS)


def get_job(name: str) -> JobDefinition | None:
    return _JOBS.get(name)


def unregister(name: str) -> None:
    """For tests that register temporary jobs."""
    _JOBS.pop(name, None)


def autodiscover() -> None:
    """Import `jobs` modules of every ispdesk app so their jobs register."""
    for config in apps.get_app_configs():
        if not config.name.startswith("ispdesk."):
            continue
        module = f"{config.name}.jobs" if config.name != "ispdesk.jobs" else "ispdesk.jobs.builtin"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
