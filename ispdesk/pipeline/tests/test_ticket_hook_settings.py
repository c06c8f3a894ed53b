"""The ticket webhook's settings: `GET/PUT /api/admin/integrations/ticket-webhook`, the new
secret, and the page at /integrations/ticket-webhook/ (admins only)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.tests.ticket_hook_support import enabled_hook, fixture, post_hook
from ispdesk.pipeline.ticket_hook import DEFAULT_MAPPING, hook_system
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.models import Ticket

API = "/api/admin/integrations/ticket-webhook"
PAGE = "/integrations/ticket-webhook/"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def put(client: Client, body: Any) -> Any:
    return client.put(API, body, content_type="application/json")


def stored() -> ExternalSystem:
    return ExternalSystem.objects.get(kind=SystemKind.TICKET_HOOK)


# API -----------------------------------------------------------------------------------------


def test_an_admin_gets_the_url_with_its_secret_and_the_default_mapping(admin_client):
    response = admin_client.get(API)

    assert response.status_code == 200
    system = stored()
    assert response.json() == {
        "enabled": False,
        "url": f"http://testserver/hooks/tickets/{system.hook_secret}/",
        "close_url": f"http://testserver/hooks/tickets/{system.hook_secret}/close/",
        "mapping": DEFAULT_MAPPING,
    }


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client", "outsider_client"])
def test_nobody_else_sees_or_changes_the_settings(request, who, db):
    client = request.getfixturevalue(who)

    responses = [
        client.get(API),
        put(client, {"enabled": True}),
        client.post(API + "/rotate"),
    ]

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert not ExternalSystem.objects.filter(enabled=True).exists()
    assert all(response.json()["code"] == "permission_denied" for response in responses)


def test_anonymous_people_are_asked_to_log_in(client, db):
    assert client.get(API).status_code == 401


def test_an_admin_enables_the_hook_and_changes_the_mapping(admin_client):
    mapping = {"id_caso": "external_id", "asunto": "subject", "Cliente": "customer_name"}

    response = put(admin_client, {"enabled": True, "mapping": mapping})

    assert response.status_code == 200
    assert response.json()["enabled"] is True
    assert response.json()["mapping"] == mapping
    assert stored().config["mapping"] == mapping
    audit = AuditEvent.objects.get(action="pipeline.ticket_hook.updated")
    assert audit.after == {"enabled": True, "mapping": mapping}
    assert audit.before == {"enabled": False, "mapping": DEFAULT_MAPPING}


def test_a_put_without_the_mapping_keeps_it(admin_client):
    put(admin_client, {"mapping": {"n": "external_id", "m": "subject"}})

    response = put(admin_client, {"enabled": True})

    assert response.json()["mapping"] == {"n": "external_id", "m": "subject"}


def test_a_put_that_changes_nothing_writes_no_audit_event(admin_client):
    put(admin_client, {"enabled": False})

    assert not AuditEvent.objects.filter(action="pipeline.ticket_hook.updated").exists()


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"asunto": "subject"}, "mapping.external_id"),
        ({"n": "external_id", "m": "subject", "x": "password"}, "mapping.x"),
        ({"n": "external_id", "m": "subject", "x": 3}, "mapping.x"),
    ],
)
def test_an_unusable_mapping_is_refused_with_the_entry_named(admin_client, mapping, field):
    response = put(admin_client, {"enabled": True, "mapping": mapping})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert stored().enabled is False
    assert stored().config["mapping"] == DEFAULT_MAPPING


def test_a_mapping_that_is_not_an_object_is_refused(admin_client):
    response = put(admin_client, {"mapping": ["Numero de ticket"]})

    assert response.status_code == 422


def test_rotating_the_secret_retires_the_old_url(admin_client, client):
    system = enabled_hook()
    old = system.hook_secret

    response = admin_client.post(API + "/rotate")

    assert response.status_code == 200
    new = stored().hook_secret
    assert new != old
    assert response.json()["url"].endswith(f"/hooks/tickets/{new}/")
    assert post_hook(client, system, fixture("one_ticket.json"), secret=old).status_code == 404
    assert post_hook(client, system, fixture("one_ticket.json"), secret=new).status_code == 201
    audit = AuditEvent.objects.get(action="pipeline.ticket_hook.secret_rotated")
    assert old not in str(audit.after) and new not in str(audit.after)
    assert new not in audit.object_repr


# Page ----------------------------------------------------------------------------------------


def test_the_page_shows_the_url_and_the_mapping_to_an_admin(admin_client):
    response = admin_client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    system = stored()
    assert f"http://testserver/hooks/tickets/{system.hook_secret}/" in html
    assert 'data-copy="#ticket-hook-url"' in html
    # Their names come back exactly, double spaces included.
    assert 'value="Numero de  cliente"' in html
    assert 'value="Departamento creacion del ticket"' in html


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client"])
def test_the_page_is_for_admins_only(request, who, db):
    client = request.getfixturevalue(who)

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE + "rotate/").status_code == 403
    assert not ExternalSystem.objects.exists()


def test_anonymous_people_go_to_the_login_page(client, db):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "login" in response["Location"]


def _form(mapping: dict[str, str], enabled: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"their": [*mapping, "", ""], "ours": list(mapping.values())}
    data["ours"] += ["", ""]
    if enabled:
        data["enabled"] = "on"
    return data


def test_an_admin_saves_the_settings_from_the_page(admin_client, client):
    response = admin_client.post(PAGE, _form({"caso": "external_id", "motivo": "subject"}))

    assert response.status_code == 302
    system = stored()
    assert system.enabled is True
    assert system.config["mapping"] == {"caso": "external_id", "motivo": "subject"}
    answer = post_hook(client, system, {"caso": "77", "motivo": "Sin señal"})
    assert answer.status_code == 201
    assert Ticket.objects.get().subject == "Sin señal"


def test_the_page_shows_what_is_wrong_with_a_mapping_and_saves_nothing(admin_client):
    response = admin_client.post(PAGE, _form({"caso": "external_id", "otro": "body"}))

    assert response.status_code == 422
    html = response.content.decode()
    assert 'role="alert"' in html
    assert 'value="caso"' in html  # what was typed is kept
    assert stored().enabled is False
    assert stored().config["mapping"] == DEFAULT_MAPPING


def test_rotating_from_the_page_shows_the_new_url(admin_client):
    old = hook_system().hook_secret

    response = admin_client.post(PAGE + "rotate/", follow=True)

    assert response.status_code == 200
    new = stored().hook_secret
    assert new != old
    html = response.content.decode()
    assert new in html and old not in html
