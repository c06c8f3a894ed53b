"""What people do to a chat over the API: reply, read, transfer, assign, close, go away;
each happy path and each refusal with its code."""

from __future__ import annotations

from typing import Any

import pytest

from ispdesk.conftest import logged_in_client
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Sender,
)
from ispdesk.conversations.tests.conftest import desk_operator, make_contact, make_conversation
from ispdesk.operators.models import Area, Operator
from ispdesk.operators.tests.conftest import post
from ispdesk.system.models import AuditEvent


def url(chat: Conversation, suffix: str) -> str:
    return f"/api/conversations/{chat.pk}{suffix}"


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.fixture
def queued(marcela, soporte) -> Conversation:  # type: ignore[no-untyped-def]
    """Marcela waits in Soporte's queue."""
    return make_conversation(marcela, area=soporte, unread_count=2)


@pytest.fixture
def anas(soporte, ana) -> Conversation:  # type: ignore[no-untyped-def]
    return make_conversation(
        make_contact("Pedro Ruiz", "+5492614447788"), area=soporte, assignee=ana
    )


@pytest.fixture
def juans(soporte, juan) -> Conversation:  # type: ignore[no-untyped-def]
    return make_conversation(make_contact("Lucía", "+5493515550003"), area=soporte, assignee=juan)


# Replying


def test_answering_a_queued_chat_takes_it(operator_client, ana, queued):
    response = post(operator_client, url(queued, "/messages"), {"text": "  Hola Marcela  "})

    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["sender"], row["text"], row["author"], row["status"], row["error"]) == (
        "operator",
        "Hola Marcela",
        "Ana",
        "queued",
        "",
    )
    queued.refresh_from_db()
    assert (queued.status, queued.assignee_id, queued.unread_count) == ("open", ana.pk, 0)
    assert queued.awaiting_human is False
    assert queued.first_response_at is not None
    assert queued.last_message_preview == "Hola Marcela"
    assert ConversationEvent.objects.filter(conversation=queued, kind=EventKind.ASSIGNED).exists()


def test_a_supervisor_answers_without_taking_the_chat(supervisor_client, queued):
    response = post(supervisor_client, url(queued, "/messages"), {"text": "Ya te atienden"})
    assert response.status_code == 201
    queued.refresh_from_db()
    assert (queued.status, queued.assignee_id) == ("pending", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 4097}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": 12}, "text"),
    ],
)
def test_it_refuses_a_bad_message(operator_client, anas, body, field):
    response = post(operator_client, url(anas, "/messages"), body)
    assert field in refused(response, 422, "validation_error")["fields"]
    assert not anas.messages.exists()


def test_it_refuses_malformed_json(operator_client, anas):
    response = operator_client.post(
        url(anas, "/messages"), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_an_operator_cannot_answer_a_colleagues_chat(operator_client, ana, juans):
    refused(post(operator_client, url(juans, "/messages"), {"text": "Hola"}), 409, "not_yours")
    assert not juans.messages.exists()


def test_nobody_answers_a_closed_chat(supervisor_client, marcela, soporte):
    closed = make_conversation(marcela, ConversationStatus.CLOSED, soporte)
    response = post(supervisor_client, url(closed, "/messages"), {"text": "Hola"})
    refused(response, 409, "conversation_closed")


# Reading


def test_reading_clears_the_unread_count(operator_client, ana, queued):
    response = post(operator_client, url(queued, "/read"))

    assert response.status_code == 200, response.content
    assert (response.json()["unread_count"], response.json()["version"]) == (0, 2)
    queued.refresh_from_db()
    assert queued.unread_count == 0


def test_reading_a_read_chat_changes_nothing(operator_client, anas):
    response = post(operator_client, url(anas, "/read"))
    assert (response.json()["unread_count"], response.json()["version"]) == (0, 1)


# Transferring


def test_transferring_to_an_area_puts_the_chat_in_its_queue(
    operator_client, operator, ana, anas, ventas
):
    response = post(
        operator_client, url(anas, "/transfer"), {"area_id": ventas.pk, "note": "Quiere 300 MB"}
    )

    assert response.status_code == 200, response.content
    row = response.json()
    assert (row["status"], row["area"], row["assignee"]) == (
        "pending",
        {"id": ventas.pk, "name": "Ventas"},
        None,
    )
    event = ConversationEvent.objects.get(conversation=anas, kind=EventKind.TRANSFERRED)
    assert (event.actor, event.area, event.detail) == (operator, ventas, "Quiere 300 MB")
    assert AuditEvent.objects.filter(
        action="conversation.transfer", actor=operator, object_id=str(anas.pk)
    ).exists()
    # The chat left Ana's sight with her areas.
    assert operator_client.get(f"/api/conversations/{anas.pk}").status_code == 404


def test_transferring_to_a_colleague_gives_it_to_them(operator_client, ana, juan, anas):
    response = post(operator_client, url(anas, "/transfer"), {"username": "juan", "note": "Vos"})

    assert response.status_code == 200, response.content
    assert response.json()["assignee"] == {"id": juan.pk, "name": "Juan"}
    event = ConversationEvent.objects.get(conversation=anas, kind=EventKind.TRANSFERRED)
    assert event.operator == juan
    assert "Vos" in event.detail


def test_transferring_by_operator_id(supervisor_client, juan, queued):
    response = post(supervisor_client, url(queued, "/transfer"), {"operator_id": juan.pk})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["assignee"]["id"]) == ("open", juan.pk)


