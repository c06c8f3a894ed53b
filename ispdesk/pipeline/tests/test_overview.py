"""The pipeline overview: jobs, external systems and the tickets stuck on their way to Splynx."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.pipeline import overview
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.jobs import ASSIGN_UNASSIGNED, OVERDUE_ALERTS
from ispdesk.tickets.models import Source, Status, Ticket

URL = "/integrations/pipeline/"
numbers = count(1)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def schedule(name: str) -> JobSchedule:
    ensure_schedules()
    return JobSchedule.objects.get(name=name)


def add_run(name: str, minutes_ago: int, **fields: Any) -> JobRun:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    fields.setdefault("finished_at", started + timedelta(seconds=1.5))
    fields.setdefault("outcome", JobRun.Outcome.OK)
    return JobRun.objects.create(schedule=schedule(name), started_at=started, **fields)


def make_ticket(**fields: Any) -> Ticket:
    fields.setdefault("subject", "Sin conexión")
    return Ticket.objects.create(
        source=Source.GESTIONREAL,
        external_id=str(next(numbers)),
        created_at=timezone.now(),
        **fields,
    )


def job_row(response, name: str) -> overview.JobRow:  # type: ignore[no-untyped-def]
    return next(row for row in response.context["jobs"] if row.name == name)


# Who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["admin_client", "supervisor_client"])
def test_admins_and_supervisors_see_the_overview(request, person):
    response = request.getfixturevalue(person).get(URL)
    assert response.status_code == 200
    assert "<h1>Ticket pipeline</h1>" in html(response)


@pytest.mark.parametrize("person", ["operator_client", "outsider_client"])
def test_operators_may_not_see_it(request, person):
    assert request.getfixturevalue(person).get(URL).status_code == 403


def test_anonymous_people_go_to_the_login_page(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"


# Jobs -------------------------------------------------------------------------------------


def test_it_lists_the_registered_pipeline_jobs_in_pipeline_order_and_skips_the_others(
    admin_client, monkeypatch
):
    # A job another module has not registered (yet) is left out, not an error.
    monkeypatch.setattr(
        overview, "PIPELINE_JOBS", (*overview.PIPELINE_JOBS, "tickets.not_registered_here")
    )
    response = admin_client.get(URL)
    assert response.status_code == 200
    names = [row.name for row in response.context["jobs"]]
    assert ASSIGN_UNASSIGNED in names and OVERDUE_ALERTS in names
    assert "tickets.not_registered_here" not in names
    assert "housekeeping" not in names  # not a pipeline job
    assert names == [name for name in overview.PIPELINE_JOBS if name in names]
    page = html(response)
    assert 'data-job="tickets.not_registered_here"' not in page
    assert f'data-job="{OVERDUE_ALERTS}"' in page


def test_it_shows_each_jobs_interval_work_hours_and_next_run(admin_client):
    alerts = schedule(OVERDUE_ALERTS)
    JobSchedule.objects.filter(pk=alerts.pk).update(interval_seconds=180)
    response = admin_client.get(URL)
    row = job_row(response, OVERDUE_ALERTS)
    assert row.interval == "3 min"
    assert row.definition.work_hours_only
    page = html(response)
    assert "every 3 min" in page
    assert "only inside work hours" in page
    next_run = timezone.localtime(row.schedule.next_run_at).isoformat()
    assert f'<time datetime="{next_run}">' in page
    assert "never ran" in page


def test_it_shows_the_last_finished_run_with_counts_duration_and_error(admin_client):
    add_run(OVERDUE_ALERTS, 30, counts={"alerted": 1})
    add_run(
        OVERDUE_ALERTS,
        3,
        outcome=JobRun.Outcome.ERROR,
        counts={"notified": 4, "errors": 2},
        error="SplynxError: <b>502</b> from the server",
    )
    # Asked for by hand and not yet taken: the last finished run stays the one shown.
    add_run(OVERDUE_ALERTS, 0, outcome=JobRun.Outcome.QUEUED, finished_at=None)
    response = admin_client.get(URL)
    row = job_row(response, OVERDUE_ALERTS)
    assert row.last_run is not None and row.last_run.counts == {"notified": 4, "errors": 2}
    assert row.last_worked is None
    page = html(response)
    assert '<th scope="row">notified</th><td>4</td>' in page
    assert '<th scope="row">errors</th><td>2</td>' in page
    assert "took 1.5 s" in page
    assert "SplynxError: &lt;b&gt;502&lt;/b&gt; from the server" in page
    assert "<b>502</b>" not in page
    assert '<details class="pipeline-run-error" open>' in page
    assert "alerted" not in page  # older than the last run


def test_after_a_skipped_run_it_also_shows_the_last_run_that_did_work(admin_client):
    add_run(ASSIGN_UNASSIGNED, 20, counts={"assigned": 5})
    add_run(ASSIGN_UNASSIGNED, 10, outcome=JobRun.Outcome.SKIPPED, error="system paused")
    add_run(ASSIGN_UNASSIGNED, 5, outcome=JobRun.Outcome.SKIPPED, error="system paused")
    response = admin_client.get(URL)
    row = job_row(response, ASSIGN_UNASSIGNED)
    assert [shown.run.outcome for shown in row.shown_runs] == ["skipped", "ok"]
    assert row.last_run is not None and row.last_run.started_at > row.shown_runs[1].run.started_at
    page = html(response)
    assert "The system is paused." in page
    assert '<th scope="row">assigned</th><td>5</td>' in page


def test_it_says_when_a_job_is_running_requested_or_disabled(admin_client):
    JobSchedule.objects.filter(pk=schedule(OVERDUE_ALERTS).pk).update(lease_owner="worker-1")
    JobSchedule.objects.filter(pk=schedule(ASSIGN_UNASSIGNED).pk).update(
        run_requested_at=timezone.now()
    )
    response = admin_client.get(URL)
    assert job_row(response, OVERDUE_ALERTS).running
    assert job_row(response, ASSIGN_UNASSIGNED).requested
    page = html(response)
    assert '<span class="pill pill-info">Running</span>' in page
    assert '<span class="pill pill-info">Run requested</span>' in page

    JobSchedule.objects.filter(name=OVERDUE_ALERTS).update(enabled=False, lease_owner="")
    page = html(admin_client.get(URL))
    assert '<span class="pill pill-muted">Disabled</span>' in page
    # A disabled job would never be taken by a worker, so it offers no "Run now".
    assert f'action="/jobs/{OVERDUE_ALERTS}/run/"' not in page
    assert f'action="/jobs/{ASSIGN_UNASSIGNED}/run/"' in page


def test_admins_run_a_job_now_through_the_jobs_action(admin_client, admin):
    page = html(admin_client.get(URL))
    assert f'action="/jobs/{ASSIGN_UNASSIGNED}/run/"' in page
    assert 'name="next" value="/integrations/pipeline/"' in page
    response = admin_client.post(f"/jobs/{ASSIGN_UNASSIGNED}/run/", {"next": URL})
    assert response.status_code == 302
    assert schedule(ASSIGN_UNASSIGNED).run_requested_at is not None
    assert AuditEvent.objects.filter(action="job.run_requested", actor=admin).exists()


def test_supervisors_get_no_run_now_button_nor_settings_links(supervisor_client):
    page = html(supervisor_client.get(URL))
    assert "/run/" not in page
    assert "Run now" not in page
    assert 'href="/integrations/splynx/"' not in page
    assert 'href="/jobs/"' not in page


# External systems -------------------------------------------------------------------------


def test_it_shows_each_external_systems_state_and_last_test(admin_client):
    ExternalSystem.objects.create(
        kind=SystemKind.SPLYNX,
        enabled=True,
        last_test_at=timezone.now(),
        last_test_ok=False,
        last_test_detail="Splynx rejected the credentials <401>",
    )
    ExternalSystem.objects.create(
        kind=SystemKind.GESTIONREAL, enabled=False, last_test_at=timezone.now(), last_test_ok=True
    )
    response = admin_client.get(URL)
    systems = {row.kind: row for row in response.context["systems"]}
    assert set(systems) == {"splynx", "gestionreal", "ticket_hook"}
    assert systems["ticket_hook"].system is None
    page = html(response)
    splynx = page[page.index('data-system="splynx"') :].split("</tr>")[0]
    assert "pill-ok" in splynx and "Failed" in splynx
    assert "Splynx rejected the credentials &lt;401&gt;" in splynx
    assert 'href="/integrations/splynx/"' in splynx
    gestionreal = page[page.index('data-system="gestionreal"') :].split("</tr>")[0]
    assert ">Off<" in gestionreal and "Passed" in gestionreal
    hook = page[page.index('data-system="ticket_hook"') :].split("</tr>")[0]
    assert "never tested" in hook


# Tickets on their way to Splynx -----------------------------------------------------------


def test_it_counts_open_tickets_not_yet_in_splynx_and_tickets_with_a_sync_error(admin_client):
    make_ticket()  # waiting
    make_ticket(splynx_error="Splynx: timeout")  # waiting, and failing
    make_ticket(splynx_ticket_id=77)  # in Splynx
    make_ticket(status=Status.CLOSED, closed_at=timezone.now())  # closed: not waiting
    make_ticket(splynx_ticket_id=78, splynx_error="Splynx: could not close")  # failing
    response = admin_client.get(URL)
    tickets = response.context["tickets"]
    assert (tickets.waiting, tickets.failing) == (2, 2)
    page = html(response)
    assert '<div data-total="waiting"><dt>Open, not yet in Splynx</dt><dd>2</dd></div>' in page
    assert "With a Splynx sync error</dt><dd>2</dd>" in page


def test_it_lists_the_latest_ten_errors_escaped_with_links_to_their_tickets(admin_client):
    tickets = [make_ticket(subject=f"Caso {n}", splynx_error=f"error {n}") for n in range(12)]
    # The most recently updated come first; updated_at is set on save, so space them out.
    now = timezone.now()
    for n, ticket in enumerate(tickets):
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=now - timedelta(minutes=12 - n))
    hostile = make_ticket(
        subject="<script>alert(1)</script>",
        customer_name="Laura <b>Medina</b>",
        splynx_error='Splynx said: <img src=x onerror="alert(2)">',
    )
    response = admin_client.get(URL)
    shown = response.context["tickets"].latest_errors
    assert len(shown) == overview.ERRORS_SHOWN
    assert [ticket.pk for ticket in shown[:3]] == [hostile.pk, tickets[11].pk, tickets[10].pk]
    assert tickets[0] not in shown and tickets[1] not in shown
    assert response.context["tickets"].failing == 13
    page = html(response)
    assert f'href="/tickets/{hostile.pk}/"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Laura &lt;b&gt;Medina&lt;/b&gt;" in page
    assert "Splynx said: &lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "The latest 10 errors" in page


def test_it_says_so_when_no_ticket_has_an_error(admin_client):
    make_ticket(splynx_ticket_id=5)
    page = html(admin_client.get(URL))
    assert "No ticket has a Splynx sync error." in page
    assert "With a Splynx sync error</dt><dd>0</dd>" in page


# Live refresh and query counts ------------------------------------------------------------


def test_it_refetches_its_live_parts_on_job_and_ticket_events_and_after_a_reconnect(
    admin_client,
):
    page = html(admin_client.get(URL))
    assert 'hx-get="/integrations/pipeline/"' in page
    for trigger in ("ispdesk:job:run from:body", "ispdesk:job:update from:body"):
        assert trigger in page
    assert "ispdesk:ticket:update from:body" in page
    assert "ispdesk:resync from:body" in page


def test_it_answers_htmx_with_its_live_parts_only(admin_client):
    add_run(OVERDUE_ALERTS, 1, counts={"alerted": 9})
    make_ticket(splynx_error="Splynx: 500")
    response = admin_client.get(URL, headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = html(response)
    assert "<html" not in page
    assert 'id="pipeline-tickets" aria-labelledby="pipeline-tickets-title" hx-swap-oob="true"' in (
        page
    )
    assert 'id="pipeline-jobs" aria-labelledby="pipeline-jobs-title" hx-swap-oob="true"' in page
    assert '<th scope="row">alerted</th><td>9</td>' in page
    assert "Splynx: 500" in page
    assert 'data-system="splynx"' not in page  # the systems don't change with events
    assert "HX-Request" in response["Vary"]


def _queries(client, **headers: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, headers=headers)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("htmx", [False, True])
def test_it_makes_the_same_few_queries_however_much_there_is(
    admin_client, django_assert_max_num_queries, htmx
):
    headers = {"HX-Request": "true"} if htmx else {}
    ensure_schedules()
    admin_client.get(URL)  # the session is read once, as on any page
    few = _queries(admin_client, **headers)
    for system in SystemKind.values:
        ExternalSystem.objects.create(kind=system, enabled=True)
    for name in (OVERDUE_ALERTS, ASSIGN_UNASSIGNED):
        for minutes in range(1, 8):
            add_run(name, minutes, counts={"a": minutes, "b": 1}, error="x")
        add_run(name, 0, outcome=JobRun.Outcome.SKIPPED, error="system paused")
    for n in range(15):
        make_ticket(splynx_error=f"error {n}", customer_name="Laura")
    assert _queries(admin_client, **headers) == few
    # The page's six (schedule names, schedules, last runs, systems, totals, latest errors)
    # plus what every page reads: the session, the user, the pause banner, the navigation.
    with django_assert_max_num_queries(10):
        admin_client.get(URL, headers=headers)
