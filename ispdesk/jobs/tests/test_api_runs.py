"""`GET /api/jobs/runs/{id}`: an admin follows a run started over the API."""

from __future__ import annotations

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import ensure_schedules, run_due_jobs


def test_it_reports_a_run_from_queued_to_its_outcome(admin_client):
    started = admin_client.post("/api/tickets/alert_overdue").json()["run"]

    queued = admin_client.get(f"/api/jobs/runs/{started}")
    assert queued.status_code == 200
    body = queued.json()
    assert (body["id"], body["job"], body["outcome"], body["trigger"]) == (
        started,
        "tickets.overdue_alerts",
        "queued",
        "manual",
    )
    assert body["finished_at"] is None

    JobSchedule.objects.exclude(name="tickets.overdue_alerts").update(enabled=False)
    run_due_jobs("test-worker")

    done = admin_client.get(f"/api/jobs/runs/{started}").json()
    assert done["outcome"] == "ok"
    assert done["finished_at"] is not None
    assert done["counts"]["checked"] == 0


def test_it_is_for_admins_and_404s_unknown_runs(admin_client, supervisor_client):
    ensure_schedules()
    run = JobRun.objects.create(
        schedule=JobSchedule.objects.get(name="housekeeping"), started_at="2026-03-11T10:00Z"
    )
    assert supervisor_client.get(f"/api/jobs/runs/{run.pk}").status_code == 403
    missing = admin_client.get(f"/api/jobs/runs/{run.pk + 1000}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
