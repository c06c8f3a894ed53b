"""`POST /hooks/tickets/<secret>/` and its close hook: every answer, replays, mapping edits,
and the secret kept out of the logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ispdesk.operators.models import Area
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.tests.ticket_hook_support import enabled_hook, fixture, post_hook
from ispdesk.pipeline.ticket_hook import do_save_hook_settings, hook_system
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.models import EventKind, Source, Status, Ticket, TicketEvent


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def hook(db: Any) -> ExternalSystem:
    return enabled_hook()


@pytest.fixture
def soporte_tecnico(db: Any) -> Area:
    return Area.objects.create(name="Soporte Técnico")


# Creating ------------------------------------------------------------------------------------


def test_it_creates_a_ticket_from_the_earlier_systems_payload(client, hook, soporte_tecnico):
    response = post_hook(client, hook, fixture("one_ticket.json"))

    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert response.json() == {
        "results": [{"external_id": "48213", "ticket": ticket.pk, "created": True}]
    }
    assert (ticket.source, ticket.external_id) == (Source.WEBHOOK, "48213")
    assert ticket.subject == "Sin conexión"
    assert ticket.customer_name == "María Fernández"
    assert ticket.area == soporte_tecnico
    assert ticket.customer_external_id == "10457"
    assert ticket.customer_phone == "+5491155550101"
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CREATED).count() == 1
    assert AuditEvent.objects.filter(action="ticket.created").count() == 1


def test_a_replay_answers_200_with_created_false_and_creates_nothing(client, hook):
    first = post_hook(client, hook, fixture("one_ticket.json"))
    again = post_hook(client, hook, fixture("one_ticket.json"))

    assert (first.status_code, again.status_code) == (201, 200)
    ticket = Ticket.objects.get()
    assert again.json()["results"] == [
        {"external_id": "48213", "ticket": ticket.pk, "created": False}
    ]
    assert TicketEvent.objects.filter(kind=EventKind.CREATED).count() == 1


def test_it_answers_a_list_item_by_item(client, hook, db):
    Area.objects.create(name="Administracion")

    response = post_hook(client, hook, fixture("two_tickets.json"))

    assert response.status_code == 200
    first, second = Ticket.objects.order_by("external_id")
    assert response.json()["results"] == [
        {"external_id": "48214", "ticket": first.pk, "created": True},
        {"external_id": "48215", "ticket": second.pk, "created": True},
    ]
    assert first.area is not None and first.area.name == "Administracion"
    assert first.customer_name == "José Gómez"
    # An unknown department leaves the area empty; an unreadable phone is kept as sent.
    assert second.area is None
    assert second.customer_phone == "sin dato"  # kept as sent when it is not a number


def test_a_refused_item_does_not_stop_the_others(client, hook):
    response = post_hook(client, hook, fixture("one_good_one_incomplete.json"))

    assert response.status_code == 200
    good, refused = response.json()["results"]
    assert good["created"] is True
    assert refused == {
        "error": {
            "code": "validation_error",
            "message": "Missing required fields: Motivo de contacto",
            "fields": {"Motivo de contacto": "required"},
        }
    }
    assert list(Ticket.objects.values_list("external_id", flat=True)) == ["48216"]


def test_one_incomplete_object_answers_422_naming_the_fields(client, hook):
    response = post_hook(client, hook, {"Numero de  cliente": "10457"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["fields"] == {"Numero de ticket": "required", "Motivo de contacto": "required"}
    assert body["results"] == [{"error": {key: body[key] for key in ("code", "message", "fields")}}]
    assert not Ticket.objects.exists()


def test_a_mapping_edit_takes_effect_on_the_next_delivery(client, hook):
    payload = {"id_caso": "C-9", "asunto": "Corte de fibra", "Motivo de contacto": "ignored"}
    before = post_hook(client, hook, payload)
    do_save_hook_settings(None, mapping={"id_caso": "external_id", "asunto": "subject"})

    after = post_hook(client, hook, payload)

    assert before.status_code == 422
    assert after.status_code == 201
    ticket = Ticket.objects.get()
    assert (ticket.external_id, ticket.subject) == ("C-9", "Corte de fibra")


# Refusals ------------------------------------------------------------------------------------


def test_it_answers_404_to_a_secret_that_is_not_the_hooks(client, hook):
    response = post_hook(client, hook, fixture("one_ticket.json"), secret="not-the-secret")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Ticket.objects.exists()


def test_it_answers_404_before_the_hook_was_ever_set_up(client, db):
    response = client.post("/hooks/tickets/anything/", {}, content_type="application/json")

    assert response.status_code == 404
    assert not ExternalSystem.objects.exists()


def test_it_answers_503_while_disabled_so_the_sender_retries(client, db):
    system = hook_system()

    response = post_hook(client, system, fixture("one_ticket.json"))

    assert response.status_code == 503
    assert response.json()["code"] == "disabled"
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_it_answers_405_to_other_methods(client, hook, method):
    response = getattr(client, method)(f"/hooks/tickets/{hook.hook_secret}/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "malformed_json"),
        (b"\xff\xfe{", "malformed_json"),
        (b'{"Numero de ticket": NaN}', "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b'"48213"', "bad_request"),
        (b"[]", "bad_request"),
    ],
)
def test_it_answers_400_to_a_body_it_cannot_read(client, hook, body, code):
    response = post_hook(client, hook, body)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_it_answers_413_to_a_body_over_the_limit(client, hook, settings):
    settings.WEBHOOK_MAX_BYTES = 100_000
    payload = {**fixture("one_ticket.json"), "Descripcion": "x" * 100_000}

    response = post_hook(client, hook, payload)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not Ticket.objects.exists()


def test_it_answers_413_to_too_many_tickets_at_once(client, hook):
    items = [{"Numero de ticket": str(n), "Motivo de contacto": "X"} for n in range(501)]

    response = post_hook(client, hook, items)

    assert response.status_code == 413
    assert not Ticket.objects.exists()


def test_it_answers_503_not_500_when_the_database_fails(client, hook, monkeypatch):
    from django.db import OperationalError

    def locked(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr("ispdesk.pipeline.ticket_hook.do_create_ticket", locked)

    response = post_hook(client, hook, fixture("one_ticket.json"))

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


def test_it_needs_no_csrf_token(hook):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)

    response = post_hook(strict, hook, fixture("one_ticket.json"))

    assert response.status_code == 201


def test_the_url_without_its_final_slash_works_too(client, hook):
    response = client.post(
        f"/hooks/tickets/{hook.hook_secret}", fixture("one_ticket.json"), "application/json"
    )

    assert response.status_code == 201


# Closing -------------------------------------------------------------------------------------


def test_the_close_hook_closes_the_ticket_once(client, hook):
    post_hook(client, hook, fixture("one_ticket.json"))
    ticket = Ticket.objects.get()

    first = post_hook(client, hook, fixture("close_ticket.json"), close=True)
    again = post_hook(client, hook, fixture("close_ticket.json"), close=True)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == {"external_id": "48213", "ticket": ticket.pk, "closed": True}
    assert again.json()["closed"] is False
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CLOSED).count() == 1


def test_the_close_hook_answers_404_to_an_unknown_ticket(client, hook):
    response = post_hook(client, hook, {"Numero de ticket": "99999"}, close=True)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_close_hook_only_closes_tickets_that_came_through_the_hook(client, hook):
    Ticket.objects.create(
        source=Source.CSV, external_id="48213", subject="Otro", created_at="2026-01-05T10:00Z"
    )

    response = post_hook(client, hook, fixture("close_ticket.json"), close=True)

    assert response.status_code == 404
    assert Ticket.objects.get().status == Status.NEW


def test_the_close_hook_answers_422_without_a_ticket_number(client, hook):
    response = post_hook(client, hook, {"Motivo de contacto": "X"}, close=True)

    assert response.status_code == 422
    assert response.json()["fields"] == {"Numero de ticket": "required"}


def test_the_close_hook_refuses_a_list_and_a_wrong_secret(client, hook):
    listed = post_hook(client, hook, [fixture("close_ticket.json")], close=True)
    wrong = post_hook(client, hook, fixture("close_ticket.json"), close=True, secret="nope")

    assert (listed.status_code, wrong.status_code) == (400, 404)


# Logs ----------------------------------------------------------------------------------------


def test_the_secret_never_reaches_the_logs(client, hook, caplog, settings):
    settings.WEBHOOK_MAX_BYTES = 100_000
    secret = hook.hook_secret
    with caplog.at_level(logging.DEBUG):
        post_hook(client, hook, fixture("one_ticket.json"))  # 201
        post_hook(client, hook, {"Numero de  cliente": "1"})  # 422
        post_hook(client, hook, b"nope")  # 400
        post_hook(client, hook, {"Descripcion": "x" * 100_001})  # 413
        client.get(f"/hooks/tickets/{secret}/")  # 405
        post_hook(client, hook, {"Numero de ticket": "0"}, close=True)  # 404
        ExternalSystem.objects.filter(pk=hook.pk).update(enabled=False)
        post_hook(client, hook, fixture("one_ticket.json"))  # 503

    assert any(record.name == "ispdesk.webhooks" for record in caplog.records)
    assert not any(record.name == "django.request" for record in caplog.records)
    assert secret not in caplog.text
    assert all(secret not in str(record.args) for record in caplog.records)
