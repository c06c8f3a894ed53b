"""Splynx → here (against the fake Splynx, over real HTTP): closes, reopenings and hand
reassignments followed by `sync_status`; close and reopen pushed; Splynx-native tickets
imported once by `import_existing`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.splynx_sync import (
    close_in_splynx,
    import_existing,
    push_assignment,
    reopen_in_splynx,
    sync_status,
)
from ispdesk.pipeline.tests.splynx_sync_support import (
    TICKETS,
    enabled_splynx,
    english_fixture,  # noqa: F401 - autouse
    fake_splynx_fixture,  # noqa: F401 - the `fake_splynx` fixture
    make_operator,
    pushed_ticket,
    splynx_row,
)
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.splynx import FakeSplynx
from ispdesk.tickets.actions import NewTicket, do_close_ticket, do_create_ticket
from ispdesk.tickets.models import EventKind, Source, Status, Ticket


@pytest.fixture
def splynx(db: Any) -> ExternalSystem:
    return enabled_splynx(
        {"statuses": {"in_progress": 2, "waiting": 4}, "new_status_id": 1, "resolved_status_id": 3}
    )


def later() -> str:
    return (datetime.now() + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")


def test_a_ticket_closed_in_splynx_is_closed_here(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx, make_operator("ana2", person_id=1))
    splynx_row(fake_splynx, ticket).update(closed="1", status_id="3")

    counts = sync_status(client=fake_splynx.client())

    assert counts["checked"] == 1 and counts["closed"] == 1 and counts["errors"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.events.get(kind=EventKind.CLOSED).text == "Closed in Splynx."
    assert sync_status(client=fake_splynx.client())["closed"] == 0


def test_a_ticket_deleted_in_splynx_is_closed_here(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx)
    splynx_row(fake_splynx, ticket)["trash"] = "1"

    assert sync_status(client=fake_splynx.client())["closed"] == 1
    assert ticket.events.get(kind=EventKind.CLOSED).text == "Deleted in Splynx."


def test_it_reads_tickets_a_page_of_ids_at_a_time(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, django_assert_max_num_queries: Any
) -> None:
    for number in range(3):
        pushed_ticket(fake_splynx, external_id=f"50{number}", subject=f"Caso {number}")
    fake_splynx.add_ticket(subject="Not ours")
    before = len(fake_splynx.requests_to(TICKETS, "GET"))

    # Nothing changed: a fixed number of queries however many tickets are tracked.
    with django_assert_max_num_queries(4):
        counts = sync_status(client=fake_splynx.client())

    lists = fake_splynx.requests_to(TICKETS, "GET")[before:]
    assert len(lists) == 1
    assert lists[0].query["main_attributes[id][0]"] == "IN"
    assert counts["checked"] == 3


def test_a_reopening_in_splynx_after_our_close_reopens_here(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx, make_operator("ana2", person_id=1))
    do_close_ticket(None, ticket)
    assert close_in_splynx(ticket.pk, client=fake_splynx.client())
    assert splynx_row(fake_splynx, ticket)["closed"] == "1"
    splynx_row(fake_splynx, ticket).update(closed="0", status_id="1")

    counts = sync_status(client=fake_splynx.client())

    assert counts["reopened"] == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED
    assert ticket.events.get(kind=EventKind.REOPENED).text == "Reopened in Splynx."


def test_a_close_not_yet_pushed_is_not_mistaken_for_a_reopening(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx)
    do_close_ticket(None, ticket)

    counts = sync_status(client=fake_splynx.client())

    assert counts["reopened"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_close_and_reopen_in_splynx_are_idempotent(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx)
    client = fake_splynx.client()
    path = f"{TICKETS}/{ticket.splynx_ticket_id}"

    assert close_in_splynx(ticket.pk, client=client) and close_in_splynx(ticket.pk, client=client)
    assert splynx_row(fake_splynx, ticket)["status_id"] == "3"
    assert reopen_in_splynx(ticket.pk, client=client) and reopen_in_splynx(ticket.pk, client=client)

    assert splynx_row(fake_splynx, ticket)["closed"] == "0"
    assert splynx_row(fake_splynx, ticket)["status_id"] == "1"
    assert len(fake_splynx.requests_to(path, "PUT")) == 2
    texts = list(ticket.events.filter(kind=EventKind.SYNCED).values_list("text", flat=True))
    assert texts[1:] == ["Closed in Splynx.", "Reopened in Splynx."]


def test_a_close_that_fails_is_stored_in_words(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx)
    fake_splynx.fail_next("server_error", times=3, path=TICKETS)

    assert close_in_splynx(ticket.pk, client=fake_splynx.client()) is False

    ticket.refresh_from_db()
    assert ticket.splynx_error.startswith("Splynx failed.")


def test_a_hand_reassignment_in_splynx_is_recorded_followed_and_not_overwritten(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    ticket = pushed_ticket(fake_splynx, ana)
    splynx_row(fake_splynx, ticket)["assign_to"] = "2"
    client = fake_splynx.client()

    counts = sync_status(client=client)

    assert counts["reassigned"] == 1
    ticket.refresh_from_db()
    assert ticket.assignee == juan
    assert ticket.splynx_assigned_to == 2
    event = ticket.events.filter(kind=EventKind.REASSIGNED).get()
    assert event.text == "Reassigned in Splynx to Juan."
    assert (event.operator, event.previous_operator) == (juan, ana)
    assert AuditEvent.objects.filter(action="ticket.reassigned", object_id=str(ticket.pk)).exists()
    # Nothing is pushed back, now or on the next push or sync.
    assert push_assignment(ticket.pk, client=client) is False
    assert sync_status(client=client)["reassigned"] == 0
    assert splynx_row(fake_splynx, ticket)["assign_to"] == "2"
    assert fake_splynx.requests_to(f"{TICKETS}/{ticket.splynx_ticket_id}", "PUT") == []


def test_a_reassignment_to_an_unlinked_administrator_unassigns_here_with_a_note(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana = make_operator("ana2", person_id=1)
    fake_splynx.add_administrator(name="Pedro Técnico", login="pedro")  # id 3, unlinked
    ticket = pushed_ticket(fake_splynx, ana)
    splynx_row(fake_splynx, ticket)["assign_to"] = "3"

    assert sync_status(client=fake_splynx.client())["reassigned"] == 1

    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.status == Status.NEW
    text = ticket.events.get(kind=EventKind.REASSIGNED).text
    assert text.startswith("Reassigned in Splynx to Pedro Técnico.")
    assert "unassigned here" in text


def test_an_unassignment_in_splynx_unassigns_here(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx, make_operator("ana2", person_id=1))
    splynx_row(fake_splynx, ticket)["assign_to"] = "0"

    sync_status(client=fake_splynx.client())

    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert ticket.events.get(kind=EventKind.UNASSIGNED).text == "Unassigned in Splynx."


def test_a_status_set_in_splynx_after_our_sync_is_followed(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx, make_operator("ana2", person_id=1))
    splynx_row(fake_splynx, ticket).update(status_id="2", updated_at=later())

    counts = sync_status(client=fake_splynx.client())

    assert counts["status_changed"] == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


def test_an_old_splynx_status_does_not_undo_a_local_change(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx, make_operator("ana2", person_id=1))
    splynx_row(fake_splynx, ticket).update(status_id="4", updated_at="2020-01-01 00:00:00")

    assert sync_status(client=fake_splynx.client())["status_changed"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED


def test_a_splynx_outage_is_counted_not_raised(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    pushed_ticket(fake_splynx)
    fake_splynx.fail_next("server_error", times=3, path=TICKETS)

    assert sync_status(client=fake_splynx.client())["errors"] == 1


# import_existing ---------------------------------------------------------------------------


def test_it_imports_open_splynx_tickets_once_with_their_customer_and_assignee(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana = make_operator("ana2", person_id=1)
    customer = fake_splynx.add_customer(name="Carlos Díaz", login="cdiaz", status="blocked")
    native = fake_splynx.add_ticket(
        subject="Cambio de plan", customer_id=customer["id"], assign_to="1", priority="high"
    )
    fake_splynx.add_ticket(subject="Cerrado", closed="1")
    ours = pushed_ticket(fake_splynx)
    client = fake_splynx.client()

    first = import_existing(client=client)
    second = import_existing(client=client)

    assert first == {"seen": 2, "imported": 1, "assigned": 1, "errors": 0}
    assert second["imported"] == 0 and second["seen"] == 2
    imported = Ticket.objects.get(source=Source.SPLYNX)
    assert imported.external_id == native["id"]
    assert imported.splynx_ticket_id == int(native["id"])
    assert (imported.customer_name, imported.customer_login) == ("Carlos Díaz", "cdiaz")
    assert imported.customer_status == "blocked" and imported.priority == "high"
    assert imported.assignee == ana and imported.splynx_assigned_to == 1
    assert imported.events.get(kind=EventKind.ASSIGNED).text == "Assigned in Splynx to Ana2."
    assert Ticket.objects.filter(splynx_ticket_id=ours.splynx_ticket_id).count() == 1


def test_it_fetches_customers_in_one_call_for_many_tickets(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    for number in range(5):
        customer = fake_splynx.add_customer(name=f"Cliente {number}")
        fake_splynx.add_ticket(subject=f"Caso {number}", customer_id=customer["id"])

    assert import_existing(client=fake_splynx.client())["imported"] == 5

    assert len(fake_splynx.requests_to("admin/customers/customer", "GET")) == 1


def test_an_unassigned_splynx_ticket_goes_to_the_engine_and_back_to_splynx(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    make_operator("ana2", person_id=1)
    native = fake_splynx.add_ticket(subject="Sin señal")

    counts = import_existing(client=fake_splynx.client())

    assert counts["assigned"] == 1
    imported = Ticket.objects.get(source=Source.SPLYNX)
    assert imported.assignee is not None
    assert native["assign_to"] == "1"


def test_an_assignee_we_cannot_map_is_kept_and_not_second_guessed(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    make_operator("ana2", person_id=1)
    native = fake_splynx.add_ticket(subject="Sin señal", assign_to="2")

    assert import_existing(client=fake_splynx.client())["assigned"] == 0

    imported = Ticket.objects.get(source=Source.SPLYNX)
    assert imported.assignee is None and imported.splynx_assigned_to == 2
    assert "Juan Gómez" in imported.events.get(kind=EventKind.SYNCED).text
    assert native["assign_to"] == "2"


def test_our_own_create_in_flight_is_not_imported_as_a_stranger(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket, _created = do_create_ticket(
        None, NewTicket(subject="Sin servicio", source=Source.GESTIONREAL, external_id="9")
    )
    Ticket.objects.filter(pk=ticket.pk).update(splynx_create_started_at=timezone.now())
    fake_splynx.add_ticket(subject="Sin servicio")

    assert import_existing(client=fake_splynx.client())["imported"] == 0
    assert not Ticket.objects.filter(source=Source.SPLYNX).exists()
