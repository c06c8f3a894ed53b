"""The web export action: the saved settings drive the browser; the CSV becomes tickets once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from ispdesk.integrations.gestionreal.web_export import DEFAULT_CHROMIUM, SUBMIT_SELECTOR
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.web_export import do_run_web_export, web_export_settings
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.gestionreal_web import (
    PASSWORD,
    FakeGestionRealWeb,
    serving_fake_gestionreal_web,
)
from ispdesk.tickets.models import Source, Ticket

# The export's valid rows that become tickets; 10237 is "Cerrado", a closed state.
GOOD = ["10234", "10235", "10236", "10239"]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def site() -> Iterator[FakeGestionRealWeb]:
    with serving_fake_gestionreal_web() as served:
        yield served


def configure(site: FakeGestionRealWeb, *, password: str = PASSWORD, **web: Any) -> ExternalSystem:
    system, _created = ExternalSystem.objects.update_or_create(
        kind=SystemKind.GESTIONREAL,
        defaults={
            "enabled": True,
            "config": {
                "mode": "web",
                "login_url": site.login_url,
                "username": site.username,
                "web": {"timeout_seconds": 30, **web},
            },
            "secrets": {"password": password},
        },
    )
    return system


def audits() -> list[dict[str, Any]]:
    events = AuditEvent.objects.filter(action="gestionreal.web_export").order_by("pk")
    return [event.after or {} for event in events]


def test_it_imports_the_exported_cases_once(admin, site: FakeGestionRealWeb) -> None:  # type: ignore[no-untyped-def]
    configure(site)
    first = do_run_web_export(admin)
    assert first.ok, first.detail
    assert first.counts == {
        "create": 4,
        "exists": 0,
        "skipped": 1,
        "invalid": 3,
        "closed": 0,
        "reopened": 0,
    }
    assert first.detail.startswith("Web export done (casos.csv, 1.9")
    assert "Tickets created: 4; already there: 0; filtered out: 1; invalid rows: 3." in (
        first.detail
    )
    assert len(first.problems) == 3
    assert first.problems[0].startswith("Row 6 (10238): ")
    tickets = Ticket.objects.filter(source=Source.CSV)
    assert sorted(tickets.values_list("external_id", flat=True)) == GOOD
    assert tickets.get(external_id="10234").subject == "Sin señal desde ayer"

    again = do_run_web_export(admin)
    assert again.ok
    assert again.counts == {
        "create": 0,
        "exists": 4,
        "skipped": 1,
        "invalid": 3,
        "closed": 0,
        "reopened": 0,
    }
    assert Ticket.objects.count() == 4
    assert site.exports == 2
    assert [(event["ok"], event["counts"].get("create")) for event in audits()] == [
        (True, 4),
        (True, 0),
    ]


def test_a_rejected_login_imports_nothing_and_says_why(admin, site: FakeGestionRealWeb) -> None:  # type: ignore[no-untyped-def]
    configure(site, password="wrong-password")
    outcome = do_run_web_export(admin)
    assert not outcome.ok
    assert outcome.permanent
    assert outcome.code == "login_rejected"
    assert outcome.detail == (
        "Web export failed: Gestión Real rejected the login: check the user and the password."
    )
    assert not Ticket.objects.exists()
    assert site.exports == 0
    assert audits() == [
        {
            "ok": False,
            "detail": outcome.detail,
            "code": "login_rejected",
            "counts": {},
            "file_name": "",
        }
    ]


def test_a_missing_export_link_is_reported_in_words(admin, site: FakeGestionRealWeb) -> None:  # type: ignore[no-untyped-def]
    configure(site, export_selector="#exportar")
    outcome = do_run_web_export(admin)
    assert outcome.detail == "Web export failed: The cases page has no export link (#exportar)."
    assert not Ticket.objects.exists()


def test_a_file_that_is_not_a_cases_export_imports_nothing(admin, site: FakeGestionRealWeb) -> None:  # type: ignore[no-untyped-def]
    site.csv = b"<html><body>Sesion vencida</body></html>"
    configure(site)
    outcome = do_run_web_export(admin)
    assert not outcome.ok
    assert outcome.code == "not_a_cases_export"
    assert outcome.detail.startswith("The downloaded file is not a cases export: ")
    assert not Ticket.objects.exists()


def test_the_stored_filters_decide_what_is_imported(admin, site: FakeGestionRealWeb) -> None:  # type: ignore[no-untyped-def]
    system = configure(site)
    system.config["filters"] = {"groups": ["Redes"]}
    system.save()
    outcome = do_run_web_export(admin)
    assert outcome.counts == {
        "create": 1,
        "exists": 0,
        "skipped": 4,
        "invalid": 3,
        "closed": 0,
        "reopened": 0,
    }
    assert list(Ticket.objects.values_list("external_id", flat=True)) == ["10235"]


def test_it_needs_the_settings_first_and_starts_no_browser(admin) -> None:  # type: ignore[no-untyped-def]
    outcome = do_run_web_export(admin)
    assert not outcome.ok
    assert outcome.detail == (
        "Web export failed: Enter the login page, the user and the password first."
    )
    assert audits()[0]["ok"] is False


def test_the_password_never_reaches_logs_the_audit_or_the_outcome(  # type: ignore[no-untyped-def]
    admin, site: FakeGestionRealWeb, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    configure(site)
    outcomes = [do_run_web_export(admin)]
    site.export_link = False
    outcomes.append(do_run_web_export(admin))
    assert [outcome.ok for outcome in outcomes] == [True, False]
    assert all(PASSWORD.encode() in r.body for r in site.requests_to("/index.php", "POST"))
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in repr(outcome) for outcome in outcomes)
    events = AuditEvent.objects.all()
    assert events.count() >= 2
    assert all(PASSWORD not in f"{event.before} {event.after}" for event in events)


def test_the_web_settings_take_overrides_and_the_chromium_path(  # type: ignore[no-untyped-def]
    db, site: FakeGestionRealWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = configure(
        site,
        cases_url="https://gr.example.com/casos.php",
        export_selector="#exportar",
        submit_selector="",
        timeout_seconds=90,
        max_megabytes=2,
    )
    monkeypatch.delenv("ISPDESK_CHROMIUM", raising=False)
    settings = web_export_settings(system)
    assert settings.resolved_cases_url == "https://gr.example.com/casos.php"
    assert settings.export_selector == "#exportar"
    assert settings.submit_selector == ""  # press Enter
    assert (settings.timeout, settings.max_bytes) == (90.0, 2 * 2**20)
    assert settings.chromium == DEFAULT_CHROMIUM
    assert settings.password == PASSWORD

    monkeypatch.setenv("ISPDESK_CHROMIUM", "/opt/chromium/chrome")
    system.config["web"] = {}
    settings = web_export_settings(system)
    assert settings.chromium == "/opt/chromium/chrome"
    assert settings.submit_selector == SUBMIT_SELECTOR
    assert settings.resolved_cases_url == f"{site.url}/index.php?menuitem=10"
    assert (settings.timeout, settings.max_bytes) == (60.0, 20 * 2**20)


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"timeout_seconds": "soon"}, "web.timeout_seconds must be a number from 5 to 600"),
        ({"timeout_seconds": 1}, "web.timeout_seconds must be a number from 5 to 600"),
        ({"max_megabytes": True}, "web.max_megabytes must be a number from 1 to 100"),
        ({"export_selector": ["a"]}, "web.export_selector must be text"),
    ],
)
def test_a_bad_web_setting_is_named_and_no_browser_starts(  # type: ignore[no-untyped-def]
    admin, site: FakeGestionRealWeb, web: dict[str, Any], message: str
) -> None:
    configure(site, **web)
    outcome = do_run_web_export(admin)
    assert not outcome.ok
    assert message in outcome.detail
    assert not site.requests
