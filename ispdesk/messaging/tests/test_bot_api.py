"""The earlier system's bot controls: status, start/stop, pause/resume and its name and
number, all acting on the default connection."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ispdesk.messaging.models import GatewayConnection
from ispdesk.messaging.tests.test_api_connections import PEOPLE, patch, people, post  # noqa: F401
from ispdesk.messaging.tests.test_connections import (
    assert_no_secret,
    closed_url,
    evolution_config,
    make_connection,
    queue_for,
)
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes import fake_evolution  # noqa: F401


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def bot(db: Any) -> GatewayConnection:
    """The default connection, with another one beside it that must stay untouched."""
    make_connection("simulator", "Otra")
    return make_connection("simulator", "Principal", is_default=True)


def call(client: Client, method: str, path: str, body: Any = None) -> Any:
    if method == "GET":
        return client.get(path)
    if method == "PATCH":
        return patch(client, path, body)
    return post(client, path, body)


ENDPOINTS = [
    ("GET", "/api/bot/status", None),
    ("POST", "/api/bot/start", None),
    ("POST", "/api/bot/stop", None),
    ("POST", "/api/bot/pause", None),
    ("POST", "/api/bot/resume", None),
    ("PATCH", "/api/bot/metadata", {"display_name": "Soporte ISP"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("person", PEOPLE)
def test_only_admins_may_use_the_bot_controls(people, bot, method, path, body, person):  # noqa: F811
    response = call(people[person], method, path, body)
    expected = {"anonymous": 401, "admin": 200}.get(person, 403)
    assert response.status_code == expected, response.content
    if person != "admin":
        bot.refresh_from_db()
        assert (bot.bot_paused, bot.display_name) == (False, "")


def test_the_status_shows_the_default_connection(admin_client, bot):
    bot.status = "connected"
    bot.status_detail = "ISP Demo"
    bot.display_name = "Soporte"
    bot.phone_number = "+5491155550000"
    bot.save()
    queue_for(bot, 2)
    queue_for(GatewayConnection.objects.get(name="Otra"), 5)
    assert admin_client.get("/api/bot/status").json() == {
        "connection": {"id": bot.pk, "name": "Principal", "kind": "simulator"},
        "state": "connected",
        "detail": "ISP Demo",
        "qr": None,
        "paused": False,
        "queue_depth": 2,
        "display_name": "Soporte",
        "number": "+5491155550000",
    }


def test_the_status_without_any_connection_says_so(admin_client):
    body = admin_client.get("/api/bot/status").json()
    assert (body["connection"], body["state"], body["queue_depth"]) == (None, "unknown", 0)
    for action in ("start", "stop", "pause", "resume"):
        response = post(admin_client, f"/api/bot/{action}")
        assert response.status_code == 409, action
        assert response.json()["code"] == "no_connection"
    response = patch(admin_client, "/api/bot/metadata", {"display_name": "X"})
    assert response.status_code == 409


def test_pause_and_resume_flip_the_flag_of_the_default_connection_only(admin_client, bot):
    body = post(admin_client, "/api/bot/pause").json()
    assert body["paused"] is True
    assert list(GatewayConnection.objects.filter(bot_paused=True)) == [bot]
    post(admin_client, "/api/bot/pause")  # already paused: nothing more to record
    assert post(admin_client, "/api/bot/resume").json()["paused"] is False
    bot.refresh_from_db()
    assert bot.bot_paused is False
    actions = AuditEvent.objects.order_by("pk").values_list("action", flat=True)
    assert list(actions) == ["bot.paused", "bot.resumed"]


def test_start_connects_and_stop_logs_out_the_default_connection(
    admin_client,
    fake_evolution,  # noqa: F811
):
    connection = make_connection(
        "evolution", "Evo", config=fake_evolution.config(instance="isp7"), is_default=True
    )
    body = post(admin_client, "/api/bot/start").json()
    assert body["connection"]["id"] == connection.pk
    assert body["state"] in ("qr", "connecting")
    assert body["qr"].startswith("data:image/png;base64,")
    assert fake_evolution.webhook_url("isp7").endswith(
        f"/hooks/whatsapp/{connection.webhook_secret}/"
    )
    fake_evolution.scan_qr("isp7")
    assert post(admin_client, "/api/bot/stop").json()["state"] == "disconnected"
    assert fake_evolution.instances["isp7"].state == "close"


def test_start_answers_502_with_the_reason_when_the_gateway_is_down(admin_client):
    make_connection(
        "evolution", "Evo", config=evolution_config(base_url=closed_url()), is_default=True
    )
    response = post(admin_client, "/api/bot/start")
    assert response.status_code == 502
    assert response.json()["code"] == "gateway_error"
    assert_no_secret(response.content.decode())


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        ("011 15 2345-6789", "+5491123456789"),
        ("+54 9 11 2345-6789", "+5491123456789"),
        ("11 2345-6789", "+5491123456789"),
        ("5491123456789@s.whatsapp.net", "+5491123456789"),
        ("", ""),
    ],
)
def test_the_number_is_stored_normalised(admin_client, bot, number, stored):
    response = patch(
        admin_client, "/api/bot/metadata", {"display_name": " Soporte ", "number": number}
    )
    assert response.status_code == 200, response.content
    assert (response.json()["display_name"], response.json()["number"]) == ("Soporte", stored)
    bot.refresh_from_db()
    assert (bot.display_name, bot.phone_number) == ("Soporte", stored)


@pytest.mark.parametrize("number", ["123", "hola", "+54 11 1234", "011 4321-1234 int 5"])
def test_an_invalid_number_is_refused_naming_the_field(admin_client, bot, number):
    response = patch(admin_client, "/api/bot/metadata", {"number": number})
    assert response.status_code == 422, response.content
    assert "number" in response.json()["fields"]
    bot.refresh_from_db()
    assert bot.phone_number == ""


def test_metadata_leaves_out_what_is_not_sent(admin_client, bot):
    patch(admin_client, "/api/bot/metadata", {"display_name": "Soporte", "number": "1123456789"})
    body = patch(admin_client, "/api/bot/metadata", {"display_name": "Ventas"}).json()
    assert (body["display_name"], body["number"]) == ("Ventas", "+5491123456789")
    event = AuditEvent.objects.filter(action="bot.metadata_updated").order_by("pk").last()
    assert event.before["display_name"] == "Soporte"
    assert event.after["display_name"] == "Ventas"
