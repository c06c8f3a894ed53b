"""Hand-written SELECTs give what the ORM gives: the same values, converted the same way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.lib.rawsql import SelectRows, column, insert_row, update_row
from ispdesk.messaging.models import GatewayConnection, OutboundMessage


def attributes(instance: Model, model: type[Model]) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}


def test_rows_read_by_hand_equal_the_orms_field_by_field(db):
    gateway = GatewayConnection.objects.create(
        kind="simulator", name="Sim", config={"nested": {"a": [1, 2]}, "n": 3}, rate_per_second=1.5
    )
    message = OutboundMessage.objects.create(
        connection=gateway,
        to="+5491123456789",
        body="¡Hola, señor!",
        context={"conversation": 7, "groups": ["area.1"]},
        next_attempt_at=timezone.now() + timedelta(minutes=3),
    )
    by_hand = SelectRows.where(OutboundMessage, f"{column(OutboundMessage, 'to')} = %s")

    [found] = by_hand.instances(["+5491123456789"])
    [connection_found] = SelectRows.where(
        GatewayConnection, f"{column(GatewayConnection, 'id')} = %s"
    ).instances([gateway.pk])

    assert attributes(found, OutboundMessage) == attributes(
        OutboundMessage.objects.get(pk=message.pk), OutboundMessage
    )
    assert attributes(connection_found, GatewayConnection) == attributes(
        GatewayConnection.objects.get(pk=gateway.pk), GatewayConnection
    )
    assert found._state.adding is False and found._state.db == "default"
    assert by_hand.instances(["+5491100000000"]) == []


def test_a_locking_read_says_for_update_where_the_database_can(db):
    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim")
    locking = SelectRows.where(
        GatewayConnection, f"{column(GatewayConnection, 'id')} = %s", lock=True
    )

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        [found] = locking.instances([gateway.pk])

    assert found.pk == gateway.pk
    locked = "FOR UPDATE" in queries[-1]["sql"]
    assert locked == connection.features.has_select_for_update


def test_an_updated_row_reads_back_as_save_would_have_written_it(db):
    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim", config={"a": 1})
    before = gateway.updated_at
    gateway.config = {"nested": ["ñ", {"b": None}]}
    gateway.rate_per_second = None
    gateway.next_send_at = timezone.now() + timedelta(seconds=30)
    gateway.enabled = False

    update_row(gateway)

    again = GatewayConnection.objects.get(pk=gateway.pk)
    assert attributes(again, GatewayConnection) == attributes(gateway, GatewayConnection)
    assert again.config == {"nested": ["ñ", {"b": None}]} and again.enabled is False
    assert again.updated_at > before  # auto_now, as save() sets it


def test_updating_a_row_that_is_gone_says_so(db):
    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim")
    GatewayConnection.objects.filter(pk=gateway.pk).delete()

    with pytest.raises(GatewayConnection.DoesNotExist):
        update_row(gateway)


@pytest.mark.django_db(transaction=True)
def test_a_locking_read_outside_a_transaction_is_refused_where_rows_can_be_locked():
    from django.db.transaction import TransactionManagementError

    locking = SelectRows.where(
        GatewayConnection, f"{column(GatewayConnection, 'id')} = %s", lock=True
    )
    if not connection.features.has_select_for_update:
        assert locking.instances([1]) == []  # SQLite: as the ORM, no lock
        return
    with pytest.raises(TransactionManagementError):
        locking.instances([1])


def test_a_chat_updated_by_hand_reads_back_as_saved(db):
    from ispdesk.contacts.models import Contact
    from ispdesk.conversations.models import Conversation

    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim")
    contact = Contact.objects.create(name="Marcela", phone="+5491123456789")
    chat = Conversation.objects.create(
        contact=contact,
        connection=gateway,
        chat_id="5491123456789",
        created_at=timezone.now(),
        last_message_at=timezone.now(),
    )
    chat.unread_count = 3
    chat.flow_state = {"node": "menu", "vars": {"dni": "30111222"}}
    chat.last_inbound_at = timezone.now()

    update_row(chat)

    again = Conversation.objects.get(pk=chat.pk)
    assert attributes(again, Conversation) == attributes(chat, Conversation)


def test_updating_some_fields_leaves_the_others_as_stored(db):
    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim", config={"a": 1})
    GatewayConnection.objects.filter(pk=gateway.pk).update(name="Changed meanwhile")
    gateway.enabled = False
    gateway.config = {"b": 2}

    update_row(gateway, "enabled")

    again = GatewayConnection.objects.get(pk=gateway.pk)
    assert (again.enabled, again.name, again.config) == (False, "Changed meanwhile", {"a": 1})


def test_a_row_inserted_by_hand_reads_back_as_created_and_gets_its_id(db):
    from ispdesk.system.audit import audit_event

    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim")
    by_orm = audit_event(None, "x.done", gateway, after={"n": [1, "ñ"], "none": None})
    by_orm.save(force_insert=True)
    by_hand = audit_event(None, "x.done", gateway, after={"n": [1, "ñ"], "none": None})

    with CaptureQueriesContext(connection) as queries:
        insert_row(by_hand)

    assert len(queries) == 1 and by_hand.pk is not None and by_hand.pk != by_orm.pk
    assert not by_hand._state.adding
    stored = type(by_hand).objects.get(pk=by_hand.pk)
    assert attributes(stored, type(by_hand)) == attributes(by_hand, type(by_hand))
    ignored = {"id", "created_at"}
    assert {k: v for k, v in attributes(stored, type(stored)).items() if k not in ignored} == {
        k: v for k, v in attributes(by_orm, type(by_orm)).items() if k not in ignored
    }
    assert stored.created_at is not None  # auto_now_add, as save() sets it


def test_writes_sent_together_do_what_each_would_alone_in_one_round_trip_on_postgresql(db):
    from ispdesk.lib.rawsql import Insert, Update, write_together
    from ispdesk.system.audit import audit_event

    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim", config={"a": 1})
    other = GatewayConnection.objects.create(kind="simulator", name="Other")
    gateway.enabled, other.name = False, "Renamed"
    first = audit_event(None, "x.one", gateway, after={"n": 1})
    second = audit_event(None, "x.two", other, after={"n": 2})

    with CaptureQueriesContext(connection) as queries:
        write_together(Update(gateway, ("enabled",)), Insert(first), Update(other), Insert(second))

    assert len(queries) == (1 if connection.vendor == "postgresql" else 4)
    assert GatewayConnection.objects.get(pk=gateway.pk).enabled is False
    assert GatewayConnection.objects.get(pk=other.pk).name == "Renamed"
    assert first.pk is not None and second.pk is not None and first.pk != second.pk
    stored = type(first).objects.in_bulk([first.pk, second.pk])
    assert (stored[first.pk].action, stored[second.pk].after) == ("x.one", {"n": 2})


def test_writes_sent_together_say_when_a_row_to_update_is_gone_and_write_nothing(db):
    from django.db import transaction

    from ispdesk.lib.rawsql import Insert, Update, write_together
    from ispdesk.system.audit import audit_event

    gone = GatewayConnection.objects.create(kind="simulator", name="Gone")
    GatewayConnection.objects.filter(pk=gone.pk).delete()
    audit = audit_event(None, "x.lost", None, object_type="x", object_id="1")

    with pytest.raises(GatewayConnection.DoesNotExist), transaction.atomic():
        write_together(Insert(audit), Update(gone, ("name",)))

    assert not type(audit).objects.filter(action="x.lost").exists()


def test_selects_sent_together_give_what_each_gives_alone(db):
    from ispdesk.lib.rawsql import Select, rows_together

    gateway = GatewayConnection.objects.create(kind="simulator", name="Sim", config={"a": [1]})
    by_id = SelectRows.where(GatewayConnection, f"{column(GatewayConnection, 'id')} = %s")
    names = Select.of(f"SELECT {column(GatewayConnection, 'name')} FROM {table_of()}", None)  # noqa: S608 - names from model meta

    with CaptureQueriesContext(connection) as queries:
        rows, found_names = rows_together((by_id.select, [gateway.pk]), (names, []))

    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    assert rows == by_id.select.rows([gateway.pk]) and found_names == [("Sim",)]
    [again] = by_id.from_rows(rows)
    assert attributes(again, GatewayConnection) == attributes(gateway, GatewayConnection)


def table_of() -> str:
    from ispdesk.lib.rawsql import table

    return table(GatewayConnection)


def test_the_models_written_by_hand_have_no_save_of_their_own_nor_save_signals():
    """`update_row`, `insert_row` and `write_together` skip `save()` and its signals: a model
    written that way in production must have neither (add each new one here)."""
    from django.db.models.signals import post_save, pre_save

    from ispdesk.contacts.models import Contact
    from ispdesk.conversations.models import Conversation
    from ispdesk.operators.models import Operator
    from ispdesk.system.models import AuditEvent
    from ispdesk.tickets.models import Ticket, TicketEvent

    for model in (
        Contact,
        Conversation,
        OutboundMessage,
        Operator,
        Ticket,
        TicketEvent,
        AuditEvent,
    ):
        assert model.save is Model.save, model
        assert not pre_save.has_listeners(model), model
        assert not post_save.has_listeners(model), model
