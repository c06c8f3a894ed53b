"""The assignment notice links the ticket: with the `public_url` setting an address a phone
can open, without it the path as before (a job has no request to take an address from)."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from ispdesk.messaging.models import GatewayConnection, OutboundStatus
from ispdesk.messaging.sender import send_due_messages
from ispdesk.messaging.simulator import history
from ispdesk.pipeline.flow import send_assignment_notices
from ispdesk.pipeline.tests.flow_support import (
    ANA_PHONE,
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    messages_to,
)
from ispdesk.system.actions import do_set_config
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import Source, Ticket


def assigned_to_ana(desk: Desk) -> Ticket:
    ticket, _created = do_create_ticket(
        None, NewTicket(subject="Sin servicio", source=Source.MANUAL), auto_assign=False
    )
    do_assign_ticket(None, ticket, desk.ana)
    return ticket


def delivered_text(phone: str) -> str:
    """The one message the simulator received for `phone`, sent by the outbox sender."""
    assert send_due_messages("test-worker").outcomes["sent"] == 1
    connection = GatewayConnection.objects.get(kind="simulator")
    [line] = [line for line in history(connection, phone) if not line.mine]
    assert line.status == OutboundStatus.SENT
    return line.text


def test_the_notice_links_the_ticket_at_the_public_address(desk: Desk) -> None:
    do_set_config(None, {"public_url": "https://desk.example.com/"})
    ticket = assigned_to_ana(desk)

    assert send_assignment_notices(timezone.now())["notified"] == 1

    text = delivered_text(ANA_PHONE)
    assert f"Te asignamos el ticket #{ticket.pk}" in text
    assert text.endswith(f"\nhttps://desk.example.com/tickets/{ticket.pk}/")


def test_without_the_setting_the_notice_carries_only_the_path(desk: Desk) -> None:
    ticket = assigned_to_ana(desk)

    send_assignment_notices(timezone.now())

    text = delivered_text(ANA_PHONE)
    assert text.endswith(f"\n/tickets/{ticket.pk}/")
    assert "http" not in text


def test_a_path_in_the_public_address_is_kept(desk: Desk) -> None:
    do_set_config(None, {"public_url": "https://isp.example.com/desk"})
    ticket = assigned_to_ana(desk)

    send_assignment_notices(timezone.now())

    [message] = messages_to(ANA_PHONE)
    assert message.body.endswith(f"\nhttps://isp.example.com/desk/tickets/{ticket.pk}/")


def test_an_admins_send_uses_the_public_address_over_the_one_it_was_called_at(
    desk: Desk, admin_client: Client
) -> None:
    do_set_config(None, {"public_url": "https://desk.example.com"})
    ticket = assigned_to_ana(desk)
    assert desk.ana.person_id is not None

    response = admin_client.post(
        "/api/whatsapp/send/assignment",
        {"person_id": desk.ana.person_id, "ticket_id": ticket.pk},
        content_type="application/json",
    )

    assert response.json()["queued"] is True
    [message] = messages_to(ANA_PHONE)
    assert f"https://desk.example.com/tickets/{ticket.pk}/" in message.body
    assert "testserver" not in message.body
