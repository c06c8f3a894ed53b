"""Starting the alert and shift jobs by hand over the API: 202 with the run to follow."""

from __future__ import annotations

import pytest
from django.test import Client

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import run_due_jobs
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.jobs import (
    AUTO_UNASSIGN_AFTER_SHIFT,
    END_OF_SHIFT_NOTIFICATIONS,
    OVERDUE_ALERTS,
)

ENDPOINTS = {
    "/api/tickets/auto_unassign_after_shift": AUTO_UNASSIGN_AFTER_SHIFT,
    "/api/tickets/alert_overdue": OVERDUE_ALERTS,
    "/api/tickets/end_of_shift_notifications": END_OF_SHIFT_NOTIFICATIONS,
}


@pytest.mark.parametrize(("path", "job"), ENDPOINTS.items())
def test_it_queues_a_manual_run_and_answers_with_its_id(admin_client, admin, path, job):
    response = admin_client.post(path)

    assert response.status_code == 202
    run = JobRun.objects.get(pk=response.json()["run"])
    assert (run.schedule.name, run.outcome, run.trigger) == (
        job,
        JobRun.Outcome.QUEUED,
        JobRun.Trigger.MANUAL,
    )
    assert AuditEvent.objects.filter(action="job.run_requested", actor=admin).count() == 1
    # Asking again before a worker took it gives the same run.
    assert admin_client.post(path).json() == response.json()

    # Any worker runs it now, whatever the hour: it was started by hand.
    JobSchedule.objects.exclude(name=job).update(enabled=False)
    runs = run_due_jobs("test-worker")
    assert [item.pk for item in runs] == [run.pk]
    run.refresh_from_db()
    assert run.outcome == JobRun.Outcome.OK, run.error
    assert "notified" in run.counts


@pytest.mark.parametrize("path", ENDPOINTS)
def test_only_admins_may_start_the_jobs(supervisor_client, operator_client, path):
    for client in (supervisor_client, operator_client):
        response = client.post(path)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert Client().post(path).status_code == 401
    assert not JobRun.objects.exists()


def test_a_switched_off_job_is_not_started(admin_client):
    admin_client.post("/api/tickets/alert_overdue")  # creates the schedules
    JobRun.objects.all().delete()
    JobSchedule.objects.filter(name=OVERDUE_ALERTS).update(enabled=False, run_requested_at=None)

    response = admin_client.post("/api/tickets/alert_overdue")

    assert response.status_code == 409
    assert response.json()["code"] == "job_disabled"
    assert not JobRun.objects.exists()