def test_an_operator_cannot_transfer_to_a_colleague_who_is_full(
    operator_client, ana, juan, anas, soporte
):
    juan.chat_capacity = 1
    juan.save()
    make_conversation(make_contact("Otra", "+5491100000001"), area=soporte, assignee=juan)

    response = post(operator_client, url(anas, "/transfer"), {"operator_id": juan.pk})

    assert "operator_id" in refused(response, 409, "operator_full")["fields"]
    anas.refresh_from_db()
    assert anas.assignee_id == ana.pk


def test_a_supervisor_may_overfill_a_colleague(supervisor_client, juan, queued, soporte):
    juan.chat_capacity = 1
    juan.save()
    make_conversation(make_contact("Otra", "+5491100000001"), area=soporte, assignee=juan)
    response = post(supervisor_client, url(queued, "/transfer"), {"operator_id": juan.pk})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 422, "validation_error", "area_id"),
        ({"note": "sin destino"}, 422, "validation_error", "area_id"),
        ({"area_id": "ventas", "username": "juan"}, 422, "validation_error", "area_id"),
        ({"area_id": 999999}, 422, "unknown_area", "area_id"),
        ({"area_id": "inactive"}, 422, "unknown_area", "area_id"),
        ({"area_id": 0}, 422, "validation_error", "area_id"),
        ({"operator_id": 999999}, 422, "unknown_operator", "operator"),
        ({"username": "nadie"}, 422, "unknown_operator", "operator"),
        ({"username": "omar"}, 422, "unknown_operator", "operator"),  # no operator profile
        ({"username": ""}, 422, "validation_error", "username"),
        ({"username": "ana"}, 409, "no_change", None),
        ({"area_id": "ventas", "note": "x" * 401}, 422, "validation_error", "note"),
    ],
)
def test_it_refuses_a_bad_transfer(
    operator_client, ana, anas, ventas, omar, body, status, code, field
):
    inactive = Area.objects.create(name="Cobranzas", active=False)
    body = {**body}
    if body.get("area_id") == "ventas":
        body["area_id"] = ventas.pk
    elif body.get("area_id") == "inactive":
        body["area_id"] = inactive.pk

    response = post(operator_client, url(anas, "/transfer"), body)

    answer = refused(response, status, code)
    if field is not None:
        assert field in answer["fields"]
    anas.refresh_from_db()
    assert (anas.status, anas.assignee_id, anas.version) == ("open", ana.pk, 1)


def test_an_operator_cannot_transfer_a_colleagues_chat(operator_client, ana, juans, ventas):
    response = post(operator_client, url(juans, "/transfer"), {"area_id": ventas.pk})
    refused(response, 409, "not_yours")


def test_nobody_transfers_a_closed_chat(supervisor_client, marcela, soporte, ventas):
    closed = make_conversation(marcela, ConversationStatus.CLOSED, soporte)
    response = post(supervisor_client, url(closed, "/transfer"), {"area_id": ventas.pk})
    refused(response, 409, "conversation_closed")


# Assigning


def test_a_supervisor_assigns_a_queued_chat(supervisor_client, supervisor, juan, queued):
    response = post(supervisor_client, url(queued, "/assign"), {"operator_id": juan.pk})

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["assignee"]) == (
        "open",
        {"id": juan.pk, "name": "Juan"},
    )
    assert AuditEvent.objects.filter(action="conversation.assign", actor=supervisor).exists()
    greeting = queued.messages.get(sender=Sender.SYSTEM)
    assert "Juan" in greeting.text


