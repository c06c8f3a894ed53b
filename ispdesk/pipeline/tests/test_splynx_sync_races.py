"""The Splynx sync when its workers and Splynx's agents meet (against the fake Splynx, over
real HTTP): a create claim is judged by the wall clock, a close made in Splynx is not sent
back, our own `assign_to` is not taken for a hand reassignment, a stale list does not undo a
local one, and one Splynx ticket is linked to one ticket here.

The interleavings are played in order in one thread: each step is what one worker would
have done by then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ispdesk.pipeline import flow
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.splynx_follow import Administrators, _apply_remote
from ispdesk.pipeline.splynx_sync import (
    _link,
    close_in_splynx,
    push_assignment,
    push_ticket,
    sync_status,
)
from ispdesk.pipeline.splynx_sync_customers import CustomerMatch
from ispdesk.pipeline.tests.splynx_sync_support import (
    MAPPINGS,
    TICKETS,
    enabled_splynx,
    english_fixture,  # noqa: F401 - autouse
    fake_splynx_fixture,  # noqa: F401 - the `fake_splynx` fixture
    make_operator,
    pushed_ticket,
    puts_to,
    splynx_row,
)
from ispdesk.testing.fakes.splynx import FakeSplynx
from ispdesk.tickets.actions import (
    NewTicket,
    TicketActionError,
    do_assign_ticket,
    do_close_ticket,
    do_create_ticket,
)
from ispdesk.tickets.models import EventKind, Source, Status, Ticket


@pytest.fixture
def splynx(db: Any) -> ExternalSystem:
    return enabled_splynx(MAPPINGS)


def new_ticket(external_id: str = "77") -> Ticket:
    ticket, _created = do_create_ticket(
        None,
        NewTicket(subject="Sin servicio", source=Source.GESTIONREAL, external_id=external_id),
        auto_assign=False,
    )
    return ticket


# The create claim -----------------------------------------------------------------------------


def test_a_claim_made_late_in_a_long_run_is_fresh_to_another_worker(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    run_started = timezone.now() - timedelta(minutes=3)  # a flow run three minutes in
    before = timezone.now()
    # Worker A claims and POSTs; the answer is lost (Splynx may have stored it).
    fake_splynx.fail_next("server_error", path=TICKETS)

    assert push_ticket(ticket.pk, client=fake_splynx.client(), now=run_started).error

    claim = Ticket.objects.get(pk=ticket.pk).splynx_create_started_at
    assert claim is not None and claim >= before
    # Worker B, right now, in a run of its own however old, leaves A's create alone.
    for now in (timezone.now(), run_started):
        result = push_ticket(ticket.pk, client=fake_splynx.client(), now=now)
        assert not result.created and "Another worker" in result.note
    assert len(fake_splynx.requests_to(TICKETS, "POST")) == 1
    assert fake_splynx.tickets == {}


def test_a_stale_claim_is_taken_over_even_by_a_run_older_than_it(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    # A worker claimed it three minutes ago and died; this run started five minutes ago.
    stale = timezone.now() - timedelta(minutes=3)
    Ticket.objects.filter(pk=ticket.pk).update(splynx_create_started_at=stale)

    result = push_ticket(
        ticket.pk, client=fake_splynx.client(), now=timezone.now() - timedelta(minutes=5)
    )

    assert result.created and len(fake_splynx.tickets) == 1


# A close made in Splynx -------------------------------------------------------------------------


def test_a_close_made_in_splynx_is_not_sent_back(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx)
    client = fake_splynx.client()
    # A Splynx agent closes it as "Closed - no fault found" (a status of their own).
    splynx_row(fake_splynx, ticket).update(closed="1", status_id="5")

    assert sync_status(client=client, now=timezone.now())["closed"] == 1
    assert flow.push_closes(timezone.now(), client) == (0, 0)

    assert splynx_row(fake_splynx, ticket)["status_id"] == "5"
    assert puts_to(fake_splynx, ticket) == []
    texts = ticket.events.values_list("text", flat=True)
    assert list(texts).count("Closed in Splynx.") == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_closing_here_keeps_the_status_a_splynx_agent_closed_it_with(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = pushed_ticket(fake_splynx)
    splynx_row(fake_splynx, ticket).update(closed="1", status_id="5")
    do_close_ticket(None, ticket)  # here too, before any sync

    assert close_in_splynx(ticket.pk, client=fake_splynx.client()) is True

    assert splynx_row(fake_splynx, ticket)["status_id"] == "5"
    assert puts_to(fake_splynx, ticket) == []
    assert flow.push_closes(timezone.now(), fake_splynx.client()) == (0, 0)


# assign_to --------------------------------------------------------------------------------------


def test_our_own_assignment_seen_before_it_is_recorded_is_no_reassignment(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    ticket = pushed_ticket(fake_splynx, ana)
    do_assign_ticket(None, ticket, juan)  # the engine or a supervisor moves it to Juan
    notices = flow.pending_notices(timezone.now())
    # The push's PUT has reached Splynx; its record here has not been written yet.
    client = fake_splynx.client()
    client.assign_ticket(ticket.splynx_ticket_id or 0, 2)

    counts = sync_status(client=client)

    assert counts["reassigned"] == 0 and counts["errors"] == 0
    ticket.refresh_from_db()
    assert ticket.assignee == juan and ticket.splynx_assigned_to == 2
    assert ticket.events.filter(kind=EventKind.REASSIGNED).count() == 1  # ours, to Juan
    assert flow.pending_notices(timezone.now()) == notices  # still the one, for Juan
    assert push_assignment(ticket.pk, client=client) is False
    assert len(puts_to(fake_splynx, ticket)) == 1


def test_a_stale_list_does_not_undo_a_fresh_local_reassignment(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    ticket = pushed_ticket(fake_splynx, ana)
    client = fake_splynx.client()
    # The status sync lists Splynx (Ana has it)...
    listed = client.get_ticket(ticket.splynx_ticket_id or 0)
    # ...then a push for Juan runs from start to end...
    do_assign_ticket(None, ticket, juan)
    assert push_assignment(ticket.pk, client=client) is True
    # ...and then the sync reads the ticket here and compares.
    counts = dict.fromkeys(("closed", "reopened", "reassigned", "status_changed"), 0)
    current = Ticket.objects.get(pk=ticket.pk)

    agreed = _apply_remote(
        current, listed, client, splynx.config, Administrators(client), timezone.now(), counts
    )

    assert agreed and counts["reassigned"] == 0
    ticket.refresh_from_db()
    assert ticket.assignee == juan and ticket.splynx_assigned_to == 2
    assert splynx_row(fake_splynx, ticket)["assign_to"] == "2"
    assert not ticket.events.filter(text__startswith="Reassigned in Splynx").exists()


def test_a_real_hand_reassignment_is_still_followed_after_the_second_look(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    ticket = pushed_ticket(fake_splynx, ana)
    splynx_row(fake_splynx, ticket)["assign_to"] = "2"
    before = len(fake_splynx.requests_to(f"{TICKETS}/{ticket.splynx_ticket_id}", "GET"))

    assert sync_status(client=fake_splynx.client())["reassigned"] == 1

    assert Ticket.objects.get(pk=ticket.pk).assignee == juan
    gets = fake_splynx.requests_to(f"{TICKETS}/{ticket.splynx_ticket_id}", "GET")
    assert len(gets) == before + 1  # the one ticket, read again before following


# One Splynx ticket, one ticket here --------------------------------------------------------------


def test_a_splynx_ticket_linked_to_another_ticket_is_not_linked_twice(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    first = pushed_ticket(fake_splynx)
    second = new_ticket(external_id="78")
    client = fake_splynx.client()
    taken = client.get_ticket(first.splynx_ticket_id or 0)

    # The second's lookup saw it unlinked; the first linked it before the second could.
    result = _link(second.pk, taken, client, timezone.now(), CustomerMatch(None), adopted=True)

    assert not result.created and result.splynx_ticket_id is None and result.error == ""
    assert "linked to another ticket" in result.note
    second.refresh_from_db()
    assert second.splynx_ticket_id is None
    assert not second.events.filter(kind=EventKind.SYNCED).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=second.pk).update(splynx_ticket_id=first.splynx_ticket_id)


def test_importing_a_splynx_ticket_linked_meanwhile_is_refused_in_words(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ours = pushed_ticket(fake_splynx)

    with pytest.raises(TicketActionError) as refused:
        do_create_ticket(
            None,
            NewTicket(
                subject="Sin servicio",
                source=Source.SPLYNX,
                external_id=str(ours.splynx_ticket_id),
                splynx_ticket_id=ours.splynx_ticket_id,
            ),
            auto_assign=False,
        )

    assert refused.value.code == "conflict"
    assert f"Splynx ticket {ours.splynx_ticket_id} is already linked" in refused.value.message
    assert Ticket.objects.count() == 1


def test_splynx_failing_on_the_second_look_stops_the_sync_without_following(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, _juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    first = pushed_ticket(fake_splynx, ana)
    second = pushed_ticket(fake_splynx, ana, external_id="5002", subject="Lento")
    for ticket in (first, second):
        splynx_row(fake_splynx, ticket)["assign_to"] = "2"
    fake_splynx.fail_next("server_error", times=3, path=f"{TICKETS}/")

    counts = sync_status(client=fake_splynx.client())

    assert (counts["errors"], counts["reassigned"]) == (1, 0)
    assert Ticket.objects.get(pk=first.pk).assignee == ana
    assert fake_splynx.requests_to(f"{TICKETS}/{second.splynx_ticket_id}", "GET") == []
