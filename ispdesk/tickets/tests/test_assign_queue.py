"""Assigning the queue in batches: the same decisions, rows, history, audit and real-time
events as one `do_auto_assign` per ticket in turn, in a number of queries that does not grow
with the queue inside a batch."""

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.operators.models import Operator, ShiftTag
from ispdesk.system.models import AuditEvent
from ispdesk.tickets import actions
from ispdesk.tickets.actions import do_assign_unassigned, do_auto_assign
from ispdesk.tickets.models import EventKind, Source, Status, Ticket, TicketEvent
from ispdesk.tickets.tests.conftest import make_operator

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def published(monkeypatch):
    """The real-time events the actions queue, in order."""
    sent: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(
        actions, "send_event_on_commit", lambda groups, event: sent.append((groups, event))
    )
    return sent


@pytest.fixture
def loaded(team):
    """Juan (the lowest id) has no open ticket, Sofía one and was given it long ago, Lucía
    (shift tag [TT] with Juan) two; Pedro is off schedule."""
    lucia = make_operator("lucia", "Lucía")
    sofia = team["sofia"]
    sofia.last_assigned_at = NOW - timedelta(days=3)
    sofia.save()
    for n, owner in enumerate([sofia, lucia, lucia]):
        queued(n, owner=owner, status=Status.ASSIGNED)
    ShiftTag.objects.create(tag="[TT]", name="Tarde").operators.set([team["juan"], lucia])
    return {**team, "lucia": lucia}


def queued(n: int, *, owner=None, status: str = Status.NEW, subject: str = "") -> Ticket:  # type: ignore[no-untyped-def]
    return Ticket.objects.create(
        source=Source.CSV,
        external_id=f"q-{n}",
        subject=subject or f"Caso {n}",
        assignee=owner,
        status=status,
        created_at=NOW - timedelta(hours=1) + timedelta(minutes=n),
    )


def waiting(count: int, subjects: tuple[str, ...] = ("Sin servicio", "[TT] Corte", "Lento")):
    return [queued(100 + n, subject=subjects[n % len(subjects)]) for n in range(count)]


def outcome(decisions, published):  # type: ignore[no-untyped-def]
    """Everything an assignment leaves behind, comparable across runs."""
    return {
        "decisions": [(pk, d.operator_id, d.rule, d.reason) for pk, d in decisions],
        "tickets": list(
            Ticket.objects.order_by("pk").values_list("pk", "assignee", "status", "assigned_at")
        ),
        "history": list(
            TicketEvent.objects.filter(kind=EventKind.ASSIGNED)
            .order_by("pk")
            .values_list(
                "ticket",
                "actor",
                "operator",
                "previous_operator",
                "from_status",
                "to_status",
                "text",
                "created_at",
            )
        ),
        "audit": list(
            AuditEvent.objects.filter(action="ticket.assigned")
            .order_by("pk")
            .values_list("actor", "actor_label", "object_type", "object_id", "object_repr")
        ),
        "audit_values": [
            (row.before, row.after)
            for row in AuditEvent.objects.filter(action="ticket.assigned").order_by("pk")
        ],
        "last_assigned": list(
            Operator.objects.order_by("pk").values_list("pk", "last_assigned_at")
        ),
        "published": list(published),
    }


def one_by_one(actor, now):  # type: ignore[no-untyped-def]
    """What the queue got before batches: one `do_auto_assign` per waiting ticket in turn,
    until one found nobody."""
    decided = []
    for ticket in Ticket.objects.unassigned().order_by("created_at", "pk"):
        decision = do_auto_assign(actor, ticket, now)
        decided.append((ticket.pk, decision))
        if decision.operator_id is None:
            break
    return decided


def both_ways(actor, now, published):  # type: ignore[no-untyped-def]
    with transaction.atomic():
        batched = outcome(do_assign_unassigned(actor, now), published)
        transaction.set_rollback(True)
    published.clear()
    return batched, outcome(one_by_one(actor, now), published)


