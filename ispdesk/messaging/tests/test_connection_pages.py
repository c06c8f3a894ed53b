"""The WhatsApp connection pages (admins): list with live status, add/edit per kind, the test
button, the session panel with its QR, the default and delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ispdesk.messaging.models import GatewayConnection
from ispdesk.messaging.tests.test_connections import (
    EVOLUTION_KEY,
    NEW_EVOLUTION_KEY,
    QR_IMAGE,
    assert_no_secret,
    audit_text,
    closed_url,
    evolution_config,
    make_connection,
    queue_for,
)
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes import fake_evolution  # noqa: F401

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response: Any) -> str:
    return response.content.decode()


def evolution_form(**overrides: Any) -> dict[str, Any]:
    config = evolution_config()
    return {
        "kind": "evolution",
        "name": "Soporte",
        "enabled": "on",
        "rate_per_second": "",
        "config_base_url": config["base_url"],
        "config_api_key": config["api_key"],
        "config_instance": config["instance"],
        **overrides,
    }


@pytest.fixture
def evolution(db: Any) -> GatewayConnection:
    return make_connection("evolution", "Soporte", is_default=True)


def page_paths(connection: GatewayConnection) -> list[str]:
    return [
        "/whatsapp/",
        "/whatsapp/connections/new/",
        "/whatsapp/connections/new/?kind=evolution",
        f"/whatsapp/connections/{connection.pk}/",
    ]


def post_paths(connection: GatewayConnection) -> list[str]:
    pk = connection.pk
    return [
        "/whatsapp/connections/new/?kind=simulator",
        "/whatsapp/connections/test/",
        f"/whatsapp/connections/{pk}/",
        f"/whatsapp/connections/{pk}/test/",
        f"/whatsapp/connections/{pk}/session/connect/",
        f"/whatsapp/connections/{pk}/session/logout/",
        f"/whatsapp/connections/{pk}/default/",
        f"/whatsapp/connections/{pk}/delete/",
    ]


# Who may open what ---------------------------------------------------------------------------


def test_it_sends_anonymous_people_to_the_login_page(client, evolution):
    for path in page_paths(evolution) + post_paths(evolution):
        response = client.post(path, {"name": "X"}) if "/new/?" not in path else client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/"), path
    assert GatewayConnection.objects.get().name == "Soporte"


@pytest.mark.parametrize("fixture", ["outsider_client", "operator_client", "supervisor_client"])
def test_only_admins_may_open_the_pages(request, evolution, fixture):
    client: Client = request.getfixturevalue(fixture)
    for path in page_paths(evolution):
        assert client.get(path).status_code == 403, path
    for path in post_paths(evolution):
        assert client.post(path, {"name": "X", "force": "1"}).status_code == 403, path
    assert GatewayConnection.objects.get().name == "Soporte"
    assert not AuditEvent.objects.exists()
    assert 'href="/whatsapp/"' not in html(client.get("/"))


def test_admins_find_the_pages_in_the_navigation(admin_client):
    assert 'href="/whatsapp/"' in html(admin_client.get("/"))
    page = html(admin_client.get("/whatsapp/"))
    assert re.search(r'href="/whatsapp/"\s+aria-current="page"', page)


# The list ------------------------------------------------------------------------------------


def test_the_list_shows_each_connection_with_its_status(admin_client, evolution):
    make_connection("simulator", "Demo", status="connected", phone_number="+5491155550000")
    queue_for(evolution, 2)
    evolution.status = "disconnected"
    evolution.status_detail = "Evolution API refused the request (401): Unauthorized"
    evolution.save()
    page = html(admin_client.get("/whatsapp/"))
    assert 'data-status="disconnected"' in page
    assert 'data-status="connected"' in page
    assert "Evolution API refused the request (401)" in page
    assert "Make default" in page  # for Demo; Soporte is the default
    assert page.count(">Default<") == 1
    assert "+54 9 11 5555-0000" in page


def test_the_list_refetches_itself_on_status_events_and_after_a_reconnect(admin_client, evolution):
    page = html(admin_client.get("/whatsapp/"))
    trigger = re.search(r'id="connection-list"[^>]*hx-trigger="([^"]+)"', page, re.S)
    assert trigger is not None
    assert "ispdesk:session:status from:body" in trigger.group(1)
    assert "ispdesk:resync from:body" in trigger.group(1)
    fragment = admin_client.get("/whatsapp/", **HTMX)
    assert "<html" not in html(fragment)
    assert "Soporte" in html(fragment)
    assert "HX-Request" in fragment["Vary"]


def test_an_empty_list_invites_to_add_a_connection(admin_client):
    assert 'href="/whatsapp/connections/new/"' in html(admin_client.get("/whatsapp/"))


# Add and edit --------------------------------------------------------------------------------


def test_adding_starts_by_choosing_the_kind(admin_client):
    page = html(admin_client.get("/whatsapp/connections/new/"))
    for kind in ("evolution", "wppconnect", "meta_cloud", "simulator"):
        assert f'href="/whatsapp/connections/new/?kind={kind}"' in page


@pytest.mark.parametrize(
    ("kind", "plain", "secret"),
    [
        ("evolution", ["base_url", "instance"], ["api_key"]),
        ("wppconnect", ["base_url", "session"], ["secret_key"]),
        (
            "meta_cloud",
            ["base_url", "api_version", "phone_number_id"],
            ["access_token", "app_secret", "verify_token"],
        ),
        ("simulator", [], []),
    ],
)
def test_each_kind_has_its_own_form(admin_client, kind, plain, secret):
    page = html(admin_client.get(f"/whatsapp/connections/new/?kind={kind}"))
    inputs = re.findall(r'<input type="(\w+)" name="config_(\w+)"', page)
    assert sorted(inputs) == sorted(
        [("text", n) for n in plain] + [("password", n) for n in secret]
    )
    assert 'name="name"' in page
    assert "Test connection" in page


def test_saving_the_add_form_creates_the_connection(admin_client):
    response = admin_client.post("/whatsapp/connections/new/?kind=evolution", evolution_form())
    connection = GatewayConnection.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/whatsapp/connections/{connection.pk}/"
    assert connection.config["api_key"] == EVOLUTION_KEY
    assert (connection.kind, connection.name, connection.enabled) == ("evolution", "Soporte", True)
    assert connection.rate_per_second is None


def test_a_refused_form_names_the_field_and_never_echoes_the_secret(admin_client, evolution):
    response = admin_client.post(
        "/whatsapp/connections/new/?kind=evolution",
        evolution_form(
            name="soporte", config_base_url="ftp://evo", config_api_key=NEW_EVOLUTION_KEY
        ),
    )
    assert response.status_code == 422
    page = html(response)
    assert re.search(r'id="id_config_base_url_error">[^<]*http', page)
    assert NEW_EVOLUTION_KEY not in page
    assert GatewayConnection.objects.count() == 1

    response = admin_client.post(
        "/whatsapp/connections/new/?kind=evolution",
        evolution_form(name="soporte", config_api_key=NEW_EVOLUTION_KEY),
    )
    assert response.status_code == 422
    assert re.search(r'id="id_name_error">[^<]*already taken', html(response))
    assert NEW_EVOLUTION_KEY not in html(response)


def test_refused_settings_are_explained_in_the_page_language_not_pydantics(
    admin_client, evolution, settings
):
    settings.LANGUAGE_CODE = "es-ar"
    response = admin_client.post(
        "/whatsapp/connections/new/?kind=evolution",
        evolution_form(name="Otra", config_base_url="ftp://evo", config_instance="x" * 101),
    )
    assert response.status_code == 422
    page = html(response)
    assert re.search(r'id="id_config_base_url_error">[^<]*Ingresá una URL http', page)
    assert re.search(r'id="id_config_instance_error">[^<]*Como máximo 100 caracteres', page)
    assert "Value error" not in page
    assert "String should" not in page


def test_the_edit_form_leaves_secrets_empty_and_keeps_them_when_left_blank(admin_client, evolution):
    page = html(admin_client.get(f"/whatsapp/connections/{evolution.pk}/"))
    secret_input = re.search(r'<input type="password" name="config_api_key"[^>]*>', page)
    assert secret_input is not None
    assert "value=" not in secret_input.group(0)
    assert "Leave blank to keep it" in page
    assert_no_secret(page)

    same_address = evolution.config["base_url"]
    form = evolution_form(
        config_base_url=same_address,
        config_api_key="",
        config_instance="isp9",
        rate_per_second="0.5",
    )
    response = admin_client.post(f"/whatsapp/connections/{evolution.pk}/", form)
    assert response.status_code == 302
    evolution.refresh_from_db()
    assert evolution.config["api_key"] == EVOLUTION_KEY
    assert (evolution.config["instance"], evolution.rate_per_second) == ("isp9", 0.5)

    form = evolution_form(config_api_key=NEW_EVOLUTION_KEY)
    admin_client.post(f"/whatsapp/connections/{evolution.pk}/", form)
    evolution.refresh_from_db()
    assert evolution.config["api_key"] == NEW_EVOLUTION_KEY
    assert_no_secret(audit_text())


def test_the_page_shows_the_webhook_url_with_a_copy_button(admin_client, evolution):
    page = html(admin_client.get(f"/whatsapp/connections/{evolution.pk}/"))
    url = f"http://testserver/hooks/whatsapp/{evolution.webhook_secret}/"
    assert f'value="{url}" id="webhook-url"' in page
    assert 'data-copy="#webhook-url"' in page


# The test button -----------------------------------------------------------------------------


def test_the_test_button_shows_the_result_inline(admin_client, fake_evolution):  # noqa: F811
    connection = make_connection("evolution", config=fake_evolution.config())
    page = html(admin_client.get(f"/whatsapp/connections/{connection.pk}/"))
    assert f'hx-post="/whatsapp/connections/{connection.pk}/test/"' in page
    assert 'hx-target="#connection-test-result"' in page

    form = evolution_form(config_base_url=fake_evolution.url, config_api_key="")
    response = admin_client.post(f"/whatsapp/connections/{connection.pk}/test/", form, **HTMX)
    assert response.status_code == 200
    assert "<html" not in html(response)
    assert 'data-test-ok="true"' in html(response)
    assert "Connected" in html(response)


def test_the_test_button_tries_the_values_typed_before_saving(admin_client, fake_evolution):  # noqa: F811
    connection = make_connection("evolution", config=fake_evolution.config())
    form = evolution_form(config_base_url=fake_evolution.url, config_api_key=EVOLUTION_KEY)
    response = admin_client.post(f"/whatsapp/connections/{connection.pk}/test/", form, **HTMX)
    assert 'data-test-ok="false"' in html(response)
    assert "401" in html(response) or "nauthorized" in html(response)
    assert_no_secret(html(response))
    connection.refresh_from_db()
    # Unsaved settings: neither they nor the state they led to are stored.
    assert connection.config["api_key"] == fake_evolution.api_key
    assert connection.status == "unknown"


def test_a_new_connection_can_be_tested_before_it_is_saved(admin_client):
    form = evolution_form(config_base_url=closed_url())
    response = admin_client.post("/whatsapp/connections/test/", form, **HTMX)
    assert 'data-test-ok="false"' in html(response)
    assert not GatewayConnection.objects.exists()
    assert AuditEvent.objects.get().action == "connection.tested"
    assert_no_secret(html(response) + audit_text())


def test_a_test_of_an_incomplete_form_says_what_to_correct(admin_client):
    form = evolution_form(config_instance="")
    response = admin_client.post("/whatsapp/connections/test/", form, **HTMX)
    assert 'data-test-ok="false"' in html(response)
    assert "Instance name" in html(response)
    assert not AuditEvent.objects.exists()


def test_without_javascript_the_test_answers_the_form_page_with_the_result(admin_client):
    response = admin_client.post("/whatsapp/connections/test/", evolution_form(name="Nueva"))
    page = html(response)
    assert response.status_code == 200
    assert 'data-test-ok="false"' in page
    assert 'value="Nueva"' in page
    assert_no_secret(page)


# The session panel ---------------------------------------------------------------------------


def test_the_status_panel_shows_the_qr_until_connected(admin_client, evolution):
    evolution.status = "qr"
    evolution.last_qr = QR_IMAGE
    evolution.save()
    fragment = admin_client.get(f"/whatsapp/connections/{evolution.pk}/", **HTMX)
    assert "<html" not in html(fragment)
    assert f'<img src="{QR_IMAGE}"' in html(fragment)

    evolution.status = "connected"
    evolution.save()
    fragment = html(admin_client.get(f"/whatsapp/connections/{evolution.pk}/", **HTMX))
    assert "<img" not in fragment
    assert 'data-status="connected"' in fragment


def test_the_status_panel_refetches_on_this_connections_events(admin_client, evolution):
    page = html(admin_client.get(f"/whatsapp/connections/{evolution.pk}/"))
    trigger = re.search(r'id="connection-status"[^>]*hx-trigger="([^"]+)"', page, re.S)
    assert trigger is not None
    pk = evolution.pk
    assert f"ispdesk:session:status[detail.connection=={pk}] from:body" in trigger.group(1)
    assert f"ispdesk:session:qr[detail.connection=={pk}] from:body" in trigger.group(1)
    assert "ispdesk:resync from:body" in trigger.group(1)


def test_connect_shows_the_qr_in_the_panel(admin_client, fake_evolution):  # noqa: F811
    connection = make_connection("evolution", config=fake_evolution.config(instance="isp3"))
    response = admin_client.post(f"/whatsapp/connections/{connection.pk}/session/connect/", **HTMX)
    assert response.status_code == 200
    assert re.search(r'<img src="data:image/png;base64,[^"]+"', html(response))
    assert fake_evolution.webhook_url("isp3").endswith(f"/{connection.webhook_secret}/")

    fake_evolution.scan_qr("isp3")
    response = admin_client.post(f"/whatsapp/connections/{connection.pk}/session/refresh/", **HTMX)
    assert 'data-status="connected"' in html(response)
    assert "<img" not in html(response)

    response = admin_client.post(f"/whatsapp/connections/{connection.pk}/session/logout/")
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == "disconnected"


def test_a_gateway_failure_is_shown_in_the_panel(admin_client, evolution):
    response = admin_client.post(f"/whatsapp/connections/{evolution.pk}/session/restart/", **HTMX)
    assert response.status_code == 200
    assert "The gateway failed." in html(response)
    assert_no_secret(html(response))


def test_an_unknown_session_action_is_404(admin_client, evolution):
    response = admin_client.post(f"/whatsapp/connections/{evolution.pk}/session/explode/")
    assert response.status_code == 404


# Default and delete --------------------------------------------------------------------------


def test_the_default_toggle_keeps_a_single_default(admin_client, evolution):
    demo = make_connection("simulator", "Demo")
    response = admin_client.post(f"/whatsapp/connections/{demo.pk}/default/", {"is_default": "1"})
    assert response.status_code == 302
    assert list(GatewayConnection.objects.filter(is_default=True)) == [demo]
    admin_client.post(f"/whatsapp/connections/{demo.pk}/default/", {"is_default": "0"})
    assert not GatewayConnection.objects.filter(is_default=True).exists()


def test_deleting_asks_for_confirmation_and_for_force_when_messages_wait(admin_client, evolution):
    queue_for(evolution, 2)
    page = html(admin_client.get(f"/whatsapp/connections/{evolution.pk}/"))
    assert re.search(r'action="/whatsapp/connections/\d+/delete/"\s+data-confirm=', page)
    assert "2 messages are waiting" in page
    assert 'name="force"' in page

    response = admin_client.post(f"/whatsapp/connections/{evolution.pk}/delete/")
    assert response.status_code == 302
    assert GatewayConnection.objects.exists()
    response = admin_client.post(f"/whatsapp/connections/{evolution.pk}/delete/", {"force": "1"})
    assert response["Location"] == "/whatsapp/"
    assert not GatewayConnection.objects.exists()
