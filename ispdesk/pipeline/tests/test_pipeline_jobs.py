"""The pipeline's jobs: registered as the issue lists them, started over the API (202 and a
run to follow), inside the work hours when scheduled, never while the system is paused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.runner import request_run, run_due_jobs
from ispdesk.pipeline import jobs
from ispdesk.pipeline.tests.flow_support import (
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    only_job,
    run_scheduled,
)
from ispdesk.system.actions import do_pause_system
from ispdesk.tickets.models import Ticket

BA = ZoneInfo("America/Argentina/Buenos_Aires")
WEDNESDAY_NOON = datetime(2026, 3, 11, 12, 0, tzinfo=BA)
WEDNESDAY_NIGHT = datetime(2026, 3, 11, 2, 0, tzinfo=BA)

ENDPOINTS = [
    ("/api/tickets/download", jobs.DOWNLOAD),
    ("/api/tickets/create", jobs.CREATE),
    ("/api/tickets/close", jobs.CLOSE_SYNC),
    ("/api/tickets/all_flow", jobs.TICKET_FLOW),
    ("/api/tickets/sync_status", jobs.SYNC_STATUS),
    ("/api/tickets/import_existing", jobs.IMPORT_EXISTING),
]


@pytest.mark.parametrize(
    ("name", "minutes"),
    [
        (jobs.TICKET_FLOW, 3),
        (jobs.CLOSE_SYNC, 5),
        (jobs.SYNC_STATUS, 5),
        (jobs.IMPORT_EXISTING, 5),
        (jobs.DOWNLOAD, 24 * 60),
        (jobs.CREATE, 24 * 60),
    ],
)
def test_each_job_is_registered_for_work_hours_honouring_the_pause(name: str, minutes: int) -> None:
    job = get_job(name)
    assert job is not None
    assert job.interval == timedelta(minutes=minutes)
    assert (job.work_hours_only, job.honours_pause) == (True, True)


@pytest.mark.parametrize(("path", "name"), ENDPOINTS)
def test_an_admin_starts_each_job_and_follows_its_run(
    desk: Desk, admin_client: Client, path: str, name: str
) -> None:
    desk.caso("10457", "Sin servicio")
    only_job(name)

    started = admin_client.post(path)

    assert started.status_code == 202
    run_id = started.json()["run"]
    assert admin_client.get(f"/api/jobs/runs/{run_id}").json()["outcome"] == "queued"
    runs = run_due_jobs("test-worker")
    assert [run.pk for run in runs] == [run_id]
    body = admin_client.get(f"/api/jobs/runs/{run_id}").json()
    assert (body["job"], body["outcome"], body["trigger"]) == (name, "ok", "manual")
    assert body["counts"].get("errors", 0) == 0


def test_the_download_endpoint_creates_tickets_and_the_create_endpoint_pushes_them(
    desk: Desk, admin_client: Client
) -> None:
    desk.caso("10457", "Sin servicio")
    only_job(jobs.DOWNLOAD)
    run_id = admin_client.post("/api/tickets/download").json()["run"]
    run_due_jobs("test-worker")
    assert JobRun.objects.get(pk=run_id).counts == {
        "fetched": 1,
        "created": 1,
        "skipped": 0,
        "closed": 0,
        "reopened": 0,
        "errors": 0,
    }
    assert Ticket.objects.get().splynx_ticket_id is None

    only_job(jobs.CREATE)
    run_id = admin_client.post("/api/tickets/create").json()["run"]
    run_due_jobs("test-worker")
    assert JobRun.objects.get(pk=run_id).counts["pushed"] == 1
    assert Ticket.objects.get().splynx_ticket_id in desk.splynx.tickets


@pytest.mark.parametrize(("path", "name"), ENDPOINTS[:2])
def test_only_admins_start_them(
    db: Any, supervisor_client: Client, operator_client: Client, path: str, name: str
) -> None:
    assert supervisor_client.post(path).status_code == 403
    assert operator_client.post(path).status_code == 403
    assert not JobRun.objects.exists()


def test_a_switched_off_job_is_refused_with_409(db: Any, admin_client: Client) -> None:
    JobSchedule.objects.filter(name=only_job(jobs.TICKET_FLOW).name).update(enabled=False)

    refused = admin_client.post("/api/tickets/all_flow")

    assert (refused.status_code, refused.json()["code"]) == (409, "job_disabled")


def test_the_ticket_routes_still_answer_next_to_the_job_routes(
    db: Any, admin_client: Client
) -> None:
    # `/api/tickets/close` is the job; `/api/tickets/{id}/close` still closes one ticket.
    assert admin_client.generic("POST", "/api/tickets/999999/close").status_code == 404
    assert admin_client.get("/api/tickets/create").status_code == 405


def test_scheduled_runs_wait_for_the_work_hours_and_hand_started_ones_do_not(
    desk: Desk,
) -> None:
    desk.caso("10457", "Sin servicio")

    assert run_scheduled(jobs.TICKET_FLOW, WEDNESDAY_NIGHT) is None
    assert not Ticket.objects.exists()
    schedule = JobSchedule.objects.get(name=jobs.TICKET_FLOW)
    assert schedule.next_run_at == WEDNESDAY_NIGHT + timedelta(hours=1)

    request_run(None, schedule)
    # Asked for by hand, and due in the middle of the night: it runs.
    JobSchedule.objects.filter(pk=schedule.pk).update(next_run_at=WEDNESDAY_NIGHT)
    [run] = run_due_jobs("test-worker", now=WEDNESDAY_NIGHT)
    assert (run.outcome, run.trigger, run.counts["created"]) == ("ok", "manual", 1)

    daytime = run_scheduled(jobs.CLOSE_SYNC, WEDNESDAY_NOON)
    assert daytime is not None
    assert daytime.outcome == "ok"


def test_nothing_runs_while_the_system_is_paused(desk: Desk, admin: Any) -> None:
    desk.caso("10457", "Sin servicio")
    do_pause_system(admin, "Mantenimiento")

    run = run_scheduled(jobs.TICKET_FLOW, timezone.now().astimezone(BA).replace(hour=12))

    assert run is not None
    assert (run.outcome, run.error) == ("skipped", "system paused")
    assert not Ticket.objects.exists()
