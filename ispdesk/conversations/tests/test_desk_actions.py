"""Changing chats from the console: reply, transfer, assign, take over, close, go away.
Refusals come back as a readable message in the pane (422), never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from ispdesk.conftest import logged_in_client
from ispdesk.conversations.models import ConversationStatus, EventKind, Message, Sender
from ispdesk.conversations.tests.conftest import make_conversation
from ispdesk.conversations.tests.test_desk_pages import HTMX, line
from ispdesk.operators.models import Operator
from ispdesk.system.models import AuditEvent


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


# Replying -----------------------------------------------------------------------------------


def test_a_reply_is_queued_for_the_customer_and_comes_back_as_the_new_lines(
    operator_client, ana, soporte
):
    chat = make_conversation(area=soporte, assignee=ana)
    first = line(chat, "Hola, no tengo internet")
    response = operator_client.post(
        f"/desk/c/{chat.pk}/send/",
        {"text": "  ¿Reiniciaste el módem?  ", "after": first.pk, "after_event": 0},
        **HTMX,
    )
    assert response.status_code == 200
    reply = Message.objects.get(sender=Sender.OPERATOR)
    assert reply.text == "¿Reiniciaste el módem?"
    assert reply.outbound is not None and reply.outbound.to == chat.chat_id
    html = response.content.decode()
    assert f'data-message="{reply.pk}"' in html
    assert "Hola, no tengo internet" not in html  # the page shows it already
    assert 'data-ticks="pending"' in html
    assert response["X-Desk-Last-Message"] == str(reply.pk)


def test_answering_a_queued_chat_takes_it(operator_client, ana, soporte):
    chat = make_conversation(area=soporte)
    response = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": "Hola"}, **HTMX)
    assert response.status_code == 200
    chat.refresh_from_db()
    assert (chat.status, chat.assignee) == (ConversationStatus.OPEN, ana)


def test_an_empty_reply_is_refused_readably(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": "   "}, **HTMX)
    assert response.status_code == 422
    assert b'data-code="validation_error"' in response.content
    assert b"Write a message first." in response.content
    assert not Message.objects.exists()


def test_an_operator_cannot_answer_a_colleagues_chat(operator_client, ana, juan, soporte):
    chat = make_conversation(area=soporte, assignee=juan)
    response = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": "Hola"}, **HTMX)
    assert response.status_code == 422
    assert b'data-code="not_yours"' in response.content
    assert not Message.objects.exists()


def test_a_reply_without_javascript_goes_back_to_the_chat(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": "Hola"})
    assert response.status_code == 302
    assert response["Location"] == f"/desk/c/{chat.pk}/"
    refused = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": ""})
    assert refused.status_code == 422
    assert b"<html" in refused.content and b"Write a message first." in refused.content


def test_replying_to_a_closed_chat_is_refused(operator_client, ana, soporte):
    chat = make_conversation(status=ConversationStatus.CLOSED, area=soporte, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/send/", {"text": "Hola"}, **HTMX)
    assert response.status_code == 422
    assert b'data-code="conversation_closed"' in response.content


def test_the_change_endpoints_only_take_posts(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    for action in ("send", "transfer", "assign", "close"):
        assert operator_client.get(f"/desk/c/{chat.pk}/{action}/").status_code == 405
    assert operator_client.get("/desk/away/").status_code == 405


# Transfers ----------------------------------------------------------------------------------


def test_a_transfer_to_another_area_leaves_it_out_of_sight(operator_client, ana, soporte, ventas):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(
        f"/desk/c/{chat.pk}/transfer/",
        {"target": f"area:{ventas.pk}", "note": "Quiere cambiar de plan"},
        **HTMX,
    )
    assert response.status_code == 200
    assert b"data-chat-gone" in response.content
    assert b"The chat was transferred." in response.content
    chat.refresh_from_db()
    assert (chat.status, chat.area, chat.assignee) == (ConversationStatus.PENDING, ventas, None)
    event = chat.events.get(kind=EventKind.TRANSFERRED)
    assert event.detail == "Quiere cambiar de plan"
    assert AuditEvent.objects.filter(action="conversation.transfer").exists()


def test_a_transfer_to_a_colleague_shows_the_chat_as_theirs(operator_client, ana, juan, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(
        f"/desk/c/{chat.pk}/transfer/", {"target": f"operator:{juan.pk}"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "With Juan" in html
    assert "This chat is with a colleague" in html
    chat.refresh_from_db()
    assert chat.assignee == juan


@pytest.mark.parametrize("target", ["", "area:", "area:abc", "planet:3", "operator"])
def test_a_transfer_without_a_valid_target_is_refused(operator_client, ana, soporte, target):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/transfer/", {"target": target}, **HTMX)
    assert response.status_code == 422
    assert b"Choose an area or an operator." in response.content
    assert b'data-chat="' in response.content  # the pane, with the explanation in it


def test_a_transfer_to_an_unknown_area_or_operator_is_refused(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    area = operator_client.post(f"/desk/c/{chat.pk}/transfer/", {"target": "area:9999"}, **HTMX)
    assert area.status_code == 422 and b'data-code="unknown_area"' in area.content
    person = operator_client.post(
        f"/desk/c/{chat.pk}/transfer/", {"target": "operator:9999"}, **HTMX
    )
    assert person.status_code == 422 and b'data-code="unknown_operator"' in person.content
    chat.refresh_from_db()
    assert chat.assignee == ana


# Supervisors --------------------------------------------------------------------------------


def test_a_supervisor_assigns_a_chat_to_an_operator(supervisor_client, ana, juan, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = supervisor_client.post(
        f"/desk/c/{chat.pk}/assign/", {"target": f"operator:{juan.pk}"}, **HTMX
    )
    assert response.status_code == 200
    assert b"The chat was assigned." in response.content
    chat.refresh_from_db()
    assert chat.assignee == juan


def test_a_supervisor_with_an_operator_profile_takes_a_chat_over(supervisor, ana, soporte):
    own = Operator.objects.create(user=supervisor)
    chat = make_conversation(area=soporte, assignee=ana)
    response = logged_in_client(supervisor).post(
        f"/desk/c/{chat.pk}/assign/", {"take_over": "1"}, **HTMX
    )
    assert response.status_code == 200
    assert b"You took over the chat." in response.content
    chat.refresh_from_db()
    assert chat.assignee == own


def test_an_operator_cannot_assign(operator_client, ana, juan, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(
        f"/desk/c/{chat.pk}/assign/", {"target": f"operator:{juan.pk}"}, **HTMX
    )
    assert response.status_code == 422
    assert b'data-code="forbidden"' in response.content
    chat.refresh_from_db()
    assert chat.assignee == ana


def test_assigning_without_an_operator_is_refused(supervisor_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    # A supervisor without an operator profile cannot take a chat over.
    response = supervisor_client.post(f"/desk/c/{chat.pk}/assign/", {"take_over": "1"}, **HTMX)
    assert response.status_code == 422
    assert b"Choose an operator." in response.content


# Closing ------------------------------------------------------------------------------------


def test_closing_with_a_goodbye_sends_it_and_shows_the_chat_read_only(
    operator_client, ana, soporte
):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(
        f"/desk/c/{chat.pk}/close/", {"goodbye": "¡Gracias por escribirnos!"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "The chat was closed." in html
    assert "This conversation is closed" in html
    assert "¡Gracias por escribirnos!" in html
    chat.refresh_from_db()
    assert chat.status == ConversationStatus.CLOSED
    goodbye = Message.objects.get(conversation=chat)
    assert goodbye.outbound is not None


def test_closing_a_closed_chat_is_refused(operator_client, ana, soporte):
    chat = make_conversation(status=ConversationStatus.CLOSED, area=soporte, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/close/", **HTMX)
    assert response.status_code == 422
    assert b"This conversation is closed." in response.content


def test_closing_without_javascript_goes_back_to_the_chat(operator_client, ana, soporte):
    chat = make_conversation(area=soporte, assignee=ana)
    response = operator_client.post(f"/desk/c/{chat.pk}/close/")
    assert response.status_code == 302
    assert response["Location"] == f"/desk/c/{chat.pk}/"


# Presence -----------------------------------------------------------------------------------


def test_an_operator_sets_herself_away_and_back(operator_client, ana):
    away = operator_client.post("/desk/away/", {"away": "1"}, **HTMX)
    assert away.status_code == 200
    assert b'data-presence="away"' in away.content
    ana.refresh_from_db()
    assert ana.away
    back = operator_client.post("/desk/away/", {"away": "0"}, **HTMX)
    assert b'data-presence="online"' in back.content
    ana.refresh_from_db()
    assert not ana.away


def test_a_supervisor_without_a_profile_has_no_presence_to_set(supervisor_client):
    response = supervisor_client.post("/desk/away/", {"away": "1"})
    assert response.status_code == 302