@pytest.mark.parametrize("batch", [3, 100])
def test_batches_leave_exactly_what_one_decision_at_a_time_leaves(
    loaded, supervisor, published, monkeypatch, batch
):
    monkeypatch.setattr(actions, "ASSIGN_BATCH", batch)
    waiting(10)
    batched, single = both_ways(supervisor, NOW, published)
    assert batched == single
    chosen = [operator for _pk, operator, _rule, _reason in batched["decisions"]]
    assert len(chosen) == 10
    assert set(chosen) == {loaded["juan"].pk, loaded["sofia"].pk, loaded["lucia"].pk}
    assert len(batched["published"]) == len(batched["history"]) == len(batched["audit"]) == 10


def test_batches_decide_in_the_order_the_tickets_are_given_when_each_has_its_moment(
    loaded, published, monkeypatch
):
    # With no `now`, each ticket is given at its own moment, which breaks ties in turn:
    # after Juan, Sofía, Juan, the fourth goes to Sofía (given before Juan's second), not
    # to the lowest id.
    clock = (NOW + timedelta(milliseconds=n) for n in itertools.count())
    monkeypatch.setattr(timezone, "now", lambda: next(clock))
    monkeypatch.setattr(actions, "ASSIGN_BATCH", 4)
    loaded["lucia"].is_paused = True
    loaded["lucia"].save()
    waiting(6, ("Sin servicio",))
    batched, single = both_ways(None, None, published)
    assert batched["decisions"] == single["decisions"]
    juan, sofia = loaded["juan"].pk, loaded["sofia"].pk
    assert [operator for _pk, operator, _r, _t in batched["decisions"]] == [
        juan,
        sofia,
        juan,
        sofia,
        juan,
        sofia,
    ]


def test_with_nobody_available_it_reports_the_first_ticket_and_changes_nothing(loaded, published):
    Operator.objects.update(is_paused=True)
    first, *_rest = waiting(3)
    [(ticket_id, decision)] = do_assign_unassigned(None, NOW)
    assert (ticket_id, decision.operator_id) == (first.pk, None)
    assert Ticket.objects.unassigned().count() == 3
    assert not TicketEvent.objects.filter(kind=EventKind.ASSIGNED).exists()
    assert published == []


def test_a_batch_skips_tickets_closed_assigned_or_gone_since_they_were_listed(loaded, published):
    closed = queued(1000, status=Status.CLOSED)
    taken = queued(1001, owner=loaded["juan"], status=Status.ASSIGNED)
    fine = queued(1002)
    results = actions._assign_batch(None, [closed.pk, 10**9, taken.pk, fine.pk], NOW)
    assert [ticket_id for ticket_id, _decision in results] == [fine.pk]
    assert Ticket.objects.get(pk=taken.pk).assignee == loaded["juan"]
    assert Ticket.objects.get(pk=closed.pk).assignee is None


def test_a_batch_reads_the_same_number_of_queries_for_few_or_many_tickets(loaded, published):
    waiting(2)
    do_assign_unassigned(None, NOW)  # the settings cache
    waiting_now = [queued(500 + n) for n in range(3)]
    with CaptureQueriesContext(connection) as few:
        assert len(do_assign_unassigned(None, NOW)) == len(waiting_now)
    many = [queued(600 + n, subject="[TT] Corte" if n % 2 else "Lento") for n in range(30)]
    with CaptureQueriesContext(connection) as lots:
        assert len(do_assign_unassigned(None, NOW)) == len(many)
    assert len(lots) == len(few)


async def next_message(layer, channel):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_one_event_per_ticket_in_order_bundled_per_group(team):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("role.supervisor", channel)
    try:
        tickets = waiting(3)
        do_assign_unassigned(None, NOW)
        message = async_to_sync(next_message)(layer, channel)
    finally:
        async_to_sync(layer.group_discard)("role.supervisor", channel)
    assert message["type"] == "event.bundle"
    assert [(event["type"], event["ticket"]) for event in message["events"]] == [
        ("ticket:assigned", ticket.pk) for ticket in tickets
    ]
    assigned = dict(Ticket.objects.values_list("pk", "assignee"))
    assert [event["operator"] for event in message["events"]] == [
        assigned[ticket.pk] for ticket in tickets
    ]
