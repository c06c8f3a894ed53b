"""A customer's journey through the desk: contact, bot, queue, operator, close."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from ispdesk.contacts.models import Contact
from ispdesk.conversations.jobs import route_waiting
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Flow,
    Message,
    Sender,
)
from ispdesk.conversations.tests.conftest import MARCELA, go_online, incoming
from ispdesk.messaging.models import OutboundMessage
from ispdesk.operators.models import AreaHours

OTHER = "+5491187654321"


def menu_flow(soporte, ventas) -> Flow:  # type: ignore[no-untyped-def]
    return Flow.objects.create(
        name="Bienvenida",
        is_default=True,
        triggers=["hola"],
        definition={
            "root": "inicio",
            "nodes": [
                {
                    "id": "inicio",
                    "type": "menu",
                    "text": "¡Hola! Elegí una opción:",
                    "children": ["tecnico", "ventas", "chau"],
                },
                {
                    "id": "tecnico",
                    "type": "redirect",
                    "label": "Soporte técnico",
                    "option": 1,
                    "keywords": ["internet"],
                    "text": "Te paso con Soporte.",
                    "area_id": soporte.pk,
                    "children": [],
                },
                {
                    "id": "ventas",
                    "type": "redirect",
                    "label": "Ventas",
                    "option": 2,
                    "text": "Te paso con Ventas.",
                    "area_id": ventas.pk,
                    "children": [],
                },
                {
                    "id": "chau",
                    "type": "end",
                    "label": "Nada más",
                    "option": 3,
                    "text": "¡Gracias por escribir!",
                    "children": [],
                },
            ],
        },
    )


def lines(conversation: Conversation) -> list[tuple[str, str]]:
    return [(m.sender, m.text) for m in Message.objects.filter(conversation=conversation)]


def kinds(conversation: Conversation) -> list[str]:
    return list(
        ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True)
    )


def test_a_first_message_creates_the_contact_from_the_profile_name(connection, ana, juan):
    chat = incoming(connection, MARCELA, "hola", name="Marcela Gómez")
    contact = Contact.objects.get(phone=MARCELA)
    assert contact.name == "Marcela Gómez"
    assert chat.contact == contact
    assert EventKind.CONTACT_CREATED in kinds(chat)
    assert EventKind.CREATED in kinds(chat)


def test_an_unknown_name_becomes_desconocido(connection, ana):
    incoming(connection, MARCELA, "hola", name="")
    assert Contact.objects.get(phone=MARCELA).name == "Desconocido"


def test_without_a_flow_the_chat_goes_straight_to_the_least_loaded_operator(
    connection, ana, juan, sofia
):
    chat = incoming(connection, MARCELA, "hola", name="Marcela")
    assert chat.status == ConversationStatus.OPEN
    # Ana and Juan are online with no chats; neither got one before, so the lower id wins.
    assert chat.assignee == ana
    assert kinds(chat)[-1] == EventKind.ASSIGNED
    assert ("system", "Marcela, te atiende Ana. 🙂") in lines(chat)
    second = incoming(connection, OTHER, "buenas", name="Pedro")
    assert second.assignee == juan


def test_the_bot_menu_routes_to_the_chosen_area(connection, soporte, ventas, ana, juan, sofia):
    menu_flow(soporte, ventas)
    chat = incoming(connection, MARCELA, "buenas", name="Marcela")
    assert chat.status == ConversationStatus.BOT
    assert chat.flow_state["node"] == "inicio"
    bot_lines = [text for sender, text in lines(chat) if sender == Sender.BOT]
    assert bot_lines and "1. Soporte técnico" in bot_lines[0]
    chat = incoming(connection, MARCELA, "1")
    assert chat.status == ConversationStatus.OPEN
    assert chat.area == soporte
    assert chat.assignee in (ana, juan)
    assert ("bot", "Te paso con Soporte.") in lines(chat)
    assert EventKind.HANDOFF in kinds(chat)


def test_three_wrong_answers_hand_the_chat_to_a_person(connection, soporte, ventas, ana):
    menu_flow(soporte, ventas)
    incoming(connection, MARCELA, "buenas")
    incoming(connection, MARCELA, "quiero algo")
    chat = incoming(connection, MARCELA, "no sé")
    assert chat.status == ConversationStatus.BOT
    chat = incoming(connection, MARCELA, "???")
    assert chat.status == ConversationStatus.OPEN
    assert chat.assignee == ana


def test_the_bot_end_closes_the_chat_and_a_new_message_opens_another(
    connection, soporte, ventas, ana
):
    menu_flow(soporte, ventas)
    first = incoming(connection, MARCELA, "buenas")
    first = incoming(connection, MARCELA, "3")
    assert first.status == ConversationStatus.CLOSED
    assert first.close_reason == "bot"
    assert first.live_key is None
    second = incoming(connection, MARCELA, "hola de nuevo")
    assert second.pk != first.pk
    assert second.contact == first.contact
    assert ConversationEvent.objects.get(conversation=second, kind=EventKind.CREATED).detail


def test_with_nobody_online_the_chat_waits_and_the_customer_learns_their_place(
    connection, soporte, ventas, ana, juan
):
    menu_flow(soporte, ventas)
    # Sofía is offline: Ventas has nobody to take chats.
    incoming(connection, MARCELA, "buenas", name="Marcela")
    chat = incoming(connection, MARCELA, "2")
    assert chat.status == ConversationStatus.PENDING
    assert chat.area == ventas
    assert chat.assignee is None
    assert any("número 1 en la fila" in text for _sender, text in lines(chat))
    incoming(connection, OTHER, "buenas", name="Pedro")
    other = incoming(connection, OTHER, "2")
    assert any("número 2 en la fila" in text for _sender, text in lines(other))


def test_an_operator_coming_online_takes_the_oldest_waiting_chat(
    connection, soporte, ventas, sofia
):
    menu_flow(soporte, ventas)
    incoming(connection, MARCELA, "buenas")
    first = incoming(connection, MARCELA, "2")
    incoming(connection, OTHER, "buenas")
    second = incoming(connection, OTHER, "2")
    sofia.chat_capacity = 1
    sofia.save()
    from ispdesk.conversations.presence import console_opened

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert console_opened(sofia.user, "console-sofia")["presence"] == "online"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.assignee == sofia
    assert second.status == ConversationStatus.PENDING


def test_outside_working_hours_the_courtesy_message_goes_once_per_closed_period(
    connection, soporte, ventas, ana
):
    menu_flow(soporte, ventas)
    now = timezone.localtime()
    closed_window_start = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    closed_window_end = (now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    AreaHours.objects.create(
        area=soporte,
        weekday=(now + timedelta(hours=2)).weekday(),
        start=closed_window_start,
        end=closed_window_end,
        courtesy_message="Volvemos en un rato.",
    )
    incoming(connection, MARCELA, "buenas")
    chat = incoming(connection, MARCELA, "1")
    assert chat.status == ConversationStatus.PENDING
    assert chat.assignee is None
    chat = incoming(connection, MARCELA, "¿hola?")
    chat = incoming(connection, MARCELA, "¿alguien?")
    courtesy = [text for _sender, text in lines(chat) if text == "Volvemos en un rato."]
    assert len(courtesy) == 1
    assert chat.courtesy_until is not None
    assert kinds(chat).count(EventKind.COURTESY) == 1


def test_at_opening_time_the_routing_job_serves_the_waiting_chat(connection, soporte, ventas, ana):
    menu_flow(soporte, ventas)
    now = timezone.localtime()
    opens = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    hours = AreaHours.objects.create(
        area=soporte,
        weekday=opens.weekday(),
        start=opens.time(),
        end=time(23, 59) if opens.time() < time(23, 0) else time(0),
    )
    incoming(connection, MARCELA, "buenas")
    chat = incoming(connection, MARCELA, "1")
    assert chat.status == ConversationStatus.PENDING
    # Opening time: the area's window now covers the present.
    hours.weekday = now.weekday()
    hours.start = time(0)
    hours.end = time(0)
    hours.save()
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = route_waiting(None)  # type: ignore[arg-type]
    chat.refresh_from_db()
    assert result["assigned"] == 1
    assert chat.assignee == ana


def test_a_reply_goes_out_through_the_outbox_to_the_chat(connection, ana):
    chat = incoming(connection, MARCELA, "hola")
    from ispdesk.conversations.actions import do_send_message

    sent = do_send_message(ana.user, chat.pk, "Hola Marcela, ¿en qué te ayudo?")
    outbound = OutboundMessage.objects.get(pk=sent.message.outbound_id)
    assert outbound.to == chat.chat_id
    assert outbound.body == "Hola Marcela, ¿en qué te ayudo?"
    assert outbound.context == {"conversation": chat.pk}
    chat.refresh_from_db()
    assert chat.awaiting_human is False
    assert chat.unread_count == 0
    assert chat.first_response_at is not None


@pytest.mark.parametrize("minutes_idle, closes", [(30, False), (200, True)])
def test_auto_close_closes_idle_answered_chats(connection, ana, minutes_idle, closes):
    from ispdesk.conversations.actions import do_auto_close, do_send_message

    chat = incoming(connection, MARCELA, "hola", name="Marcela")
    do_send_message(ana.user, chat.pk, "¿Se resolvió?")
    Conversation.objects.filter(pk=chat.pk).update(
        last_message_at=timezone.now() - timedelta(minutes=minutes_idle)
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert do_auto_close() == (1 if closes else 0)
    chat.refresh_from_db()
    assert (chat.status == ConversationStatus.CLOSED) is closes
    if closes:
        assert chat.close_reason == "auto"
        assert any("cerramos esta conversación" in text for _s, text in lines(chat))
        assert kinds(chat)[-1] == EventKind.CLOSED


def test_auto_close_never_closes_a_chat_waiting_for_a_human(connection, ana):
    from ispdesk.conversations.actions import do_auto_close

    chat = incoming(connection, MARCELA, "hola")
    Conversation.objects.filter(pk=chat.pk).update(
        last_message_at=timezone.now() - timedelta(days=3)
    )
    assert do_auto_close() == 0
    chat.refresh_from_db()
    assert chat.status == ConversationStatus.OPEN


def test_an_area_overrides_the_auto_close_time(connection, soporte, ventas, ana):
    from ispdesk.conversations.actions import do_auto_close, do_send_message

    menu_flow(soporte, ventas)
    soporte.auto_close_minutes = 0  # never
    soporte.save()
    incoming(connection, MARCELA, "buenas")
    chat = incoming(connection, MARCELA, "1")
    do_send_message(ana.user, chat.pk, "Listo")
    Conversation.objects.filter(pk=chat.pk).update(
        last_message_at=timezone.now() - timedelta(days=3)
    )
    assert do_auto_close() == 0


def test_closing_a_chat_frees_room_for_the_next_in_line(connection, soporte, ventas, ana):
    from ispdesk.conversations.actions import do_close

    menu_flow(soporte, ventas)
    ana.chat_capacity = 1
    ana.save()
    incoming(connection, MARCELA, "buenas")
    first = incoming(connection, MARCELA, "1")
    incoming(connection, OTHER, "buenas")
    second = incoming(connection, OTHER, "1")
    assert first.assignee == ana and second.status == ConversationStatus.PENDING
    with TestCase.captureOnCommitCallbacks(execute=True):
        do_close(ana.user, first.pk, goodbye="¡Chau!")
    second.refresh_from_db()
    assert second.assignee == ana
    assert ("operator", "¡Chau!") in lines(first)


def test_away_operators_get_no_new_chats(connection, ana, juan):
    from ispdesk.conversations.presence import do_set_away

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert do_set_away(ana.user, True) == "away"
    chat = incoming(connection, MARCELA, "hola")
    assert chat.assignee == juan


def test_a_transfer_to_an_area_requeues_and_routes_there(connection, soporte, ventas, ana, sofia):
    from ispdesk.conversations.actions import do_transfer

    chat = incoming(connection, MARCELA, "hola")
    assert chat.assignee == ana
    go_online(sofia)
    with TestCase.captureOnCommitCallbacks(execute=True):
        do_transfer(ana.user, chat.pk, area_id=ventas.pk, note="Quiere cambiar de plan")
    chat.refresh_from_db()
    assert chat.area == ventas
    assert chat.assignee == sofia
    event = ConversationEvent.objects.filter(conversation=chat, kind=EventKind.TRANSFERRED).get()
    assert event.detail == "Quiere cambiar de plan"


def test_a_console_that_vanished_is_forgotten_and_its_operator_shown_offline(ana, juan):
    from ispdesk.conversations.presence import presence_of, prune_sessions
    from ispdesk.operators.models import ConsoleSession

    ConsoleSession.objects.filter(operator=ana).update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    assert presence_of([ana, juan]) == {ana.pk: "offline", juan.pk: "online"}
    with TestCase.captureOnCommitCallbacks() as callbacks:
        assert prune_sessions() == 1
    assert not ConsoleSession.objects.filter(operator=ana).exists()
    assert ConsoleSession.objects.filter(operator=juan).exists()
    assert len(callbacks) == 1  # one presence:update, for Ana only


@pytest.mark.django_db(transaction=True)
def test_a_hand_over_batch_drains_each_queue_once_for_all_its_chats(
    connection, soporte, ventas, ana, juan, sofia, monkeypatch, settings
):
    from ispdesk.conversations import queue
    from ispdesk.messaging.pending import hand_over_waiting
    from ispdesk.messaging.receiving import receive_events
    from ispdesk.messaging.tests.webhook_support import message_event

    settings.INBOUND_HANDLING = "background"
    menu_flow(soporte, ventas)
    drained = []
    real_drain = queue.drain

    def counting_drain(area_id, now=None, *, announce_ids=()):  # type: ignore[no-untyped-def]
        drained.append((area_id, sorted(announce_ids)))
        return real_drain(area_id, now, announce_ids=announce_ids)

    monkeypatch.setattr(queue, "drain", counting_drain)
    phones = ["+5493515550001", "+5493515550002", "+5493515550003"]
    events = [
        message_event(
            f"wamid.{n}.{step}", chat_id=phone[1:] + "@s.whatsapp.net", phone=phone, text=text
        )
        for step, text in enumerate(["hola", "1"])
        for n, phone in enumerate(phones)
    ]
    receive_events(connection, events)
    result = hand_over_waiting()  # commits: its drains run as the batch ends

    assert result.handed == 6
    chats = list(Conversation.objects.filter(contact__phone__in=phones))
    assert len(chats) == 3
    assert all(chat.area == soporte and chat.status == ConversationStatus.OPEN for chat in chats)
    # Ana and Juan share the three chats; Soporte's queue was drained once, not three times.
    assert sorted(chat.assignee.pk for chat in chats) in (
        sorted([ana.pk, juan.pk, ana.pk]),
        sorted([ana.pk, juan.pk, juan.pk]),
    )
    assert drained == [(soporte.pk, sorted(chat.pk for chat in chats))]


def test_a_chat_another_worker_opened_first_is_found_when_the_insert_clashes(
    connection, monkeypatch
):
    """Two first messages of one customer at once: the insert that loses on the live key
    rolls back its savepoint and the chat the other inserted is returned, locked."""
    from django.db import transaction

    from ispdesk.conversations import lifecycle

    first = incoming(connection, MARCELA, "hola")
    contact = first.contact
    real_lookup = lifecycle._read_live
    calls: list[str] = []

    def lookup_missing_the_first_time(key):  # type: ignore[no-untyped-def]
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(key)

    monkeypatch.setattr(lifecycle, "_read_live", lookup_missing_the_first_time)

    with transaction.atomic():
        found, created = lifecycle.live_conversation(
            contact, connection, first.chat_id, timezone.now()
        )
        # The transaction goes on after the clash: its savepoint was rolled back.
        assert Conversation.objects.filter(contact=contact).count() == 1

    assert (found.pk, created) == (first.pk, False)
    assert len(calls) == 2
