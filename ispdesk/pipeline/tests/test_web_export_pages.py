"""The "Run the web export now" button on the Gestión Real settings page (admins only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.testing.fakes.gestionreal_web import (
    PASSWORD,
    FakeGestionRealWeb,
    serving_fake_gestionreal_web,
)
from ispdesk.tickets.models import Ticket

PAGE = "/integrations/gestionreal/"
RUN = "/integrations/gestionreal/web-export/"
BUTTON = "Run the web export now"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def site() -> Iterator[FakeGestionRealWeb]:
    with serving_fake_gestionreal_web() as served:
        yield served


def configure(site: FakeGestionRealWeb, *, mode: str = "web", password: str = PASSWORD) -> None:
    ExternalSystem.objects.update_or_create(
        kind=SystemKind.GESTIONREAL,
        defaults={
            "config": {"mode": mode, "login_url": site.login_url, "username": site.username},
            "secrets": {"password": password},
        },
    )


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client"])
def test_only_admins_may_run_the_export(  # type: ignore[no-untyped-def]
    request: pytest.FixtureRequest, who: str, site: FakeGestionRealWeb
) -> None:
    client: Client = request.getfixturevalue(who)
    configure(site)
    assert client.post(RUN).status_code == 403
    assert Client().post(RUN).status_code == 302  # to the login page
    assert not site.requests


def test_it_runs_only_on_post(admin_client: Client, site: FakeGestionRealWeb) -> None:
    configure(site)
    assert admin_client.get(RUN).status_code == 405
    assert not site.requests


def test_the_button_shows_only_in_web_mode(admin_client: Client, site: FakeGestionRealWeb) -> None:
    configure(site, mode="api")
    assert BUTTON not in admin_client.get(PAGE).content.decode()
    configure(site, mode="web")
    page = admin_client.get(PAGE).content.decode()
    assert BUTTON in page
    assert f'action="{RUN}"' in page


def test_an_admin_runs_it_and_sees_the_counts_and_the_bad_rows(  # type: ignore[no-untyped-def]
    admin_client: Client, site: FakeGestionRealWeb
) -> None:
    configure(site)
    response = admin_client.post(RUN, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    body = response.content.decode()
    assert "Web export done (casos.csv" in body
    # 10237 is "Cerrado", a closed state: no ticket.
    assert "Tickets created: 4; already there: 0; filtered out: 1; invalid rows: 3." in body
    assert "Row 6 (10238): " in body
    assert Ticket.objects.count() == 4
    assert PASSWORD not in body


def test_a_failure_is_shown_on_the_page(admin_client: Client, site: FakeGestionRealWeb) -> None:
    configure(site, password="wrong-password")
    body = admin_client.post(RUN, follow=True).content.decode()
    assert "alert-error" in body
    assert "Gestión Real rejected the login: check the user and the password." in body
    assert not Ticket.objects.exists()
