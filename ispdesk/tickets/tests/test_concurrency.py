"""Two workers assigning the same 500 tickets at once: each gets exactly one assignee.

On PostgreSQL and MariaDB the workers are separate processes (forked, each with its own
connection); SQLite's in-memory test database cannot be shared across processes, so there
they are threads with their own connections.
"""

from collections import Counter

import pytest
from django.db import connections

from ispdesk.testing.workers import run_workers
from ispdesk.tickets.actions import do_assign_unassigned
from ispdesk.tickets.models import EventKind, Source, Status, Ticket, TicketEvent

TICKETS = 500


def _assign_all(barrier) -> None:  # type: ignore[no-untyped-def]
    try:
        barrier.wait(timeout=30)
        do_assign_unassigned(None)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_workers_assign_every_ticket_exactly_once_and_fairly(team):
    Ticket.objects.bulk_create(
        Ticket(
            source=Source.CSV,
            external_id=f"c-{n}",
            subject=f"Caso {n}",
            created_at=f"2026-11-25T10:{n % 60:02d}:00Z",
        )
        for n in range(TICKETS)
    )
    run_workers(_assign_all, [(), ()])

    assert Ticket.objects.filter(assignee__isnull=True).count() == 0
    assert Ticket.objects.exclude(status=Status.ASSIGNED).count() == 0
    assignments = Counter(
        TicketEvent.objects.filter(kind=EventKind.ASSIGNED).values_list("ticket_id", flat=True)
    )
    assert len(assignments) == TICKETS
    assert set(assignments.values()) == {1}
    loads = Counter(Ticket.objects.values_list("assignee__user__username", flat=True))
    # Pedro is off schedule all along; Juan and Sofía share the load evenly.
    assert set(loads) == {"juan", "sofia"}
    assert abs(loads["juan"] - loads["sofia"]) <= 1
    history = dict(
        TicketEvent.objects.filter(kind=EventKind.ASSIGNED).values_list("ticket_id", "operator_id")
    )
    assert history == dict(Ticket.objects.values_list("pk", "assignee_id"))


def _auto_assign_each(barrier, ids) -> None:  # type: ignore[no-untyped-def]
    from ispdesk.tickets.actions import do_auto_assign

    try:
        barrier.wait(timeout=30)
        for pk in ids:
            do_auto_assign(None, Ticket.objects.get(pk=pk))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_decisions_one_ticket_at_a_time_from_three_workers_even_out_uneven_loads(team):
    """Each decision reads the loads after it holds the team lock: three workers deciding at
    once never give on a load another decision has just changed. Juan starts with none and
    Sofía with eight, so a decision that read stale loads would overshoot Juan."""
    from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket

    for n in range(8):
        held, _ = do_create_ticket(None, NewTicket(subject=f"Viejo {n}"), auto_assign=False)
        do_assign_ticket(None, held, team["sofia"])
    Ticket.objects.bulk_create(
        Ticket(
            source=Source.CSV,
            external_id=f"d-{n}",
            subject=f"Caso {n}",
            created_at=f"2026-11-25T11:{n % 60:02d}:00Z",
        )
        for n in range(90)
    )
    ids = list(Ticket.objects.filter(assignee=None).order_by("pk").values_list("pk", flat=True))

    run_workers(_auto_assign_each, [(ids[0::3],), (ids[1::3],), (ids[2::3],)])

    loads = Counter(Ticket.objects.values_list("assignee__user__username", flat=True))
    assert set(loads) == {"juan", "sofia"}
    assert sum(loads.values()) == 98
    assert abs(loads["juan"] - loads["sofia"]) <= 1
    # In the order they committed (the team lock serialises them), every decision gave the
    # ticket to whoever had fewer open tickets at that moment (either, on a tie).
    load = {team["juan"].pk: 0, team["sofia"].pk: 8}
    given = TicketEvent.objects.filter(kind=EventKind.ASSIGNED, ticket_id__in=ids)
    for operator_id in given.order_by("pk").values_list("operator_id", flat=True):
        other = next(pk for pk in load if pk != operator_id)
        assert load[operator_id] <= load[other], load
        load[operator_id] += 1
