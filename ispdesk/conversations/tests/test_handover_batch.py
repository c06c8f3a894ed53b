"""A hand-over batch does the desk's work for many messages in a few queries per message:
contacts and their chats read once per batch, chat lines, outbox rows and history written
with one INSERT per table, each chat's row once at the end, events naming the rows by
their ids."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.contacts.models import Contact
from ispdesk.conversations.lifecycle import live_conversation, lock_live_conversations
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Message,
)
from ispdesk.conversations.tests.conftest import make_contact, make_conversation
from ispdesk.conversations.tests.test_lifecycle import menu_flow
from ispdesk.lib.memo import memo_scope
from ispdesk.lib.wakeups import connect_params
from ispdesk.messaging.models import GatewayConnection, OutboundMessage
from ispdesk.messaging.pending import hand_over_waiting
from ispdesk.messaging.receiving import receive_events
from ispdesk.messaging.tests.webhook_support import message_event
from ispdesk.realtime import events

# Committed batches, as in production: their queues drain once, after the commit.
pytestmark = pytest.mark.django_db(transaction=True)

_sequence = iter(range(1_000_000))


@pytest.fixture(autouse=True)
def background(settings: Any) -> None:
    settings.INBOUND_HANDLING = "background"


def phone(number: int) -> str:
    return f"+54935155{number:05d}"


def write(connection: GatewayConnection, texts: list[tuple[int, str]]) -> None:
    """Customers (by number) write, as one webhook delivery each."""
    for number, text in texts:
        receive_events(
            connection,
            [
                message_event(
                    f"wamid.batch.{next(_sequence)}",
                    chat_id=f"{phone(number)[1:]}@s.whatsapp.net",
                    phone=phone(number),
                    name=f"Cliente {number}",
                    text=text,
                )
            ],
        )


def hand_over_counting() -> int:
    """Hand everything waiting over in one batch; the number of queries it took."""
    with CaptureQueriesContext(db_connection) as queries:
        result = hand_over_waiting(batch_size=500)
    assert not result.full
    return len(queries)


def test_known_customers_cost_a_few_queries_each_whatever_the_batch_size(
    connection, soporte, ventas
):
    menu_flow(soporte, ventas)
    write(connection, [(n, "hola") for n in range(30)])
    hand_over_counting()  # contacts and chats now exist, each waiting at the menu

    write(connection, [(n, "1") for n in range(5)])
    small = hand_over_counting()
    write(connection, [(n, "1") for n in range(5, 30)])
    large = hand_over_counting()

    # The batch's chats are locked and read in one query, and its contacts, chat lines,
    # outbox rows and history events cost it one each. Each chat's row, and its queue
    # position told by the drain, are written at the end: on PostgreSQL in one statement
    # for them all, elsewhere one each.
    per_message = (large - small) / 25
    if db_connection.vendor == "postgresql":
        assert large <= small, f"{small} queries for 5 answers, {large} for 25"
    else:
        assert per_message <= 2, f"{per_message:.1f} queries per message"
    assert Message.objects.filter(text="Te paso con Soporte.").count() == 30
    assert OutboundMessage.objects.filter(body="Te paso con Soporte.").count() == 30


def test_new_customers_each_get_one_contact_and_one_chat_with_its_history(
    connection, soporte, ventas
):
    menu_flow(soporte, ventas)
    make_contact("Cliente conocido", phone(1))
    # Two messages of each customer in one batch: the second finds the contact and chat
    # the first created in that batch.
    write(connection, [(n, text) for text in ("hola", "1") for n in range(1, 4)])

    hand_over_counting()

    assert Contact.objects.filter(phone__in=[phone(n) for n in range(1, 4)]).count() == 3
    chats = Conversation.objects.filter(contact__phone__in=[phone(n) for n in range(1, 4)])
    assert chats.count() == 3
    for chat in chats:
        lines = list(chat.messages.order_by("pk").values_list("sender", "text"))
        assert lines[:4] == [
            ("customer", "hola"),
            ("bot", "¡Hola! Elegí una opción:\n1. Soporte técnico\n2. Ventas\n3. Nada más"),
            ("customer", "1"),
            ("bot", "Te paso con Soporte."),
        ]
        bot_lines = chat.messages.filter(sender="bot")
        assert all(line.outbound is not None for line in bot_lines)
        kinds = list(chat.events.order_by("pk").values_list("kind", flat=True))
        assert kinds[0] == EventKind.CREATED
        assert EventKind.HANDOFF in kinds
    known = Conversation.objects.get(contact__phone=phone(1))
    assert not known.events.filter(kind=EventKind.CONTACT_CREATED).exists()
    assert ConversationEvent.objects.filter(kind=EventKind.CONTACT_CREATED).count() == 2


def test_the_batchs_events_name_the_chat_lines_it_wrote(connection, soporte, ventas, monkeypatch):
    menu_flow(soporte, ventas)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(events, "publish_now", lambda groups, event: sent.append(event))
    write(connection, [(n, "hola") for n in range(3)])

    hand_over_counting()

    named = {
        event["message"]
        for event in sent
        if event["type"] == "message:new" and "conversation" in event
    }
    assert named == set(Message.objects.values_list("pk", flat=True))
    statuses = {event["message"] for event in sent if event["type"] == "message:status"}
    assert statuses == set(OutboundMessage.objects.values_list("pk", flat=True))
    assert all(isinstance(value, int) for value in named | statuses)
    # Three new customers: each reaches the screens with their chat, not with a contact
    # event to every staff member besides.
    incoming = [event["conversation"] for event in sent if event["type"] == "conversation:incoming"]
    assert sorted(incoming) == sorted(Conversation.objects.values_list("pk", flat=True))
    assert not [event for event in sent if event["type"] == "contact:update"]


def test_new_customers_cost_no_savepoints_and_a_clash_is_caught_by_the_redo(
    connection, soporte, ventas, monkeypatch, caplog
):
    from ispdesk.contacts import actions

    menu_flow(soporte, ventas)
    write(connection, [(n, "hola") for n in range(1, 4)])
    with CaptureQueriesContext(db_connection) as queries:
        hand_over_counting()
    assert not [q for q in queries if "SAVEPOINT" in q["sql"].upper()]

    # Another transaction creates customer 9's contact between our lookup and our insert.
    make_contact("Cargado por un operador", phone(9))
    real_find = actions._find_for_whatsapp
    missed: list[str | None] = []

    def late_find(phone_number: str | None, lid: str | None) -> Contact | None:
        if phone_number == phone(9) and not missed:
            missed.append(phone_number)
            return None
        return real_find(phone_number, lid)

    monkeypatch.setattr(actions, "_find_for_whatsapp", late_find)
    write(connection, [(9, "hola"), (4, "hola")])

    hand_over_counting()

    assert missed == [phone(9)]
    assert Contact.objects.filter(phone=phone(9)).count() == 1
    chat = Conversation.objects.get(contact__phone=phone(9))
    assert chat.contact.name == "Cargado por un operador"
    assert chat.messages.filter(sender="customer", text="hola").exists()
    assert Conversation.objects.filter(contact__phone=phone(4)).exists()
    assert "inbound handler failed" not in caplog.text


def test_a_message_that_fails_after_creating_its_contact_leaves_no_trace_for_the_next(
    connection, soporte, ventas, monkeypatch, caplog
):
    from ispdesk.conversations import inbound as desk_inbound

    menu_flow(soporte, ventas)
    real_handle = desk_inbound.handle_inbound
    real_live_conversation = desk_inbound.live_conversation
    failing: list[str] = []

    def handle(message):  # type: ignore[no-untyped-def]
        failing[:] = [message.text]
        real_handle(message)

    def live_conversation(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failing == ["hola"]:  # after the contact was found or created
            raise ValueError("a handler bug on this one message")
        return real_live_conversation(*args, **kwargs)

    monkeypatch.setattr(desk_inbound, "handle_inbound", handle)
    monkeypatch.setattr(desk_inbound, "live_conversation", live_conversation)
    # One new customer, two messages, one batch: the first fails, every time, after its
    # contact was created in its savepoint, and is rolled back with it.
    write(connection, [(7, "hola"), (7, "1")])

    hand_over_counting()

    assert "inbound handler failed" in caplog.text
    [contact] = Contact.objects.filter(phone=phone(7))
    chat = Conversation.objects.get(contact=contact)
    assert list(chat.messages.filter(sender="customer").values_list("text", flat=True)) == ["1"]


def test_a_chat_the_bot_closes_midway_through_a_batch_is_followed_by_a_new_one(
    connection, soporte, ventas
):
    menu_flow(soporte, ventas)
    write(connection, [(1, "hola")])
    hand_over_counting()
    # One batch: "3" ends the chat (the bot's goodbye), the next message opens another.
    write(connection, [(1, "3"), (1, "hola"), (2, "hola"), (2, "3"), (2, "otra vez")])

    hand_over_counting()

    for number, closed_lines, live_lines in (
        (1, ["hola", "3"], ["hola"]),
        (2, ["hola", "3"], ["otra vez"]),
    ):
        closed, live = Conversation.objects.filter(contact__phone=phone(number)).order_by("pk")
        assert (closed.status, closed.live_key) == (ConversationStatus.CLOSED, None)
        assert live.status == ConversationStatus.BOT
        assert live.live_key == f"{live.contact_id}:{connection.pk}"
        for chat, texts in ((closed, closed_lines), (live, live_lines)):
            customer = chat.messages.filter(sender="customer").order_by("pk")
            assert list(customer.values_list("text", flat=True)) == texts
        assert closed.messages.filter(sender="bot", text="¡Gracias por escribir!").exists()


def test_a_batch_reads_its_known_chats_in_one_query_and_new_ones_are_only_inserted(
    connection, soporte, ventas
):
    known = [make_contact(f"Cliente {n}", phone(n)) for n in range(3)]
    chats = [make_conversation(contact, connection=connection) for contact in known[:2]]
    now = timezone.now()
    with transaction.atomic(), memo_scope():
        with CaptureQueriesContext(db_connection) as batch_read:
            lock_live_conversations((contact.pk, connection.pk) for contact in known)
        with CaptureQueriesContext(db_connection) as per_message:
            found = [
                live_conversation(contact, connection, f"chat-{contact.pk}", now)
                for contact in known
            ]

    assert len(batch_read) == 1
    assert [(chat.pk, created) for chat, created in found[:2]] == [(c.pk, False) for c in chats]
    new_chat, created = found[2]
    assert created
    assert Conversation.objects.get(pk=new_chat.pk).contact_id == known[2].pk
    # The third contact had no live chat: it was inserted without being looked for (in a
    # savepoint of its own, outside a batch's redo-on-error block).
    statements = [query["sql"].split()[0] for query in per_message]
    assert [word for word in statements if word in ("SELECT", "INSERT", "UPDATE")] == ["INSERT"]


class TestBatchLocks:
    __test__ = db_connection.vendor == "postgresql"

    def test_the_chats_a_batch_read_stay_locked_until_it_ends(self, connection):
        import psycopg  # the postgres extra

        chats = [
            make_conversation(make_contact(f"Cliente {n}", phone(n)), connection=connection)
            for n in range(2)
        ]
        other = psycopg.connect(**connect_params(db_connection))
        lock_sql = "SELECT id FROM conversations_conversation WHERE id = %s FOR UPDATE NOWAIT"
        try:
            with transaction.atomic(), memo_scope():
                lock_live_conversations((chat.contact_id, connection.pk) for chat in chats)
                for chat in chats:
                    with pytest.raises(psycopg.errors.LockNotAvailable), other.transaction():
                        other.execute(lock_sql, [chat.pk])
            with other.transaction():
                assert other.execute(lock_sql, [chats[0].pk]).fetchall() == [(chats[0].pk,)]
        finally:
            other.close()