def test_a_supervisor_takes_over_by_assigning_to_herself(
    supervisor_client, supervisor, soporte, juans
):
    herself = desk_operator(supervisor, [soporte])
    response = post(supervisor_client, url(juans, "/assign"), {"username": "supervisor"})
    assert response.status_code == 200, response.content
    assert response.json()["assignee"]["id"] == herself.pk


def test_assigning_to_the_current_assignee_changes_nothing(admin_client, juan, juans):
    response = post(admin_client, url(juans, "/assign"), {"username": "juan"})
    assert response.status_code == 200
    assert response.json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "validation_error", "operator_id"),
        ({"operator_id": 999999}, "unknown_operator", "operator"),
        ({"username": "omar"}, "unknown_operator", "operator"),
        ({"operator_id": "juan"}, "validation_error", "operator_id"),
    ],
)
def test_it_refuses_a_bad_assignment(admin_client, omar, queued, body, code, field):
    answer = refused(post(admin_client, url(queued, "/assign"), body), 422, code)
    assert field in answer["fields"]
    queued.refresh_from_db()
    assert queued.assignee_id is None


def test_an_operator_may_not_assign(operator_client, ana, juan, queued):
    refused(post(operator_client, url(queued, "/assign"), {"username": "juan"}), 403, "forbidden")
    refused(post(operator_client, url(queued, "/assign"), {}), 403, "forbidden")
    queued.refresh_from_db()
    assert queued.assignee_id is None


def test_nobody_assigns_a_closed_chat(admin_client, juan, marcela, soporte):
    closed = make_conversation(marcela, ConversationStatus.CLOSED, soporte)
    refused(
        post(admin_client, url(closed, "/assign"), {"username": "juan"}), 409, "conversation_closed"
    )


def test_an_inactive_operator_cannot_be_assigned(admin_client, juan, queued):
    Operator.objects.filter(pk=juan.pk).update(active=False)
    refused(
        post(admin_client, url(queued, "/assign"), {"username": "juan"}), 422, "unknown_operator"
    )


# Closing


def test_closing_with_a_goodbye_says_it_and_frees_the_customer(operator_client, ana, anas):
    response = post(operator_client, url(anas, "/close"), {"goodbye": "¡Que andes bien!"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    anas.refresh_from_db()
    assert (anas.status, anas.live_key, anas.close_reason) == ("closed", None, "operator")
    goodbye = anas.messages.get()
    assert (goodbye.sender, goodbye.text, goodbye.author_id) == (
        "operator",
        "¡Que andes bien!",
        ana.user_id,
    )
    assert ConversationEvent.objects.filter(conversation=anas, kind=EventKind.CLOSED).exists()


def test_closing_without_a_body_says_nothing(operator_client, anas):
    response = post(operator_client, url(anas, "/close"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    assert not anas.messages.exists()


def test_closing_twice_is_refused(operator_client, anas):
    post(operator_client, url(anas, "/close"))
    refused(post(operator_client, url(anas, "/close")), 409, "conversation_closed")


def test_an_operator_cannot_close_a_colleagues_chat(operator_client, ana, juans):
    refused(post(operator_client, url(juans, "/close")), 409, "not_yours")
    juans.refresh_from_db()
    assert juans.status == "open"


def test_a_supervisor_closes_anyones_chat(supervisor_client, juans):
    assert post(supervisor_client, url(juans, "/close")).json()["status"] == "closed"


def test_it_refuses_a_goodbye_that_is_not_text(operator_client, anas):
    response = post(operator_client, url(anas, "/close"), {"goodbye": ["chau"]})
    assert "goodbye" in refused(response, 422, "validation_error")["fields"]


# Presence


def test_an_operator_goes_away_and_comes_back(operator_client, ana):
    assert post(operator_client, "/api/conversations/presence", {"away": True}).json() == {
        "presence": "away"
    }
    ana.refresh_from_db()
    assert ana.away is True

    back = post(operator_client, "/api/conversations/presence", {"away": False})
    assert back.json() == {"presence": "online"}
    ana.refresh_from_db()
    assert ana.away is False


def test_an_operator_without_a_console_is_offline_whatever_she_chooses(sofia):
    client = logged_in_client(sofia.user)
    response = post(client, "/api/conversations/presence", {"away": True})
    assert response.json() == {"presence": "offline"}
    sofia.refresh_from_db()
    assert sofia.away is True


@pytest.mark.parametrize("body", [{}, {"away": "maybe"}, {"away": None}])
def test_it_refuses_a_bad_presence(operator_client, ana, body):
    response = post(operator_client, "/api/conversations/presence", body)
    assert "away" in refused(response, 422, "validation_error")["fields"]
