"""The pipeline overview in Chromium: how it looks (a screenshot for people to review) and its
live refresh when a job run is recorded by a worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ispdesk.jobs.models import JobRun, JobSchedule
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401
from ispdesk.tickets.jobs import ASSIGN_UNASSIGNED, OVERDUE_ALERTS
from ispdesk.tickets.models import Source, Ticket

ARTIFACTS = Path(settings.BASE_DIR).parent / "test-artifacts"
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def a_busy_pipeline() -> None:
    now = timezone.now()
    ExternalSystem.objects.create(
        kind=SystemKind.SPLYNX,
        enabled=True,
        config={"base_url": "https://splynx.example.net"},
        last_test_at=now - timedelta(hours=2),
        last_test_ok=True,
        last_test_detail="12 administrators",
    )
    ExternalSystem.objects.create(
        kind=SystemKind.GESTIONREAL,
        enabled=True,
        last_test_at=now - timedelta(minutes=20),
        last_test_ok=False,
        last_test_detail="credenciales rechazadas (error 90)",
    )
    ensure_schedules()
    alerts = JobSchedule.objects.get(name=OVERDUE_ALERTS)
    JobRun.objects.create(
        schedule=alerts,
        started_at=now - timedelta(minutes=3),
        finished_at=now - timedelta(minutes=3) + timedelta(seconds=2.4),
        outcome=JobRun.Outcome.OK,
        counts={"alerted": 3, "notified": 2},
    )
    JobRun.objects.create(
        schedule=JobSchedule.objects.get(name=ASSIGN_UNASSIGNED),
        started_at=now - timedelta(minutes=1),
        finished_at=now - timedelta(minutes=1) + timedelta(seconds=0.3),
        outcome=JobRun.Outcome.ERROR,
        counts={"assigned": 1, "errors": 1},
        error="Traceback (most recent call last):\n  ...\nSplynxError: 503 Service Unavailable",
    )
    for number, (subject, error) in enumerate(
        [
            ("Sin conexión desde ayer", "Splynx: customer 1035 not found"),
            ("Corte de fibra en Av. Mitre", "Splynx did not answer in 10 s (timeout)"),
            ("Cambio de plan", ""),
        ]
    ):
        Ticket.objects.create(
            source=Source.GESTIONREAL,
            external_id=f"GR-{number}",
            subject=subject,
            customer_name="Laura Medina",
            created_at=now - timedelta(minutes=30 + number),
            splynx_error=error,
        )


def test_an_admin_reviews_the_pipeline_and_sees_a_new_run_live(live_asgi, admin, browser):  # noqa: F811
    from playwright.sync_api import expect

    a_busy_pipeline()
    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/integrations/pipeline/")
    page.wait_for_selector('body[data-realtime-state="connected"]', timeout=TIMEOUT_MS)

    expect(page.get_by_role("heading", name="Ticket pipeline")).to_be_visible()
    expect(page.locator('[data-total="waiting"] dd')).to_have_text("3")
    expect(page.locator('[data-total="failing"] dd')).to_have_text("2")
    expect(page.locator(".pipeline-errors tbody tr")).to_have_count(2)
    expect(page.locator('[data-system="gestionreal"]')).to_contain_text("credenciales rechazadas")
    alerts = page.locator(f'tr[data-job="{OVERDUE_ALERTS}"]')
    expect(alerts.locator(".pipeline-counts")).to_contain_text("alerted")
    expect(alerts.locator(".pipeline-counts tr")).to_have_count(2)
    expect(alerts.get_by_role("button", name="Run now")).to_be_visible()
    expect(
        page.locator(f'tr[data-job="{ASSIGN_UNASSIGNED}"] .pipeline-run-error pre')
    ).to_contain_text("503 Service Unavailable")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pipeline-overview.png"), full_page=True)

    # A worker records a run (in another process, in real life) and announces it.
    with transaction.atomic():
        JobRun.objects.create(
            schedule=JobSchedule.objects.get(name=OVERDUE_ALERTS),
            started_at=timezone.now(),
            finished_at=timezone.now(),
            outcome=JobRun.Outcome.OK,
            counts={"prealerted": 7},
        )
        send_event_on_commit(
            ["role.admin"], {"type": "job:run", "job": OVERDUE_ALERTS, "outcome": "ok"}
        )
    expect(alerts.locator(".pipeline-counts")).to_contain_text("pre-alerted", timeout=TIMEOUT_MS)
    # The new run replaced the older one (two counts) as the last run.
    expect(alerts.locator(".pipeline-counts tr")).to_have_count(1)
