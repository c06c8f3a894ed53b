"""A ticket held in Splynx (assigned there by hand to an administrator with no operator
here) on the ticket page, the queue and the API: shown as that administrator's, never as
waiting in the unassigned queue, and left alone by the queue's engine."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ispdesk.jobs.registry import JobContext
from ispdesk.tickets.actions import NewTicket, do_create_ticket
from ispdesk.tickets.jobs import assign_unassigned
from ispdesk.tickets.models import Ticket


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def held(holder: str = "Pedro Técnico", admin: int = 3) -> Ticket:
    ticket, _created = do_create_ticket(
        None,
        NewTicket(
            subject="Poste caído",
            external_id=uuid.uuid4().hex,
            splynx_ticket_id=4521,
            splynx_assigned_to=admin,
            splynx_holder=holder,
        ),
        auto_assign=False,
    )
    return ticket


def page_of(client: Client, ticket: Ticket) -> str:
    response = client.get(f"/tickets/{ticket.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_ticket_page_names_the_splynx_administrator_instead_of_unassigned(
    supervisor_client: Client, desk: dict[str, Any]
) -> None:
    ticket = held()

    page = page_of(supervisor_client, ticket)

    assert '<span class="ticket-headline-assignee">Assigned in Splynx to Pedro Técnico</span>' in (
        page
    )
    assert '<span class="ticket-splynx-holder">Assigned in Splynx to Pedro Técnico</span>' in page
    assert "ispdesk does not assign this ticket" in page
    assert "Assigning it here takes it from Pedro Técnico in Splynx." in page
    assert "Unassigned" not in page


def test_an_administrator_without_a_known_name_is_shown_by_id(
    supervisor_client: Client, desk: dict[str, Any]
) -> None:
    ticket = held(holder="", admin=77)

    assert "Assigned in Splynx to #77" in page_of(supervisor_client, ticket)


def test_the_name_is_escaped(supervisor_client: Client, desk: dict[str, Any]) -> None:
    ticket = held(holder="<b>Pedro</b>")

    page = page_of(supervisor_client, ticket)

    assert "<b>Pedro</b>" not in page
    assert "Assigned in Splynx to &lt;b&gt;Pedro&lt;/b&gt;" in page


def test_the_queue_does_not_count_it_as_waiting_and_labels_it(
    supervisor_client: Client, desk: dict[str, Any]
) -> None:
    ticket = held()

    page = supervisor_client.get("/tickets/").content.decode()

    # Only desk["queued"] waits for an operator.
    assert 'Unassigned <span class="count-badge count-badge-warn">1</span>' in page
    assert f'id="queue-ticket-{ticket.pk}"' in page
    assert '<div class="muted small ticket-splynx-holder">Assigned in Splynx to Pedro' in page
    waiting = supervisor_client.get("/tickets/", {"assignee": "none"}).content.decode()
    assert f'id="queue-ticket-{ticket.pk}"' not in waiting
    assert f'id="queue-ticket-{desk["queued"].pk}"' in waiting


def test_the_api_shows_who_holds_it_and_leaves_it_out_of_the_unassigned_queue(
    supervisor_client: Client, desk: dict[str, Any]
) -> None:
    ticket = held()

    one = supervisor_client.get(f"/api/tickets/{ticket.pk}").json()
    other = supervisor_client.get(f"/api/tickets/{desk['queued'].pk}").json()
    waiting = supervisor_client.get("/api/tickets", {"assignee": "none"}).json()

    assert one["assignee"] is None
    assert one["held_in_splynx"] == {"administrator_id": 3, "name": "Pedro Técnico"}
    assert other["held_in_splynx"] is None
    assert [item["id"] for item in waiting["items"]] == [desk["queued"].pk]


def test_the_queue_job_leaves_it_alone_and_does_not_count_it(desk: dict[str, Any]) -> None:
    ticket = held()

    counts = assign_unassigned(JobContext(now=timezone.now(), worker="test", manual=False))

    # The queued ticket found someone; the held one waits for nobody here.
    assert counts == {"assigned": 1, "waiting": 0}
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.splynx_held


def test_assign_all_now_by_a_supervisor_skips_it(
    supervisor_client: Client, desk: dict[str, Any]
) -> None:
    ticket = held()

    answer = supervisor_client.post("/api/tickets/assign_unassigned").json()

    assert [row["ticket"] for row in answer["assignments"]] == [desk["queued"].pk]
    assert answer["waiting"] == 0
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.splynx_held
