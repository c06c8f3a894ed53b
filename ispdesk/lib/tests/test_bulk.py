"""Rows collected in a block and written a table at a time (`lib.bulk`)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.conversations.models import Conversation, Message, Sender
from ispdesk.conversations.tests.conftest import make_contact, make_conversation
from ispdesk.lib.bulk import deferred_inserts, insert, insert_new, update_later
from ispdesk.messaging.models import GatewayConnection, InboundMessage, OutboundMessage
from ispdesk.messaging.tests.webhook_support import simulator_connection
from ispdesk.realtime import events
from ispdesk.realtime.events import later_pk, send_event_on_commit

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def outbound(conversation: Conversation, body: str) -> OutboundMessage:
    return OutboundMessage(
        connection=conversation.connection,
        to=conversation.chat_id,
        body=body,
        next_attempt_at=conversation.created_at,
    )


def line(conversation: Conversation, row: OutboundMessage) -> Message:
    return Message(
        conversation=conversation,
        sender=Sender.BOT,
        text=row.body,
        outbound=row,
        created_at=conversation.created_at,
    )


def inserts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split("(")[0].strip() for q in queries if q["sql"].startswith("INSERT")]


def test_outside_a_block_a_row_is_saved_at_once():
    conversation = make_conversation()

    row = insert(outbound(conversation, "hola"))

    assert row.pk is not None
    assert OutboundMessage.objects.filter(pk=row.pk, body="hola").exists()


def test_a_block_writes_each_table_once_parents_first_in_the_order_collected():
    conversation = make_conversation()
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), deferred_inserts():
        pairs = []
        for number in range(3):
            row = outbound(conversation, f"respuesta {number}")
            # The chat line is collected before the outbox row it points at.
            pairs.append((insert(line(conversation, row)), insert(row)))
        assert all(chat.pk is None and row.pk is None for chat, row in pairs)
        assert not Message.objects.exists()

    tables = inserts(queries)
    assert tables == [
        f"INSERT INTO {connection.ops.quote_name(OutboundMessage._meta.db_table)}",
        f"INSERT INTO {connection.ops.quote_name(Message._meta.db_table)}",
    ]
    stored = list(Message.objects.order_by("pk").values_list("text", "outbound__body"))
    assert stored == [(f"respuesta {n}", f"respuesta {n}") for n in range(3)]
    assert [chat.pk for chat, _row in pairs] == sorted(chat.pk for chat, _row in pairs)
    assert all(chat.outbound_id == row.pk for chat, row in pairs)


def test_a_block_that_raises_writes_nothing_and_leaves_no_rows_behind():
    conversation = make_conversation()
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(Boom),
        transaction.atomic(),
        deferred_inserts(),
    ):
        insert(outbound(conversation, "perdido"))
        raise Boom

    assert inserts(queries) == []
    assert not OutboundMessage.objects.exists()
    after = insert(outbound(conversation, "después"))  # no block open: saved at once
    assert after.pk is not None
    assert list(OutboundMessage.objects.values_list("body", flat=True)) == ["después"]


def test_a_nested_block_leaves_the_writing_to_the_outer_one():
    conversation = make_conversation()
    with transaction.atomic(), deferred_inserts():
        with deferred_inserts():
            row = insert(outbound(conversation, "adentro"))
        assert row.pk is None
    assert row.pk is not None


def test_an_event_names_a_deferred_row_by_its_id_once_committed(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
):
    conversation = make_conversation()
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(events, "publish_now", lambda groups, event: sent.append(event))
    with (
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
        deferred_inserts(),
    ):
        row = insert(outbound(conversation, "hola"))
        send_event_on_commit(["role.admin"], {"type": "test:row", "message": later_pk(row)})

    assert row.pk is not None
    assert sent == [{"type": "test:row", "message": row.pk}]


def inbound(connection: GatewayConnection, provider_id: str) -> InboundMessage:
    return InboundMessage(
        connection=connection,
        provider_id=provider_id,
        chat_id="5491123456789",
        text="hola",
        sent_at=timezone.now(),
    )


def test_insert_new_skips_rows_a_unique_constraint_holds_and_counts_the_rest():
    number = simulator_connection()
    InboundMessage.objects.create(
        connection=number, provider_id="wamid.2", chat_id="x", text="antes", sent_at=timezone.now()
    )
    # More rows than SQLite takes in one statement: several batches, one count.
    rows = [inbound(number, f"wamid.{n}") for n in range(1, 1201)]

    with CaptureQueriesContext(connection) as queries:
        stored = insert_new(rows)

    assert stored == 1199
    assert InboundMessage.objects.count() == 1200
    assert InboundMessage.objects.get(provider_id="wamid.2").text == "antes"
    assert all(query["sql"].startswith("INSERT") for query in queries)
    assert insert_new([inbound(number, "wamid.5"), inbound(number, "wamid.new")]) == 1
    # Each value as the ORM's insert stores it: `auto_now_add` filled, defaults, null.
    stored_row = InboundMessage.objects.get(provider_id="wamid.new")
    assert (stored_row.chat_id, stored_row.text, stored_row.message_type) == (
        "5491123456789",
        "hola",
        "text",
    )
    assert stored_row.received_at is not None
    assert stored_row.handed_over_at is None
    assert stored_row.connection_id == number.pk


def updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "WITH"))]


def test_update_later_outside_a_block_writes_the_row_at_once():
    conversation = make_conversation()
    conversation.unread_count = 4

    update_later(conversation, "unread_count")

    assert Conversation.objects.get(pk=conversation.pk).unread_count == 4


def test_a_block_writes_each_changed_row_once_with_the_values_it_holds_at_the_end():
    chats = [
        make_conversation(make_contact(f"Cliente {n}", f"+5493515500{n:03d}")) for n in range(3)
    ]
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), deferred_inserts():
        for count in (1, 2, 3):  # three messages of each chat
            for chat in chats:
                chat.unread_count = count
                chat.last_message_preview = f"mensaje {count}"
                update_later(chat)
        assert updates(queries) == []
        assert not Conversation.objects.filter(unread_count__gt=0).exists()

    # One statement for the three rows on PostgreSQL (`write_together`); one each elsewhere.
    assert len(updates(queries)) == (1 if connection.vendor == "postgresql" else 3)
    stored = Conversation.objects.filter(pk__in=[chat.pk for chat in chats])
    assert {(row.unread_count, row.last_message_preview) for row in stored} == {(3, "mensaje 3")}


def test_named_columns_add_up_and_an_unnamed_change_is_not_written():
    conversation = make_conversation(unread_count=1, last_message_preview="antes")
    with transaction.atomic(), deferred_inserts():
        conversation.unread_count = 5
        update_later(conversation, "unread_count")
        conversation.last_message_preview = "después"
        update_later(conversation, "last_message_preview")
        conversation.chat_id = "no-se-escribe"

    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.unread_count, stored.last_message_preview) == (5, "después")
    assert stored.chat_id != "no-se-escribe"


def test_a_change_of_every_column_takes_in_the_named_ones():
    conversation = make_conversation(unread_count=1)
    with transaction.atomic(), deferred_inserts():
        update_later(conversation, "unread_count")
        conversation.unread_count = 2
        conversation.chat_id = "5491100000000"
        update_later(conversation)
        update_later(conversation, "unread_count")  # still every column

    stored = Conversation.objects.get(pk=conversation.pk)
    assert (stored.unread_count, stored.chat_id) == (2, "5491100000000")


def test_a_block_that_raises_changes_no_row():
    conversation = make_conversation(unread_count=1)
    with pytest.raises(Boom), transaction.atomic(), deferred_inserts():
        conversation.unread_count = 9
        update_later(conversation)
        raise Boom

    assert Conversation.objects.get(pk=conversation.pk).unread_count == 1


def test_a_changed_row_that_is_gone_fails_the_block():
    conversation = make_conversation()
    Conversation.objects.filter(pk=conversation.pk).delete()
    with pytest.raises(Conversation.DoesNotExist), transaction.atomic(), deferred_inserts():
        update_later(conversation)


def test_more_rows_than_one_statement_takes_get_their_ids_in_the_order_collected():
    conversation = make_conversation()
    with transaction.atomic(), deferred_inserts():
        rows = [insert(outbound(conversation, f"respuesta {n}")) for n in range(700)]

    assert [row.pk for row in rows] == sorted({row.pk for row in rows})
    stored = dict(OutboundMessage.objects.values_list("pk", "body"))
    assert [stored[row.pk] for row in rows] == [f"respuesta {n}" for n in range(700)]
    assert not any(row._state.adding for row in rows)
