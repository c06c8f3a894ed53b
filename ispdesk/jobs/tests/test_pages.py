"""The jobs page: schedules, recent runs, run now, interval and on/off, live refresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import new_worker_id, run_due_jobs
from ispdesk.jobs.views import RUNS_SHOWN, format_seconds
from ispdesk.system.models import AuditEvent
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def ok_job(ctx):  # type: ignore[no-untyped-def]
    return {"checked": 3}


@pytest.fixture
def nightly(register_job) -> JobSchedule:  # type: ignore[no-untyped-def]
    return register_job("nightly-sync", ok_job, interval=timedelta(hours=2))


def add_runs(schedule: JobSchedule, count: int, **fields: Any) -> list[JobRun]:
    start = timezone.now() - timedelta(hours=count)
    return [
        JobRun.objects.create(
            schedule=schedule,
            started_at=start + timedelta(hours=number),
            finished_at=start + timedelta(hours=number, seconds=2),
            outcome=fields.get("outcome", JobRun.Outcome.OK),
            counts=fields.get("counts", {"run": number}),
            error=fields.get("error", ""),
        )
        for number in range(count)
    ]


def test_it_lists_every_registered_job_with_its_schedule(admin_client):
    assert not JobSchedule.objects.exists()
    response = admin_client.get("/jobs/")
    assert response.status_code == 200
    assert JobSchedule.objects.filter(name="housekeeping").exists()  # created on first visit
    page = html(response)
    assert "housekeeping" in page
    assert "Deletes expired sessions" in page
    assert "1 h" in page
    assert 'action="/jobs/housekeeping/run/"' in page


@pytest.mark.parametrize("fixture", ["supervisor_client", "operator_client", "outsider_client"])
def test_it_forbids_the_jobs_page_to_everyone_but_admins(request, fixture, nightly):
    client = request.getfixturevalue(fixture)
    assert client.get("/jobs/").status_code == 403
    assert client.post("/jobs/nightly-sync/run/").status_code == 403
    assert client.post("/jobs/nightly-sync/", {"enabled": "0"}).status_code == 403
    nightly.refresh_from_db()
    assert nightly.enabled and nightly.run_requested_at is None


def test_it_shows_the_last_runs_only_with_counts_and_errors(admin_client, nightly):
    add_runs(nightly, RUNS_SHOWN + 3)
    add_runs(nightly, 1, outcome=JobRun.Outcome.ERROR, error="Traceback: boom", counts={})
    response = admin_client.get("/jobs/")
    card = next(card for card in response.context["jobs"] if card.schedule == nightly)
    assert len(card.runs) == RUNS_SHOWN
    assert card.runs[0].started_at >= card.runs[-1].started_at
    page = html(response)
    assert "Traceback: boom" in page
    assert '<details class="run-error">' in page
    assert "run: <strong>12</strong>" in page
    assert "run: <strong>0</strong>" not in page  # older than the last ten


def test_it_answers_htmx_with_the_job_activity_only(admin_client, nightly):
    add_runs(nightly, 1, counts={"synced": 7})
    response = admin_client.get("/jobs/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = html(response)
    assert "<html" not in page
    assert 'id="job-activity-nightly-sync" hx-swap-oob="true"' in page
    assert "synced: <strong>7</strong>" in page
    assert "HX-Request" in response["Vary"]


def test_the_page_refetches_on_job_events_and_resync(admin_client, nightly):
    page = html(admin_client.get("/jobs/"))
    assert 'hx-get="/jobs/"' in page
    assert "ispdesk:job:run from:body" in page
    assert "ispdesk:resync from:body" in page


def test_it_runs_a_job_now(admin_client, admin, nightly):
    JobSchedule.objects.filter(pk=nightly.pk).update(
        next_run_at=timezone.now() + timedelta(hours=1)
    )
    response = admin_client.post("/jobs/nightly-sync/run/")
    assert response.status_code == 302
    nightly.refresh_from_db()
    assert nightly.run_requested_at is not None
    assert nightly.next_run_at <= timezone.now()
    assert AuditEvent.objects.filter(action="job.run_requested", actor=admin).exists()
    assert "nightly-sync will run within seconds." in html(admin_client.get("/jobs/"))


def test_it_runs_with_a_post_only(admin_client, nightly):
    assert admin_client.get("/jobs/nightly-sync/run/").status_code == 405


def test_it_answers_404_for_an_unknown_job(admin_client):
    assert admin_client.post("/jobs/no-such-job/run/").status_code == 404


def test_it_changes_the_interval(admin_client, nightly):
    form = {"nightly-sync-value": "15", "nightly-sync-unit": "60"}
    response = admin_client.post("/jobs/nightly-sync/", form)
    assert response.status_code == 302
    nightly.refresh_from_db()
    assert nightly.interval_seconds == 15 * 60
    event = AuditEvent.objects.get(action="job.updated")
    assert event.before["interval_seconds"] == 7200
    assert event.after["interval_seconds"] == 900
    assert "nightly-sync now runs every 15 min." in html(admin_client.get("/jobs/"))


@pytest.mark.parametrize(
    ("value", "unit"), [("5", "1"), ("8", "86400"), ("0", "60"), ("soon", "60"), ("1", "7")]
)
def test_it_refuses_an_interval_out_of_range(admin_client, nightly, value, unit):
    form = {"nightly-sync-value": value, "nightly-sync-unit": unit}
    response = admin_client.post("/jobs/nightly-sync/", form)
    assert response.status_code == 422
    assert 'class="field-error"' in html(response)
    nightly.refresh_from_db()
    assert nightly.interval_seconds == 7200
    assert not AuditEvent.objects.exists()


def test_it_names_the_allowed_range(admin_client, nightly):
    form = {"nightly-sync-value": "5", "nightly-sync-unit": "1"}
    page = html(admin_client.post("/jobs/nightly-sync/", form))
    assert "Choose an interval between 10 s and 7 d." in page


def test_it_disables_and_enables_a_job(admin_client, nightly):
    admin_client.post("/jobs/nightly-sync/", {"enabled": "0"})
    nightly.refresh_from_db()
    assert not nightly.enabled
    page = html(admin_client.get("/jobs/"))
    assert "nightly-sync is disabled" in page
    assert "Disabled" in page
    admin_client.post("/jobs/nightly-sync/", {"enabled": "1"})
    nightly.refresh_from_db()
    assert nightly.enabled
    assert AuditEvent.objects.filter(action="job.updated").count() == 2


def test_it_shows_the_interval_in_the_largest_exact_unit(admin_client, nightly):
    form = admin_client.get("/jobs/").context["jobs"]
    card = next(card for card in form if card.schedule == nightly)
    assert card.interval_form.initial == {"value": 2, "unit": 3600}


def test_format_seconds_reads_at_a_glance():
    assert format_seconds(0.25) == "0.25 s"
    assert format_seconds(45) == "45 s"
    assert format_seconds(300) == "5 min"
    assert format_seconds(5400) == "1 h 30 min"
    assert format_seconds(7 * 86400) == "7 d"


# The real-time path, end to end in a browser ---------------------------------------------


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_it_refreshes_the_runs_live_and_after_a_reconnect(live_asgi, admin, nightly, browser):  # noqa: F811
    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/jobs/")
    page.wait_for_selector('body[data-realtime-state="connected"]', timeout=10_000)
    assert page.locator("#job-activity-nightly-sync table.runs").count() == 0

    runs = run_due_jobs(new_worker_id())  # as the worker would, in another process

    assert [run.outcome for run in runs] == [JobRun.Outcome.OK]
    rows = "#job-activity-nightly-sync table.runs tbody tr"
    row = page.wait_for_selector(rows, timeout=10_000)
    assert row is not None
    assert "checked: 3" in row.inner_text()

    # A run recorded while the socket is down sends no event the page can receive; the
    # resync after the reconnect must bring it anyway.
    page.evaluate("document.body.addEventListener('ispdesk:resync', () => window.resynced = true)")
    page.evaluate("window.ispdeskRealtime.socket().close()")
    page.wait_for_selector('body[data-realtime-state="reconnecting"]', timeout=5_000)
    add_runs(nightly, 1, counts={"while_away": 1})
    page.wait_for_function("window.resynced === true", timeout=10_000)
    page.wait_for_selector(f"{rows} >> text=while_away", timeout=10_000)
    assert page.locator(rows).count() == 2
    assert page.evaluate("document.body.dataset.realtimeState") == "connected"


def test_counts_and_the_runners_own_errors_are_shown_in_words(admin_client, nightly):
    add_runs(nightly, 1, counts={"not_notified": 2, "custom_count": 1})
    add_runs(nightly, 1, outcome=JobRun.Outcome.SKIPPED, counts={}, error="system paused")
    page = html(admin_client.get("/jobs/"))
    assert "not notified: <strong>2</strong>" in page
    assert "custom_count: <strong>1</strong>" in page  # a name no table knows, as stored
    assert "The system is paused." in page
    assert "system paused" not in page


def test_the_spanish_page_says_the_counts_in_spanish(admin_client, nightly, settings):
    settings.LANGUAGE_CODE = "es-ar"
    add_runs(nightly, 1, counts={"not_notified": 2})
    page = html(admin_client.get("/jobs/", headers={"accept-language": "es-AR"}))
    assert "not_notified" not in page and "not notified" not in page
