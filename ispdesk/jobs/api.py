"""Jobs API for admins: list schedules with their last run, run now, change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404
from ninja import Router, Schema, Status
from pydantic import Field

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.api_errors import ApiError
from ispdesk.jobs.actions import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    JobScheduleError,
    do_request_run,
    do_update_schedule,
)
from ispdesk.jobs.models import JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.runner import ensure_schedules

router = Router(tags=["jobs"])


class JobOut(Schema):
    name: str
    description: str
    interval_seconds: int
    enabled: bool
    next_run_at: datetime
    running: bool
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str


class JobPatchIn(Schema):
    interval_seconds: int | None = Field(None, ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS)
    enabled: bool | None = None


def job_out(schedule: JobSchedule) -> dict[str, Any]:
    job = get_job(schedule.name)
    return {
        "name": schedule.name,
        "description": str(job.description) if job else "",
        "interval_seconds": schedule.interval_seconds,
        "enabled": schedule.enabled,
        "next_run_at": schedule.next_run_at,
        "running": bool(schedule.lease_owner),
        "last_started_at": schedule.last_started_at,
        "last_finished_at": schedule.last_finished_at,
        "last_outcome": schedule.last_outcome,
    }


def access_schedule(name: str) -> JobSchedule:
    ensure_schedules()
    schedule = JobSchedule.objects.filter(name=name).first()
    if schedule is None or get_job(name) is None:
        raise Http404
    return schedule


@router.get("", response=list[JobOut])
def list_jobs(request: ApiRequest) -> list[dict[str, Any]]:
    api_require_admin(request.auth)
    ensure_schedules()
    return [job_out(schedule) for schedule in JobSchedule.objects.all()]


@router.post("/{name}/run", response={202: JobOut})
def run_job(request: ApiRequest, name: str) -> Status:
    api_require_admin(request.auth)
    schedule = access_schedule(name)
    do_request_run(request.auth, schedule)
    schedule.refresh_from_db()
    return Status(202, job_out(schedule))


@router.patch("/{name}", response=JobOut)
def patch_job(request: ApiRequest, name: str, payload: JobPatchIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    schedule = access_schedule(name)
    try:
        updated = do_update_schedule(
            request.auth,
            schedule,
            interval_seconds=payload.interval_seconds,
            enabled=payload.enabled,
        )
    except JobScheduleError as exc:
        raise ApiError(422, "validation_error", exc.message, {exc.field: exc.message}) from None
    return job_out(updated)
