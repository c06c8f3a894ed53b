"""The operator-notification API at /api/whatsapp: who may call what, what reaches the
outbox, why operators are skipped, validation, and a public health answer without secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ispdesk.messaging.models import (
    GatewayConnection,
    OutboundMessage,
    OutboundStatus,
    Purpose,
)
from ispdesk.operators.models import Operator, Schedule, ScheduleKind
from ispdesk.operators.tests.conftest import make_operator
from ispdesk.tickets.models import Source, Ticket

SECRET_KEY = "evo-api-key-0f9e8d7c6b5a"  # a test value that must never leak
ADMIN = frozenset({"admin"})
LOGGED_IN = frozenset({"admin", "supervisor", "operator", "outsider"})
EVERYONE = frozenset({"anonymous", *LOGGED_IN})
PEOPLE = ("anonymous", "outsider", "operator", "supervisor", "admin")


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def gateway(db) -> GatewayConnection:  # type: ignore[no-untyped-def]
    return GatewayConnection.objects.create(
        kind="evolution",
        name="Soporte",
        is_default=True,
        status="connected",
        phone_number="+5491144440000",
        config={"base_url": "http://evo.local", "api_key": SECRET_KEY, "instance": "soporte"},
    )


@pytest.fixture
def juan(db) -> Operator:  # type: ignore[no-untyped-def]
    return make_operator("juan", "Juan", whatsapp="+5491155550002", person_id=11)


@pytest.fixture
def sofia(db) -> Operator:  # type: ignore[no-untyped-def]
    return make_operator("sofia", "Sofía", whatsapp="+5493515550003", person_id=12)


@pytest.fixture
def ticket(juan) -> Ticket:  # type: ignore[no-untyped-def]
    return Ticket.objects.create(
        source=Source.MANUAL,
        external_id="1",
        subject="Sin servicio desde anoche",
        customer_name="Marcela Gómez",
        assignee=juan,
        created_at=timezone.now() - timedelta(hours=2, minutes=15),
    )


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, body, content_type="application/json")


def client_for(request, person: str) -> Client:  # type: ignore[no-untyped-def]
    if person == "anonymous":
        return Client()
    return request.getfixturevalue(f"{person}_client")


def elsewhere_only(operator: Operator) -> None:
    """An alert window on a weekday three days away: never now."""
    weekday = (timezone.localtime().weekday() + 3) % 7
    Schedule.objects.create(
        operator=operator, kind=ScheduleKind.ALERT, weekday=weekday, start=time(10), end=time(11)
    )


# Who may call what ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


W = "/api/whatsapp"
ENDPOINTS = [
    Endpoint("POST", f"{W}/send/text", ADMIN, {"phone": "11 5555-0009", "message": "Hola"}),
    Endpoint("POST", f"{W}/send/overdue-alert", ADMIN, {"person_id": 11, "tickets": [{"id": 5}]}),
    Endpoint("POST", f"{W}/send/shift-summary", ADMIN, {"person_id": 11}),
    Endpoint("POST", f"{W}/send/assignment", ADMIN, {"person_id": 11, "ticket_id": 0}),
    Endpoint("POST", f"{W}/send/custom", ADMIN, {"person_id": 11, "message": "Hola"}),
    Endpoint("POST", f"{W}/send/bulk", ADMIN, {"person_ids": [11, 12], "message": "Hola"}),
    Endpoint("GET", f"{W}/operators/11/validate", LOGGED_IN),
    Endpoint("GET", f"{W}/operators/config", LOGGED_IN),
    Endpoint("GET", f"{W}/health", EVERYONE),
]  # fmt: skip


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_endpoint_admits_exactly_its_people(request, gateway, ticket, sofia, endpoint, person):
    client = client_for(request, person)
    body = endpoint.body
    if body is not None and body.get("ticket_id") == 0:
        body = {**body, "ticket_id": ticket.pk}
    if endpoint.method == "GET":
        response = client.get(endpoint.path)
    else:
        response = post(client, endpoint.path, body)
    if person in endpoint.allowed:
        assert response.status_code == 200, response.content
    elif person == "anonymous":
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    if response.status_code != 200:
        assert not OutboundMessage.objects.exists()


def test_a_session_send_without_the_csrf_token_is_refused(admin, gateway, juan):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = post(client, "/api/whatsapp/send/custom", {"person_id": 11, "message": "Hola"})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert not OutboundMessage.objects.exists()


# Sends reach the outbox ----------------------------------------------------------------------


def test_send_text_queues_an_operator_alert_to_the_normalised_number(admin_client, gateway):
    response = post(
        admin_client, "/api/whatsapp/send/text", {"phone": "011 15 5555-0009", "message": "Hola"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    message = OutboundMessage.objects.get()
    assert body["phone"] == "+5491155550009"
    assert body["queued"] is True
    assert body["message"]["id"] == message.pk
    assert body["message"]["status"] == "queued"
    assert (message.to, message.body, message.purpose) == (
        "+5491155550009",
        "Hola",
        Purpose.OPERATOR_ALERT,
    )
    assert message.connection == gateway


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("hola", "contains characters that are not part of a phone number"),
        ("12", "not a valid number for its country"),
        ("", "empty"),
    ],
)
def test_send_text_refuses_a_bad_number_with_the_reason(admin_client, gateway, phone, reason):
    response = post(admin_client, "/api/whatsapp/send/text", {"phone": phone, "message": "Hola"})
    assert response.status_code == 422
    body = response.json()
    if phone:
        assert body["code"] == "invalid_phone"
        assert body["fields"]["phone"] == reason
        assert reason in body["message"]
    else:
        assert body["code"] == "validation_error"
        assert "phone" in body["fields"]
    assert not OutboundMessage.objects.exists()


def test_send_text_without_a_connection_says_so(admin_client):
    response = post(
        admin_client, "/api/whatsapp/send/text", {"phone": "1155550009", "message": "x"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "phone": "+5491155550009",
        "queued": False,
        "message": None,
        "skipped_reason": "there is no WhatsApp connection",
        "skip_code": "no_connection",
    }
    assert not OutboundMessage.objects.exists()


def test_overdue_alert_groups_known_and_given_tickets_in_one_message(admin_client, gateway, ticket):
    items = [ticket.pk, {"id": 9001, "subject": "Cambio de plan", "waiting": 95}]
    response = post(
        admin_client, "/api/whatsapp/send/overdue-alert", {"person_id": 11, "tickets": items}
    )
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["queued"] is True
    assert result["person_id"] == 11
    message = OutboundMessage.objects.get(pk=result["message"]["id"])
    assert message.to == "+5491155550002"
    assert message.purpose == Purpose.OPERATOR_ALERT
    assert f"• #{ticket.pk} Sin servicio desde anoche (2 h 15 min)" in message.body
    assert "• #9001 Cambio de plan (1 h 35 min)" in message.body
    assert "(2):" in message.body
    assert message.context["template"] == "overdue_alert"
    assert message.context["tickets"] == [str(ticket.pk), "9001"]


def test_overdue_alert_names_unknown_ticket_numbers(admin_client, gateway, juan):
    response = post(
        admin_client, "/api/whatsapp/send/overdue-alert", {"person_id": 11, "tickets": [777, 778]}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_ticket"
    assert "777, 778" in response.json()["message"]
    assert not OutboundMessage.objects.exists()


def test_shift_summary_counts_the_operators_tickets(admin_client, gateway, ticket):
    response = post(admin_client, "/api/whatsapp/send/shift-summary", {"person_id": 11})
    assert response.json()["queued"] is True
    body = OutboundMessage.objects.get().body
    assert "• Open: 1\n• Closed today: 0\n• Overdue: 1" in body


def test_assignment_links_the_ticket(admin_client, gateway, ticket):
    response = post(
        admin_client, "/api/whatsapp/send/assignment", {"person_id": 11, "ticket_id": ticket.pk}
    )
    assert response.json()["queued"] is True
    message = OutboundMessage.objects.get()
    assert f"Ticket #{ticket.pk} is now yours: Sin servicio desde anoche" in message.body
    assert "Customer: Marcela Gómez" in message.body
    assert f"http://testserver/tickets/{ticket.pk}/" in message.body
    assert message.context["ticket"] == ticket.pk


def test_assignment_of_an_unknown_ticket_is_404(admin_client, gateway, juan):
    response = post(
        admin_client, "/api/whatsapp/send/assignment", {"person_id": 11, "ticket_id": 999}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_ticket"


def test_custom_sends_the_text_as_written(admin_client, gateway, juan):
    text = "Hoy hay corte programado en Zona Norte de 14 a 16 h."
    response = post(admin_client, "/api/whatsapp/send/custom", {"person_id": 11, "message": text})
    assert response.json()["message"]["status"] == "queued"
    assert OutboundMessage.objects.get().body == text


@pytest.mark.parametrize(
    "path", ["send/custom", "send/shift-summary", "send/assignment", "send/overdue-alert"]
)
def test_an_unknown_person_id_is_404_unknown_operator(admin_client, gateway, juan, path):
    body = {"person_id": 404, "message": "x", "ticket_id": 1, "tickets": [1]}
    response = post(admin_client, f"/api/whatsapp/{path}", body)
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_operator"
    assert not OutboundMessage.objects.exists()


# Skips say why -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "reason"),
    [
        ({"whatsapp": ""}, "no_number", "the operator has no WhatsApp number"),
        (
            {"notifications_enabled": False},
            "notifications_off",
            "the operator has WhatsApp notifications turned off",
        ),
        ({"is_paused": True}, "paused", "the operator is paused"),
    ],
)
def test_a_skipped_send_answers_200_with_the_reason(
    admin_client, gateway, juan, change, code, reason
):
    Operator.objects.filter(pk=juan.pk).update(**change)
    response = post(admin_client, "/api/whatsapp/send/custom", {"person_id": 11, "message": "x"})
    assert response.status_code == 200
    result = response.json()
    assert result["queued"] is False
    assert result["message"] is None
    assert (result["skip_code"], result["skipped_reason"]) == (code, reason)
    assert not OutboundMessage.objects.exists()


def test_outside_the_alert_window_it_skips_unless_forced(admin_client, gateway, juan):
    elsewhere_only(juan)
    skipped = post(admin_client, "/api/whatsapp/send/custom", {"person_id": 11, "message": "x"})
    assert skipped.json()["skip_code"] == "outside_alert_window"
    assert not OutboundMessage.objects.exists()
    forced = post(
        admin_client,
        "/api/whatsapp/send/custom",
        {"person_id": 11, "message": "x", "force": True},
    )
    assert forced.json()["queued"] is True
    assert OutboundMessage.objects.count() == 1


def test_without_a_connection_every_send_is_skipped(admin_client, juan):
    response = post(admin_client, "/api/whatsapp/send/custom", {"person_id": 11, "message": "x"})
    assert response.json()["skip_code"] == "no_connection"
    assert response.json()["skipped_reason"] == "there is no WhatsApp connection"


# Bulk ----------------------------------------------------------------------------------------


def test_bulk_answers_per_operator(admin_client, gateway, juan, sofia):
    Operator.objects.filter(pk=sofia.pk).update(is_paused=True)
    response = post(
        admin_client,
        "/api/whatsapp/send/bulk",
        {"person_ids": [11, 12, 11], "message": "Reunión 15 h"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["queued"], body["skipped"]) == (1, 1)
    by_person = {result["person_id"]: result for result in body["results"]}
    assert list(by_person) == [11, 12]
    assert by_person[11]["message"]["id"] == OutboundMessage.objects.get().pk
    assert by_person[12]["skip_code"] == "paused"
    assert by_person[12]["name"] == "Sofía"


def test_bulk_to_more_than_50_people_is_422(admin_client, gateway, juan):
    response = post(
        admin_client,
        "/api/whatsapp/send/bulk",
        {"person_ids": list(range(1, 52)), "message": "x"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "person_ids" in response.json()["fields"]
    assert not OutboundMessage.objects.exists()


def test_bulk_to_exactly_50_is_accepted_when_all_are_known(admin_client, gateway, juan):
    for number in range(2, 51):
        make_operator(f"op{number}", whatsapp=f"+54911555501{number:02d}", person_id=100 + number)
    ids = [11] + [100 + number for number in range(2, 51)]
    response = post(admin_client, "/api/whatsapp/send/bulk", {"person_ids": ids, "message": "x"})
    assert response.status_code == 200, response.content
    assert response.json()["queued"] == 50
    assert OutboundMessage.objects.filter(purpose=Purpose.OPERATOR_ALERT).count() == 50


def test_bulk_with_an_unknown_person_sends_nothing_and_names_them(admin_client, gateway, juan):
    response = post(
        admin_client, "/api/whatsapp/send/bulk", {"person_ids": [11, 77, 78], "message": "x"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_operator"
    assert response.json()["fields"] == {"person_ids": "77, 78"}
    assert not OutboundMessage.objects.exists()


# Validation never reaches the database -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("send/custom", {"person_id": 11, "message": "   "}, "message"),
        ("send/custom", {"person_id": 11, "message": "a\x00b"}, "message"),
        ("send/custom", {"person_id": 11, "message": "x" * 4097}, "message"),
        ("send/custom", {"person_id": 2**40, "message": "x"}, "person_id"),
        ("send/custom", {"person_id": 0, "message": "x"}, "person_id"),
        ("send/bulk", {"person_ids": [], "message": "x"}, "person_ids"),
        ("send/overdue-alert", {"person_id": 11, "tickets": []}, "tickets"),
        ("send/assignment", {"person_id": 11, "ticket_id": 2**63}, "ticket_id"),
        ("send/text", {"phone": "1155550009"}, "message"),
    ],
)
def test_bad_values_are_422_naming_the_field(admin_client, gateway, juan, path, body, field):
    response = post(admin_client, f"/api/whatsapp/{path}", body)
    assert response.status_code == 422, response.content
    assert any(name.startswith(field) for name in response.json()["fields"])
    assert not OutboundMessage.objects.exists()


def test_malformed_json_is_400(admin_client, gateway):
    response = admin_client.post("/api/whatsapp/send/custom", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


# Operators -----------------------------------------------------------------------------------


def test_validate_says_whether_an_operator_can_be_alerted_now(operator_client, gateway, juan):
    body = operator_client.get("/api/whatsapp/operators/11/validate").json()
    assert body["can_receive"] is True
    assert body["reason"] is None
    assert body["name"] == "Juan"
    elsewhere_only(juan)
    body = operator_client.get("/api/whatsapp/operators/11/validate").json()
    assert body["can_receive"] is False
    assert body["code"] == "outside_alert_window"
    assert body["next_alert_window_at"] is not None


def test_validate_reports_a_missing_connection(operator_client, juan):
    body = operator_client.get("/api/whatsapp/operators/11/validate").json()
    assert (body["can_receive"], body["code"]) == (False, "no_connection")


@pytest.mark.parametrize("person_id", ["404", "0", str(2**40), "abc"])
def test_validate_of_an_unknown_or_impossible_id_is_a_4xx(operator_client, juan, person_id):
    response = operator_client.get(f"/api/whatsapp/operators/{person_id}/validate")
    assert response.status_code in (404, 422)
    if person_id == "404":
        assert response.json()["code"] == "unknown_operator"


def test_config_lists_every_operator_in_a_fixed_number_of_queries(
    operator_client, juan, sofia, django_assert_max_num_queries
):
    Schedule.objects.create(
        operator=juan, kind=ScheduleKind.ALERT, weekday=0, start=time(8), end=time(17)
    )
    Schedule.objects.create(
        operator=juan, kind=ScheduleKind.WORK, weekday=1, start=time(8), end=time(17)
    )
    for number in range(5):
        make_operator(f"extra{number}")
    with django_assert_max_num_queries(6):
        response = operator_client.get("/api/whatsapp/operators/config")
    rows = {row["name"]: row for row in response.json()}
    assert len(rows) == 7
    assert rows["Juan"] == {
        "person_id": 11,
        "operator": juan.pk,
        "name": "Juan",
        "whatsapp": "+5491155550002",
        "active": True,
        "notifications_enabled": True,
        "paused": False,
        "alert_windows": [{"weekday": 0, "start": "08:00", "end": "17:00"}],
    }
    assert rows["Sofía"]["alert_windows"] == []


# Health --------------------------------------------------------------------------------------


def test_health_is_public_and_leaks_no_secret(db, gateway):
    response = Client().get("/api/whatsapp/health")
    assert response.status_code == 200
    text = response.content.decode()
    for secret in (SECRET_KEY, gateway.webhook_secret, "+5491144440000", "evo.local", "api_key"):
        assert secret not in text
    assert response.json()["connections"] == [
        {
            "kind": "evolution",
            "name": "Soporte",
            "status": "connected",
            "queue_depth": 0,
            "oldest_queued_age_seconds": None,
            "failed_last_hour": 0,
        }
    ]


def test_health_counts_the_backlog_and_recent_failures(db, gateway):
    now = timezone.now()
    disabled = GatewayConnection.objects.create(kind="simulator", name="Vieja", enabled=False)

    def row(status: str, connection: GatewayConnection = gateway, **fields: Any) -> None:
        message = OutboundMessage.objects.create(
            connection=connection, to="+5491155550002", body="x", status=status,
            next_attempt_at=now, **fields,
        )  # fmt: skip
        OutboundMessage.objects.filter(pk=message.pk).update(**fields)

    row(OutboundStatus.QUEUED, created_at=now - timedelta(seconds=300))
    row(OutboundStatus.QUEUED, created_at=now - timedelta(seconds=30))
    row(OutboundStatus.SENDING)
    row(OutboundStatus.SENT)
    row(OutboundStatus.FAILED, failed_at=now - timedelta(minutes=10))
    row(OutboundStatus.FAILED, failed_at=now - timedelta(hours=2))
    row(OutboundStatus.QUEUED, connection=disabled)
    body = Client().get("/api/whatsapp/health").json()
    assert [item["name"] for item in body["connections"]] == ["Soporte"]
    (soporte,) = body["connections"]
    assert soporte["queue_depth"] == 3
    assert 300 <= soporte["oldest_queued_age_seconds"] < 330
    assert soporte["failed_last_hour"] == 1
    assert body["queue_depth"] == 3
    assert body["failed_last_hour"] == 1
    assert json.dumps(body).count("Vieja") == 0
