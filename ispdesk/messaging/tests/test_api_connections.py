"""The connections API: who may call it, validation, write-only secrets, the default, and
talking to the gateways (the fake Evolution, WPPConnect and Graph servers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ispdesk.messaging.models import GatewayConnection, OutboundMessage
from ispdesk.messaging.tests.test_connections import (
    EVOLUTION_KEY,
    META_APP_SECRET,
    META_TOKEN,
    META_VERIFY,
    NEW_EVOLUTION_KEY,
    QR_IMAGE,
    WPP_SECRET,
    assert_no_secret,
    audit_text,
    closed_url,
    evolution_config,
    make_connection,
    meta_config,
    queue_for,
    wppconnect_config,
)
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes import fake_evolution, fake_wppconnect  # noqa: F401
from ispdesk.testing.fakes.graph import fake_graph  # noqa: F401

PEOPLE = ("anonymous", "outsider", "operator", "supervisor", "admin")


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def post(client: Client, path: str, body: Any = None) -> Any:
    if body is None:
        return client.generic("POST", path)
    return client.post(path, body, content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(path, body, content_type="application/json")


def create(client: Client, kind: str, name: str, config: dict[str, Any], **extra: Any) -> Any:
    return post(client, "/api/connections", {"kind": kind, "name": name, "config": config, **extra})


# Who may call what ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: Callable[[], Any] | None = None
    ok: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client: Client, pk: int) -> Any:
        path = self.path.format(id=pk)
        if self.method == "POST":
            return post(client, path, self.body() if self.body else None)
        if self.method == "PATCH":
            return patch(client, path, self.body() if self.body else {})
        return getattr(client, self.method.lower())(path)


ENDPOINTS = [
    Endpoint("GET", "/api/connections"),
    Endpoint(
        "POST",
        "/api/connections",
        lambda: {"kind": "simulator", "name": "Nueva", "config": {}},
        201,
    ),
    Endpoint("GET", "/api/connections/{id}"),
    Endpoint("PATCH", "/api/connections/{id}", lambda: {"name": "Renombrada"}),
    Endpoint("POST", "/api/connections/{id}/test"),
    Endpoint("POST", "/api/connections/{id}/connect"),
    Endpoint("POST", "/api/connections/{id}/restart"),
    Endpoint("POST", "/api/connections/{id}/logout"),
    Endpoint("POST", "/api/connections/{id}/default"),
    Endpoint("DELETE", "/api/connections/{id}", ok=204),
]


@pytest.fixture
def people(admin, supervisor, operator, outsider) -> dict[str, Client]:  # type: ignore[no-untyped-def]
    clients = {"anonymous": Client()}
    for name, user in [
        ("outsider", outsider),
        ("operator", operator),
        ("supervisor", supervisor),
        ("admin", admin),
    ]:
        client = Client()
        client.force_login(user)
        clients[name] = client
    return clients


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("person", PEOPLE)
def test_only_admins_may_use_the_connections_api(people, endpoint, person):
    simulator = make_connection("simulator", "Simulador", is_default=True)
    response = endpoint.call(people[person], simulator.pk)
    expected = {"anonymous": 401, "admin": endpoint.ok}.get(person, 403)
    assert response.status_code == expected, response.content
    if expected != endpoint.ok:
        assert GatewayConnection.objects.get(pk=simulator.pk).name == "Simulador"
        assert not AuditEvent.objects.filter(action__startswith="connection.").exists()


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if "{id}" in e.path], ids=str)
@pytest.mark.parametrize("pk", [0, 999_999, 2**63, 10**30])
def test_unknown_or_huge_ids_are_404(admin_client, endpoint, pk):
    response = endpoint.call(admin_client, pk)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


# Create, read, update, delete ----------------------------------------------------------------


def test_it_creates_a_connection_and_answers_without_its_secrets(admin_client):
    response = create(admin_client, "evolution", "Soporte", evolution_config())
    assert response.status_code == 201, response.content
    body = response.json()
    stored = GatewayConnection.objects.get()
    assert body["id"] == stored.pk
    assert body["config"]["api_key"] == {"set": True}
    assert body["config"]["instance"] == "isp1"
    assert body["webhook_url"] == f"http://testserver/hooks/whatsapp/{stored.webhook_secret}/"
    assert (body["status"], body["qr"], body["is_default"], body["queued"]) == (
        "unknown",
        None,
        True,
        0,
    )
    assert body["default_rate_per_second"] == 1.0
    assert stored.config["api_key"] == EVOLUTION_KEY
    assert_no_secret(response.content.decode())


def test_the_webhook_url_names_the_host_and_scheme_the_admin_used(admin_client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["testserver", "desk.isp.example"]
    create(admin_client, "simulator", "Sim", {})
    secret = GatewayConnection.objects.get().webhook_secret
    response = admin_client.get(
        "/api/connections",
        HTTP_HOST="desk.isp.example",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert response.json()[0]["webhook_url"] == (
        f"https://desk.isp.example/hooks/whatsapp/{secret}/"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "telegram", "name": "X", "config": {}}, "kind"),
        ({"kind": "evolution", "name": "X", "config": evolution_config(token="t")}, "config.token"),
        (
            {"kind": "evolution", "name": "X", "config": {"base_url": "http://e", "instance": "i"}},
            "config.api_key",
        ),
        (
            {"kind": "wppconnect", "name": "X", "config": wppconnect_config(api_key="k")},
            "config.api_key",
        ),
        (
            {"kind": "meta_cloud", "name": "X", "config": meta_config(phone_number_id="abc")},
            "config.phone_number_id",
        ),
        ({"kind": "simulator", "name": "X", "config": {"instance": "i"}}, "config.instance"),
        ({"kind": "simulator", "name": "", "config": {}}, "name"),
        ({"kind": "simulator", "name": "X" * 81, "config": {}}, "name"),
        ({"kind": "simulator", "name": "X", "config": []}, "config"),
        ({"kind": "simulator", "name": "X", "rate_per_second": -1}, "rate_per_second"),
        ({"kind": "simulator", "name": "X", "rate_per_second": 10_000}, "rate_per_second"),
    ],
)
def test_it_refuses_bad_values_naming_the_field(admin_client, body, field):
    response = post(admin_client, "/api/connections", body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"], response.json()
    assert not GatewayConnection.objects.exists()
    assert_no_secret(response.content.decode())


def test_a_taken_name_is_a_conflict_whatever_its_case(admin_client):
    assert create(admin_client, "simulator", "Principal", {}).status_code == 201
    response = create(admin_client, "simulator", "PRINCIPAL", {})
    assert response.status_code == 409
    assert response.json()["code"] == "name_taken"
    other = create(admin_client, "simulator", "Otra", {}).json()
    response = patch(admin_client, f"/api/connections/{other['id']}", {"name": "principal"})
    assert (response.status_code, response.json()["code"]) == (409, "name_taken")


def test_an_update_without_the_secret_keeps_it(admin_client):
    created = create(admin_client, "evolution", "Soporte", evolution_config()).json()
    path = f"/api/connections/{created['id']}"
    response = patch(admin_client, path, {"config": {"instance": "isp2"}})
    assert response.status_code == 200, response.content
    # Sending back what GET answered keeps the secret too.
    response = patch(admin_client, path, {"config": admin_client.get(path).json()["config"]})
    assert response.status_code == 200, response.content
    stored = GatewayConnection.objects.get()
    assert stored.config["api_key"] == EVOLUTION_KEY
    assert stored.config["instance"] == "isp2"
    assert response.json()["config"]["api_key"] == {"set": True}


def test_an_update_with_a_new_secret_replaces_it_and_answers_without_it(admin_client):
    created = create(admin_client, "evolution", "Soporte", evolution_config()).json()
    response = patch(
        admin_client,
        f"/api/connections/{created['id']}",
        {"config": {"api_key": NEW_EVOLUTION_KEY}, "enabled": False, "rate_per_second": 0.5},
    )
    assert response.status_code == 200, response.content
    stored = GatewayConnection.objects.get()
    assert (stored.config["api_key"], stored.enabled, stored.rate_per_second) == (
        NEW_EVOLUTION_KEY,
        False,
        0.5,
    )
    assert_no_secret(response.content.decode())


def test_an_update_with_a_bad_config_value_changes_nothing(admin_client):
    created = create(admin_client, "evolution", "Soporte", evolution_config()).json()
    response = patch(
        admin_client,
        f"/api/connections/{created['id']}",
        {"name": "Otro", "config": {"base_url": "not a url"}},
    )
    assert response.status_code == 422
    assert "config.base_url" in response.json()["fields"]
    assert GatewayConnection.objects.get().name == "Soporte"


def test_no_answer_page_or_audit_event_ever_holds_a_secret(admin_client, fake_graph):  # noqa: F811
    evolution = create(admin_client, "evolution", "Evo", evolution_config()).json()
    wpp = create(admin_client, "wppconnect", "Wpp", wppconnect_config()).json()
    meta = create(admin_client, "meta_cloud", "Meta", meta_config(base_url=fake_graph.url)).json()
    answers = [
        admin_client.get("/api/connections"),
        admin_client.get(f"/api/connections/{meta['id']}"),
        patch(admin_client, f"/api/connections/{evolution['id']}", {"config": {"instance": "x"}}),
        patch(
            admin_client,
            f"/api/connections/{evolution['id']}",
            {"config": {"api_key": NEW_EVOLUTION_KEY}},
        ),
        post(admin_client, f"/api/connections/{wpp['id']}/test"),
        post(admin_client, f"/api/connections/{wpp['id']}/connect"),
        post(admin_client, f"/api/connections/{meta['id']}/test"),
        post(admin_client, f"/api/connections/{meta['id']}/default"),
        admin_client.get("/api/logs"),
        admin_client.get("/audit/"),
        admin_client.get("/whatsapp/"),
        admin_client.get(f"/whatsapp/connections/{evolution['id']}/"),
        admin_client.get(f"/whatsapp/connections/{meta['id']}/"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 502), answer.content
        assert_no_secret(answer.content.decode())
    assert_no_secret(audit_text())
    assert AuditEvent.objects.filter(action="connection.tested").count() == 2


def test_deleting_a_connection_with_waiting_messages_needs_force(admin_client):
    connection = make_connection("simulator")
    queue_for(connection, 3)
    response = admin_client.delete(f"/api/connections/{connection.pk}")
    assert response.status_code == 409
    assert response.json()["code"] == "has_queued_messages"
    assert OutboundMessage.objects.count() == 3

    response = admin_client.delete(f"/api/connections/{connection.pk}?force=true")
    assert response.status_code == 204
    assert not GatewayConnection.objects.exists()
    assert not OutboundMessage.objects.exists()


def test_the_list_counts_waiting_messages_in_a_fixed_number_of_queries(admin_client):
    for number in range(2):
        queue_for(make_connection("simulator", f"Sim {number}"), number + 1)
    with CaptureQueriesContext(db_connection) as few:
        response = admin_client.get("/api/connections")
    assert [row["queued"] for row in response.json()] == [1, 2]
    for number in range(2, 6):
        queue_for(make_connection("evolution", f"Evo {number}"), 1)
    with CaptureQueriesContext(db_connection) as many:
        response = admin_client.get("/api/connections")
    assert len(response.json()) == 6
    assert len(many) == len(few)


# The default ---------------------------------------------------------------------------------


def test_only_one_connection_is_the_default(admin_client):
    first = create(admin_client, "simulator", "Uno", {}).json()
    second = create(admin_client, "simulator", "Dos", {}).json()
    assert (first["is_default"], second["is_default"]) == (True, False)
    response = post(admin_client, f"/api/connections/{second['id']}/default")
    assert response.json()["is_default"] is True
    assert list(
        GatewayConnection.objects.filter(is_default=True).values_list("name", flat=True)
    ) == ["Dos"]
    response = patch(admin_client, f"/api/connections/{first['id']}", {"is_default": True})
    assert response.json()["is_default"] is True
    assert list(
        GatewayConnection.objects.filter(is_default=True).values_list("name", flat=True)
    ) == ["Uno"]


# Talking to the gateways ---------------------------------------------------------------------


def test_testing_an_evolution_connection_answers_its_state(admin_client, fake_evolution):  # noqa: F811
    connection = make_connection("evolution", config=fake_evolution.config())
    response = post(admin_client, f"/api/connections/{connection.pk}/test")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["ok"], body["state"]) == (True, "connected")
    assert body["connection"]["status"] == "connected"


def test_bad_credentials_answer_200_with_the_reason(admin_client, fake_evolution):  # noqa: F811
    connection = make_connection("evolution", config=fake_evolution.config(api_key=EVOLUTION_KEY))
    response = post(admin_client, f"/api/connections/{connection.pk}/test")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert "401" in body["detail"] or "nauthorized" in body["detail"]
    assert body["connection"]["status"] == "disconnected"
    assert body["connection"]["status_detail"] == body["detail"]
    assert_no_secret(response.content.decode())


def test_a_wrong_wppconnect_secret_is_a_failed_test(admin_client, fake_wppconnect):  # noqa: F811
    connection = make_connection("wppconnect", config=fake_wppconnect.config(secret_key=WPP_SECRET))
    body = post(admin_client, f"/api/connections/{connection.pk}/test").json()
    assert body["ok"] is False
    assert body["detail"]
    assert WPP_SECRET not in json.dumps(body)


def test_a_good_wppconnect_connection_passes_the_test(admin_client, fake_wppconnect):  # noqa: F811
    connection = make_connection("wppconnect", config=fake_wppconnect.config())
    body = post(admin_client, f"/api/connections/{connection.pk}/test").json()
    assert (body["ok"], body["state"]) == (True, "connected")


def test_a_gateway_that_refuses_connections_is_a_failed_test_not_an_error(admin_client):
    connection = make_connection("evolution", config=evolution_config(base_url=closed_url()))
    response = post(admin_client, f"/api/connections/{connection.pk}/test")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["detail"]


def test_the_cloud_api_test_reports_a_bad_token(admin_client, fake_graph):  # noqa: F811
    good = make_connection("meta_cloud", "Meta", config=fake_graph.config())
    bad = make_connection(
        "meta_cloud", "Meta mala", config=fake_graph.config(access_token=META_TOKEN)
    )
    assert post(admin_client, f"/api/connections/{good.pk}/test").json()["ok"] is True
    body = post(admin_client, f"/api/connections/{bad.pk}/test").json()
    assert body["ok"] is False
    assert "token" in body["detail"]
    for secret in (META_TOKEN, META_APP_SECRET, META_VERIFY, fake_graph.access_token):
        assert secret not in json.dumps(body)


def test_connect_registers_our_webhook_and_answers_the_qr(admin_client, fake_evolution):  # noqa: F811
    connection = make_connection("evolution", config=fake_evolution.config(instance="isp2"))
    response = post(admin_client, f"/api/connections/{connection.pk}/connect")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] in ("qr", "connecting")
    assert body["qr"].startswith("data:image/png;base64,")
    assert body["connection"]["qr"] == body["qr"]
    expected = f"http://testserver/hooks/whatsapp/{connection.webhook_secret}/"
    assert fake_evolution.webhook_url("isp2") == expected

    fake_evolution.scan_qr("isp2")
    body = post(admin_client, f"/api/connections/{connection.pk}/test").json()
    assert (body["state"], body["connection"]["qr"]) == ("connected", None)

    body = post(admin_client, f"/api/connections/{connection.pk}/logout").json()
    assert body["connection"]["status"] == "disconnected"
    assert fake_evolution.instances["isp2"].state == "close"
    actions = AuditEvent.objects.order_by("pk").values_list("action", flat=True)
    assert list(actions) == ["connection.connected", "connection.tested", "connection.logged_out"]


def test_connect_restart_and_logout_answer_502_with_the_reason_when_the_gateway_is_down(
    admin_client,
):
    connection = make_connection("evolution", config=evolution_config(base_url=closed_url()))
    for action in ("connect", "restart", "logout"):
        response = post(admin_client, f"/api/connections/{connection.pk}/{action}")
        assert response.status_code == 502, (action, response.content)
        assert response.json()["code"] == "gateway_error"
        assert response.json()["message"]
        assert_no_secret(response.content.decode())


def test_the_stored_qr_is_answered_as_a_data_url(admin_client):
    connection = make_connection("evolution", status="qr", last_qr=QR_IMAGE)
    assert admin_client.get(f"/api/connections/{connection.pk}").json()["qr"] == QR_IMAGE


def test_every_bad_field_is_named_at_once(admin_client):
    create(admin_client, "simulator", "Principal", {})
    body = {"kind": "evolution", "name": "principal", "config": {"base_url": "ftp://x"}}
    response = post(admin_client, "/api/connections", body)
    assert response.status_code == 422
    assert {"name", "config.base_url", "config.api_key", "config.instance"} <= set(
        response.json()["fields"]
    )


def test_a_wppconnect_restart_starts_the_session_again_with_our_webhook(
    admin_client,
    fake_wppconnect,  # noqa: F811
):
    connection = make_connection("wppconnect", config=fake_wppconnect.config())
    response = post(admin_client, f"/api/connections/{connection.pk}/restart")
    assert response.status_code == 200, response.content
    expected = f"http://testserver/hooks/whatsapp/{connection.webhook_secret}/"
    assert fake_wppconnect.webhook_url() == expected
    assert AuditEvent.objects.get().action == "connection.restarted"
