"""The database counts each operator's open tickets (`tickets.loads`): whatever writes the
tickets, the counts equal what counting the tickets gives."""

from collections import Counter

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ispdesk.testing.workers import run_workers
from ispdesk.tickets import loads
from ispdesk.tickets.actions import (
    NewTicket,
    do_assign_ticket,
    do_assign_unassigned,
    do_close_ticket,
    do_create_ticket,
)
from ispdesk.tickets.models import OpenTicketCount, Source, Status, Ticket
from ispdesk.tickets.team import read_team


def kept() -> dict[int, int]:
    return dict(
        OpenTicketCount.objects.exclude(open_tickets=0).values_list("operator_id", "open_tickets")
    )


def counted() -> dict[int, int]:
    return dict(
        Counter(Ticket.objects.open().exclude(assignee=None).values_list("assignee_id", flat=True))
    )


STATUSES = st.sampled_from([Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.CLOSED])
WHO = st.one_of(st.none(), st.integers(0, 2))  # nobody, or one of three operators
WHICH = st.integers(0, 5)  # one of the tickets (modulo how many there are)
WRITES = st.one_of(
    st.tuples(st.just("create"), WHO, STATUSES),
    st.tuples(st.just("save"), WHICH, WHO, STATUSES),
    st.tuples(st.just("update one"), WHICH, WHO, STATUSES),
    st.tuples(st.just("update all"), WHO, STATUSES),
    st.tuples(st.just("status all"), STATUSES),
    st.tuples(st.just("delete"), WHICH),
    st.tuples(st.just("bulk create"), WHO, STATUSES),
)


def apply(write: tuple, operators: list, serial: list[int]) -> None:  # type: ignore[type-arg]
    kind, *args = write

    def who(index: int | None):  # type: ignore[no-untyped-def]
        return None if index is None else operators[index]

    tickets = list(Ticket.objects.order_by("pk"))
    if kind in ("create", "bulk create"):
        serial[0] += 1
        new = [
            Ticket(
                source=Source.CSV,
                external_id=f"t-{serial[0]}-{n}",
                subject="Corte",
                assignee=who(args[0]),
                status=args[1],
                created_at=timezone.now(),
            )
            for n in range(1 if kind == "create" else 3)
        ]
        if kind == "create":
            new[0].save()
        else:
            Ticket.objects.bulk_create(new)
    elif kind == "status all":
        Ticket.objects.update(status=args[0])
    elif kind == "update all":
        Ticket.objects.update(assignee=who(args[0]), status=args[1])
    elif tickets:
        ticket = tickets[args[0] % len(tickets)]
        if kind == "delete":
            ticket.delete()
        elif kind == "save":
            ticket.assignee, ticket.status = who(args[1]), args[2]
            ticket.save()
        else:
            Ticket.objects.filter(pk=ticket.pk).update(assignee=who(args[1]), status=args[2])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(writes=st.lists(WRITES, max_size=12))
def test_the_counts_follow_every_kind_of_write(team, writes) -> None:  # type: ignore[no-untyped-def]
    operators = [team["juan"], team["sofia"], team["pedro"]]
    serial = [0]
    with transaction.atomic():
        for write in writes:
            apply(write, operators, serial)
            assert kept() == counted(), write
        transaction.set_rollback(True)


def test_a_rolled_back_change_leaves_the_counts_as_they_were(team) -> None:  # type: ignore[no-untyped-def]
    ticket, _ = do_create_ticket(None, NewTicket(subject="Corte"), auto_assign=False)
    do_assign_ticket(None, ticket, team["juan"])
    before = kept()
    assert before == {team["juan"].pk: 1}

    with pytest.raises(RuntimeError), transaction.atomic():
        do_assign_ticket(None, ticket, team["sofia"])
        assert kept() == {team["sofia"].pk: 1}
        raise RuntimeError

    assert kept() == before


def test_recount_rebuilds_counts_written_wrong_by_hand(team) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        ticket, _ = do_create_ticket(None, NewTicket(subject=f"Corte {n}"), auto_assign=False)
        do_assign_ticket(None, ticket, team["sofia"])
    OpenTicketCount.objects.update(open_tickets=40)
    OpenTicketCount.objects.create(operator_id=team["pedro"].pk, open_tickets=7)

    loads.recount(connection)

    assert kept() == counted() == {team["sofia"].pk: 3}


def test_the_engine_reads_the_counts_the_database_keeps(team) -> None:  # type: ignore[no-untyped-def]
    for n in range(2):
        ticket, _ = do_create_ticket(None, NewTicket(subject=f"Corte {n}"), auto_assign=False)
        do_assign_ticket(None, ticket, team["juan"])
    closed, _ = do_create_ticket(None, NewTicket(subject="Cerrado"), auto_assign=False)
    do_assign_ticket(None, closed, team["sofia"])
    do_close_ticket(None, closed)

    facts = read_team(timezone.now()).candidates

    assert (facts[team["juan"].pk].open_tickets, facts[team["sofia"].pk].open_tickets) == (2, 0)
    assert facts[team["pedro"].pk].open_tickets == 0  # no row: none


def _work(barrier, role: str, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    try:
        barrier.wait(timeout=30)
        if role == "close":
            for pk in ids:
                do_close_ticket(None, Ticket.objects.get(pk=pk))
        else:
            do_assign_unassigned(None)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_tickets_closed_while_the_queue_is_assigned_are_counted_right(team) -> None:  # type: ignore[no-untyped-def]
    """Closing takes the ticket's row, then a count row; assigning takes the team, then a
    ticket, then a count row: run at once, neither deadlocks and every count is right."""
    juans = []
    for n in range(60):
        ticket, _ = do_create_ticket(None, NewTicket(subject=f"Juan {n}"), auto_assign=False)
        do_assign_ticket(None, ticket, team["juan"])
        juans.append(ticket.pk)
    Ticket.objects.bulk_create(
        Ticket(
            source=Source.CSV, external_id=f"q-{n}", subject=f"Cola {n}", created_at=timezone.now()
        )
        for n in range(200)
    )

    run_workers(_work, [("close", juans), ("assign", [])])

    assert Ticket.objects.unassigned().count() == 0
    assert Ticket.objects.filter(pk__in=juans, status=Status.CLOSED).count() == len(juans)
    assert kept() == counted()
    assert sum(kept().values()) == 200
