"""Odd input never reaches the database as a 500 and nobody acts on what is not theirs:
digits that are not ASCII, NUL characters, cursors at the ends of time, deep JSON, and chats
still with the bot."""

from __future__ import annotations

import base64
import json

import pytest

from ispdesk.conversations.models import ConversationStatus, Flow
from ispdesk.conversations.tests.conftest import MARCELA, incoming, make_conversation
from ispdesk.operators.tests.conftest import post


def cursor(value: str) -> str:
    raw = json.dumps({"o": "recent", "v": value, "id": 1}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    ["/desk/?selected=²", "/desk/list/?limit=²", "/desk/?q=ab%00c", "/contacts/?area=²"],
)
def test_pages_shrug_off_odd_query_strings(admin_client, path):
    assert admin_client.get(path).status_code == 200


def test_new_lines_with_an_odd_after_do_not_break_the_thread(operator_client, ana, marcela):
    chat = make_conversation(marcela, assignee=ana)
    assert operator_client.get(f"/desk/c/{chat.pk}/messages/?after=²").status_code in (200, 204)


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T12:00:00"]
)
def test_cursors_at_the_ends_of_time_are_refused(admin_client, value):
    response = admin_client.get(f"/api/conversations?cursor={cursor(value)}")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


def test_a_reply_with_a_nul_character_goes_out_without_it(operator_client, ana, marcela):
    chat = make_conversation(marcela, assignee=ana)
    response = post(operator_client, f"/api/conversations/{chat.pk}/messages", {"text": "ho\x00la"})
    assert response.status_code in (201, 422)
    if response.status_code == 201:
        assert response.json()["text"] == "hola"


def test_the_console_takes_text_with_nul_characters(operator_client, ana, marcela):
    chat = make_conversation(marcela, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": "hola\x00"})
    assert response.status_code < 500
    closed = operator_client.post(f"/desk/c/{chat.pk}/close/", {"goodbye": "chau\x00"})
    assert closed.status_code < 500
    chat.refresh_from_db()
    assert chat.status == ConversationStatus.CLOSED


def test_deeply_nested_json_is_not_a_contact_list(admin_client):
    response = admin_client.post(
        "/api/contacts/import", "[" * 200_000, content_type="application/json"
    )
    assert response.status_code == 422


def test_the_flow_simulator_refuses_a_state_from_outer_space(admin_client, soporte):
    from ispdesk.conversations.flows.samples import sample_definition

    definition = json.dumps(sample_definition(soporte.pk))
    # 1e400 is JSON a client may send; Python reads it as infinity.
    body = f'{{"definition": {definition}, "state": {{"flow": 1e400, "node": "a"}}, "text": "1"}}'
    response = admin_client.post("/api/flows/simulate", body, content_type="application/json")
    assert response.status_code in (200, 422)


# Chats with the bot are nobody's yet -----------------------------------------------------------


def greeting_menu(soporte) -> Flow:  # type: ignore[no-untyped-def]
    from ispdesk.conversations.flows.samples import sample_definition

    return Flow.objects.create(
        name="Bienvenida", is_default=True, definition=sample_definition(soporte.pk)
    )


def test_an_operator_cannot_see_or_close_a_chat_still_with_the_bot(
    operator_client, supervisor_client, connection, soporte, ana, sofia
):
    greeting_menu(soporte)
    chat = incoming(connection, MARCELA, "mi DNI es 28444555, no tengo internet")
    assert chat.status == ConversationStatus.BOT
    for path in (f"/api/conversations/{chat.pk}", f"/api/conversations/{chat.pk}/messages"):
        assert operator_client.get(path).status_code == 404
        assert supervisor_client.get(path).status_code == 200
    assert post(operator_client, f"/api/conversations/{chat.pk}/close").status_code == 404
    assert chat.groups() == [f"conversation.{chat.pk}", "role.supervisor", "role.admin"]


def test_answering_a_waiting_chat_does_not_take_an_operator_past_capacity(
    operator_client, soporte, ana, marcela
):
    from ispdesk.conversations.tests.conftest import make_contact

    for n in range(3):
        make_conversation(make_contact(f"Cliente {n}", f"+54911777000{n}"), assignee=ana)
    waiting = make_conversation(marcela, area=soporte)
    response = post(operator_client, f"/api/conversations/{waiting.pk}/messages", {"text": "Hola"})
    assert response.status_code == 409
    assert response.json()["code"] == "operator_full"
    waiting.refresh_from_db()
    assert waiting.assignee is None


def test_a_greeting_only_flow_hands_the_chat_to_a_person(connection, soporte, ana):
    Flow.objects.create(
        name="Saludo",
        is_default=True,
        fallback_area=soporte,
        definition={
            "root": "hola",
            "nodes": [{"id": "hola", "type": "message", "text": "¡Hola! Ya te atendemos."}],
        },
    )
    chat = incoming(connection, MARCELA, "hola")
    assert (chat.status, chat.area, chat.assignee) == (ConversationStatus.OPEN, soporte, ana)
