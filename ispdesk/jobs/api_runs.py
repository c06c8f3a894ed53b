"""Job runs for API clients: one run's outcome, and starting a job by hand.

Endpoints that start a job (`POST /api/tickets/alert_overdue`, …) answer 202 with the id of
the queued run; `GET /api/jobs/runs/{id}` then reports it: `queued`, `running`, and finally
`ok`, `skipped` (with the reason in `error`) or `error`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.api_errors import ApiError
from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import request_run_by_name

router = Router(tags=["jobs"])


class RunStartedOut(Schema):
    run: int


class JobRunOut(Schema):
    id: int
    job: str
    outcome: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    error: str


def start_job(request: ApiRequest, name: str) -> Status:
    """Admins only: queue a run of the job now (at any hour) and answer 202 with its id."""
    api_require_admin(request.auth)
    if JobSchedule.objects.filter(name=name, enabled=False).exists():
        # No worker would ever take it: say so rather than hand out a run that stays queued.
        raise ApiError(409, "job_disabled", _("This job is switched off; enable it first."))
    run = request_run_by_name(request.auth, name)
    return Status(202, {"run": run.pk})


def add_job_starters(target: Router, jobs: Mapping[str, str]) -> None:
    """`POST <path>` on `target` for each path → job name: start that job now (see
    `start_job`). The endpoints differ only in the job, so they are made from a table."""
    for path, name in jobs.items():
        target.post(
            f"/{path}",
            response={202: RunStartedOut},
            operation_id=f"start_{path}",
            summary=f"Run {name} now",
        )(_starter(name))


def _starter(name: str) -> Callable[[ApiRequest], Status]:
    # A closure, not a default argument: Ninja would publish an extra parameter.
    def start(request: ApiRequest) -> Status:
        return start_job(request, name)

    return start


@router.get("/runs/{run_id}", response=JobRunOut)
def get_run(request: ApiRequest, run_id: int) -> dict[str, Any]:
    api_require_admin(request.auth)
    run = JobRun.objects.select_related("schedule").filter(pk=run_id).first()
    if run is None:
        raise Http404
    return {
        "id": run.pk,
        "job": run.schedule.name,
        "outcome": run.outcome,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "counts": run.counts if isinstance(run.counts, dict) else {},
        "error": run.error,
    }
