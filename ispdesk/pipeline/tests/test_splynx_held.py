"""A hand assignment in Splynx to an administrator with no operator here holds the ticket
(against the fake Splynx, over real HTTP): neither the engine nor a push takes it back; a
person here, Splynx itself, or linking an operator to that administrator ends the hold."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from ispdesk.operators.models import Operator
from ispdesk.pipeline.flow import create_in_splynx, push_assignments
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.splynx_follow import sync_status
from ispdesk.pipeline.splynx_sync import import_existing, push_assignment, push_ticket
from ispdesk.pipeline.splynx_sync import sync_status as sync_status_reexported
from ispdesk.pipeline.tests.splynx_sync_support import (
    TICKETS,
    enabled_splynx,
    english_fixture,  # noqa: F401 - autouse
    fake_splynx_fixture,  # noqa: F401 - the `fake_splynx` fixture
    make_operator,
)
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.splynx import FakeSplynx
from ispdesk.tickets.actions import (
    NewTicket,
    do_assign_ticket,
    do_assign_unassigned,
    do_auto_assign,
    do_create_ticket,
)
from ispdesk.tickets.assignment import Rule
from ispdesk.tickets.models import EventKind, Source, Status, Ticket

PEDRO = 3  # the fake Splynx's third administrator, linked to nobody here


@pytest.fixture
def splynx(db: Any, fake_splynx: FakeSplynx) -> ExternalSystem:
    fake_splynx.add_administrator(name="Pedro Técnico", login="pedro")
    return enabled_splynx({"statuses": {}, "new_status_id": 1, "resolved_status_id": 3})


@pytest.fixture
def ana(db: Any) -> Operator:
    return make_operator("ana2", person_id=1)


def held_ticket(fake: FakeSplynx, owner: Operator, admin: int = PEDRO) -> Ticket:
    """A ticket pushed to Splynx with `owner`, then given there by hand to `admin`."""
    ticket, _created = do_create_ticket(
        None,
        NewTicket(subject="Sin servicio", source=Source.GESTIONREAL, external_id="5001"),
        auto_assign=False,
    )
    do_assign_ticket(None, ticket, owner)
    push_ticket(ticket.pk, client=fake.client())
    ticket.refresh_from_db()
    assert ticket.splynx_ticket_id
    fake.tickets[ticket.splynx_ticket_id]["assign_to"] = str(admin)
    assert sync_status(client=fake.client())["reassigned"] == 1
    ticket.refresh_from_db()
    return ticket


def assign_to_in_splynx(fake: FakeSplynx, ticket: Ticket) -> str:
    return fake.tickets[ticket.splynx_ticket_id or 0]["assign_to"]


def puts_to(fake: FakeSplynx, ticket: Ticket) -> int:
    return len(fake.requests_to(f"{TICKETS}/{ticket.splynx_ticket_id}", "PUT"))


def test_a_hand_assignment_to_an_unlinked_administrator_sticks(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    ticket = held_ticket(fake_splynx, ana)
    client = fake_splynx.client()
    puts = puts_to(fake_splynx, ticket)

    assert (ticket.assignee, ticket.status) == (None, Status.NEW)
    assert (ticket.splynx_held, ticket.splynx_assigned_to) == (True, PEDRO)
    assert ticket.splynx_holder == "Pedro Técnico"
    event = ticket.events.get(kind=EventKind.REASSIGNED)
    assert event.text.startswith("Reassigned in Splynx to Pedro Técnico.")
    assert (event.operator, event.previous_operator) == (None, ana)

    # The engine, the flow's pushes and the next sync all leave it with Pedro.
    assert do_assign_unassigned(None) == []
    assert push_assignments(client) == 0
    assert push_assignment(ticket.pk, client=client) is False
    assert create_in_splynx(ticket.created_at, splynx=client)["assigned"] == 0
    assert sync_status(client=client)["reassigned"] == 0

    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.splynx_held) == (None, True)
    assert assign_to_in_splynx(fake_splynx, ticket) == str(PEDRO)
    assert puts_to(fake_splynx, ticket) == puts
    assert not Ticket.objects.unassigned().filter(pk=ticket.pk).exists()


def test_the_engine_says_why_it_leaves_a_held_ticket_alone(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    ticket = held_ticket(fake_splynx, ana)

    decision = do_auto_assign(None, ticket)

    assert (decision.operator_id, decision.rule) == (None, Rule.NONE)
    assert decision.reason == "Held in Splynx by Pedro Técnico: ispdesk does not assign it."
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.splynx_held


def test_a_person_assigning_it_here_wins_and_is_pushed_to_splynx(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, supervisor: Any
) -> None:
    juan = make_operator("juan", person_id=2)
    ticket = held_ticket(fake_splynx, ana)
    client = fake_splynx.client()

    do_assign_ticket(supervisor, ticket, juan)

    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.splynx_held, ticket.splynx_holder) == (juan, False, "")
    audit = AuditEvent.objects.filter(action="ticket.assigned", object_id=str(ticket.pk)).latest(
        "pk"
    )
    assert audit is not None and audit.after is not None
    assert audit.after["released_splynx_hold"] is True
    assert push_assignments(client) == 1
    assert assign_to_in_splynx(fake_splynx, ticket) == "2"
    # What Splynx has now is ours: nothing to follow back.
    assert sync_status(client=client)["reassigned"] == 0
    ticket.refresh_from_db()
    assert ticket.assignee == juan


def test_a_person_asking_the_engine_for_this_ticket_releases_it(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, supervisor: Any
) -> None:
    ticket = held_ticket(fake_splynx, ana)

    decision = do_auto_assign(supervisor, ticket)

    assert decision.operator_id == ana.pk
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.splynx_held) == (ana, False)
    assert push_assignments(fake_splynx.client()) == 1
    assert assign_to_in_splynx(fake_splynx, ticket) == "1"


def test_a_person_asking_the_engine_with_nobody_available_keeps_the_hold(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, supervisor: Any
) -> None:
    ticket = held_ticket(fake_splynx, ana)
    Operator.objects.update(is_paused=True)

    decision = do_auto_assign(supervisor, ticket)

    assert decision.operator_id is None
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.splynx_held) == (None, True)


@pytest.mark.parametrize(("admin", "owner"), [("2", "juan"), ("0", None)])
def test_splynx_giving_it_to_a_linked_administrator_or_to_nobody_ends_the_hold(
    splynx: ExternalSystem,
    fake_splynx: FakeSplynx,
    ana: Operator,
    admin: str,
    owner: str | None,
) -> None:
    juan = make_operator("juan", person_id=2)
    ticket = held_ticket(fake_splynx, ana)
    fake_splynx.tickets[ticket.splynx_ticket_id or 0]["assign_to"] = admin

    assert sync_status(client=fake_splynx.client())["reassigned"] == 1

    ticket.refresh_from_db()
    assert ticket.splynx_held is False and ticket.splynx_assigned_name == ""
    assert ticket.assignee == (juan if owner else None)
    if owner is None:
        # Back in the queue: the engine gives it to someone and Splynx hears of it.
        assert Ticket.objects.unassigned().filter(pk=ticket.pk).exists()
        [(ticket_id, decision)] = do_assign_unassigned(None)
        assert ticket_id == ticket.pk and decision.operator_id is not None
        push_assignments(fake_splynx.client())
        ticket.refresh_from_db()
        assert ticket.assignee is not None
        assert assign_to_in_splynx(fake_splynx, ticket) == str(ticket.assignee.person_id)


def test_a_hand_assignment_from_one_unlinked_administrator_to_another_stays_held(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    fake_splynx.add_administrator(name="Rosa Redes", login="rosa")  # id 4, unlinked too
    ticket = held_ticket(fake_splynx, ana)
    fake_splynx.tickets[ticket.splynx_ticket_id or 0]["assign_to"] = "4"

    assert sync_status(client=fake_splynx.client())["reassigned"] == 1

    ticket.refresh_from_db()
    assert (ticket.splynx_held, ticket.splynx_assigned_to, ticket.splynx_holder) == (
        True,
        4,
        "Rosa Redes",
    )
    assert do_assign_unassigned(None) == []


def test_linking_an_operator_to_the_holding_administrator_gives_them_the_ticket(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    ticket = held_ticket(fake_splynx, ana)
    puts = puts_to(fake_splynx, ticket)
    # Splynx shows no change: the next sync must still notice the new link.
    pedro = make_operator("pedro", person_id=PEDRO)

    counts = sync_status_reexported(client=fake_splynx.client())

    assert counts["reassigned"] == 1
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.splynx_held, ticket.status) == (pedro, False, Status.ASSIGNED)
    event = ticket.events.filter(kind=EventKind.ASSIGNED).last()
    assert event is not None and event.operator == pedro
    assert event.text == (
        "Assigned to Pedro, now linked to the Splynx administrator who has the ticket."
    )
    assert sync_status(client=fake_splynx.client())["reassigned"] == 0
    assert push_assignments(fake_splynx.client()) == 0
    assert puts_to(fake_splynx, ticket) == puts


def test_an_imported_ticket_held_by_an_unlinked_administrator_is_not_given_away(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    native = fake_splynx.add_ticket(subject="Cambio de plan", assign_to=str(PEDRO))

    assert import_existing(client=fake_splynx.client())["imported"] == 1

    imported = Ticket.objects.get(source=Source.SPLYNX)
    assert (imported.assignee, imported.splynx_held) == (None, True)
    assert imported.splynx_holder == "Pedro Técnico"
    assert do_assign_unassigned(None) == []
    assert push_assignments(fake_splynx.client()) == 0
    assert native["assign_to"] == str(PEDRO)


def test_a_held_ticket_cannot_also_have_an_assignee(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    ticket = held_ticket(fake_splynx, ana)

    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(assignee=ana)


def test_an_administrator_splynx_cannot_name_is_shown_by_id(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    ticket = held_ticket(fake_splynx, ana, admin=77)

    assert ticket.splynx_held and ticket.splynx_holder == "#77"
    assert "administrator 77" in ticket.events.get(kind=EventKind.REASSIGNED).text
