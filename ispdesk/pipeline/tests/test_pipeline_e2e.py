"""End to end, over real HTTP: cases appear in Gestión Real → tickets exist once here and
once in Splynx, each assigned by the rules with `assign_to` set there, each operator told
once through the simulator; a re-run changes nothing; a case closed at the source closes
everywhere; a ticket closed in Splynx while its case is open is reopened everywhere."""

from __future__ import annotations

from django.utils import timezone

from ispdesk.messaging.models import OutboundMessage
from ispdesk.pipeline.flow import close_sync, run_ticket_flow
from ispdesk.pipeline.splynx_sync import sync_status
from ispdesk.pipeline.tests.flow_support import (
    ANA_PHONE,
    JUAN_PHONE,
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    messages_to,
)
from ispdesk.tickets.models import EventKind, Source, Status, Ticket


def test_cases_become_tickets_here_and_in_splynx_once_assigned_and_announced_once(
    desk: Desk,
) -> None:
    for login, subject in (("10457", "Sin servicio"), ("10458", "Lento"), ("10459", "Corte")):
        desk.caso(login, subject)

    counts = run_ticket_flow(timezone.now())

    assert counts == {
        "fetched": 3,
        "created": 3,
        "skipped": 0,
        "closed": 0,
        "reopened": 0,
        "errors": 0,
        "pushed": 3,
        "assigned": 3,
        "notified": 3,
    }
    tickets = list(Ticket.objects.filter(source=Source.GESTIONREAL).order_by("pk"))
    assert [ticket.subject for ticket in tickets] == ["Sin servicio", "Lento", "Corte"]
    assert len(desk.splynx.tickets) == 3
    # The engine spread them by open load: two and one, never three to one person.
    owners = sorted(ticket.assignee.user.first_name for ticket in tickets)  # type: ignore[union-attr]
    assert owners in (["Ana", "Ana", "Juan"], ["Ana", "Juan", "Juan"])
    for ticket in tickets:
        remote = desk.splynx_ticket(ticket)
        assert ticket.assignee is not None
        assert remote["assign_to"] == str(ticket.assignee.person_id)
        assert remote["customer_id"] == str(ticket.customer_splynx_id)
        assert remote["subject"] == ticket.subject
        assert ticket.status == Status.ASSIGNED
        assert ticket.source_state == "Abierto"
    # Each operator got one WhatsApp message per ticket given to them, naming it.
    for operator, phone in ((desk.ana, ANA_PHONE), (desk.juan, JUAN_PHONE)):
        theirs = [ticket for ticket in tickets if ticket.assignee == operator]
        sent = messages_to(phone)
        assert len(sent) == len(theirs)
        for message, ticket in zip(sent, theirs, strict=True):
            assert f"#{ticket.pk}: {ticket.subject}" in message.body
            assert message.connection.kind == "simulator"

    creates, messages = desk.creates(), OutboundMessage.objects.count()
    puts = len(desk.splynx.requests_to("admin/support/tickets", "PUT"))
    again = run_ticket_flow(timezone.now())

    assert again == {
        "fetched": 3,
        "created": 0,
        "skipped": 0,
        "closed": 0,
        "reopened": 0,
        "errors": 0,
        "pushed": 0,
        "assigned": 0,
        "notified": 0,
    }
    assert Ticket.objects.count() == 3
    assert (desk.creates(), len(desk.splynx.tickets)) == (creates, 3)
    assert len(desk.splynx.requests_to("admin/support/tickets", "PUT")) == puts
    assert OutboundMessage.objects.count() == messages


def test_a_case_closed_at_the_source_closes_here_and_in_splynx(desk: Desk) -> None:
    closing = desk.caso("10457", "Sin servicio")
    desk.caso("10458", "Lento")
    run_ticket_flow(timezone.now())
    first, second = Ticket.objects.order_by("pk")

    closing["estado"] = "Cerrado"
    counts = close_sync(timezone.now())

    assert (counts["checked"], counts["closed"], counts["reopened"], counts["errors"]) == (
        2,
        1,
        0,
        0,
    )
    first.refresh_from_db()
    assert (first.status, first.source_state) == (Status.CLOSED, "Cerrado")
    assert first.source_closed_at is not None
    assert desk.splynx_ticket(first)["closed"] == "1"
    assert desk.splynx_ticket(first)["status_id"] == "3"
    second.refresh_from_db()
    assert second.status == Status.ASSIGNED
    assert desk.splynx_ticket(second)["closed"] == "0"

    # Nothing more to do: a second pass closes nothing twice.
    assert close_sync(timezone.now())["closed"] == 0
    assert first.events.filter(kind=EventKind.CLOSED).count() == 1


def test_a_ticket_closed_in_splynx_while_its_case_is_open_is_reopened_everywhere(
    desk: Desk,
) -> None:
    desk.caso("10457", "Sin servicio")
    run_ticket_flow(timezone.now())
    ticket = Ticket.objects.get()
    desk.splynx.tickets[ticket.splynx_ticket_id or 0].update(closed="1", status_id="3")
    sync_status(now=timezone.now())
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED

    counts = close_sync(timezone.now())

    assert (counts["reopened"], counts["closed"]) == (1, 0)
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED
    assert desk.splynx_ticket(ticket)["closed"] == "0"
    reopened = ticket.events.get(kind=EventKind.REOPENED)
    assert reopened.actor is None
    assert "Gestión Real" in reopened.text
