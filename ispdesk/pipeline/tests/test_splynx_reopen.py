"""A reopening made here reaches Splynx (against the fake Splynx, over real HTTP): it waits,
durably, until `push_reopens` sends it; the status sync does not close the ticket again
meanwhile, even when sending it fails; and a reopening made in Splynx is not sent back.
Errors are kept by step: a push clears only the error it repairs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.accounts.models import User
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.splynx_sync import (
    close_in_splynx,
    push_assignment,
    push_reopens,
    push_ticket,
    sync_status,
)
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
from ispdesk.tickets.actions import do_assign_ticket, do_close_ticket, do_reopen_ticket
from ispdesk.tickets.models import EventKind, Status, Ticket

MESSAGES = "admin/support/ticket-messages"


@pytest.fixture
def splynx(db: Any) -> ExternalSystem:
    return enabled_splynx(MAPPINGS)


@pytest.fixture
def ana(db: Any) -> Operator:
    return make_operator("ana2", person_id=1)


def closed_everywhere(fake: FakeSplynx, ana: Operator, admin: User) -> Ticket:
    """Closed here by a person, the close sent to Splynx, and a status sync since."""
    ticket = pushed_ticket(fake, ana)
    do_close_ticket(admin, ticket, "done")
    assert close_in_splynx(ticket.pk, client=fake.client())
    assert sync_status(client=fake.client())["errors"] == 0
    assert splynx_row(fake, ticket)["closed"] == "1"
    return ticket


def reopened_here(ticket: Ticket, admin: User) -> Ticket:
    # A supervisor reopens it: the customer called again.
    return do_reopen_ticket(admin, Ticket.objects.get(pk=ticket.pk), "customer called again")


def later() -> datetime:
    return timezone.now() + timedelta(seconds=1)


def test_a_reopening_here_survives_the_status_sync_and_reaches_splynx(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, admin: User
) -> None:
    ticket = closed_everywhere(fake_splynx, ana, admin)
    untouched = pushed_ticket(fake_splynx, ana, external_id="5002", subject="Lento")
    reopened_here(ticket, admin)

    counts = sync_status(client=fake_splynx.client())

    assert counts["closed"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED and ticket.splynx_reopen_pending

    assert push_reopens(later(), fake_splynx.client()) == (1, 0)

    assert (
        splynx_row(fake_splynx, ticket)["closed"],
        splynx_row(fake_splynx, ticket)["status_id"],
    ) == ("0", "1")
    ticket.refresh_from_db()
    assert not ticket.splynx_reopen_pending
    assert [(e.kind, e.text) for e in ticket.events.all()][-2:] == [
        (EventKind.REOPENED, "customer called again"),
        (EventKind.SYNCED, "Reopened in Splynx."),
    ]
    # Sent once; the sync now agrees; the other ticket was never looked at.
    assert push_reopens(later(), fake_splynx.client()) == (0, 0)
    assert sync_status(client=fake_splynx.client())["closed"] == 0
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED
    assert len(puts_to(fake_splynx, ticket)) == 2  # the close, the reopening
    assert fake_splynx.requests_to(f"{TICKETS}/{untouched.splynx_ticket_id}", "GET") == []


def test_a_reopening_that_fails_stays_pending_and_is_sent_by_a_later_run(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, admin: User
) -> None:
    ticket = closed_everywhere(fake_splynx, ana, admin)
    reopened_here(ticket, admin)
    fake_splynx.fail_next("server_error", times=3, path=TICKETS)

    assert push_reopens(later(), fake_splynx.client()) == (0, 1)

    ticket.refresh_from_db()
    assert ticket.splynx_error.startswith("Splynx failed.")
    error = ticket.splynx_error
    # No flip-flop: the sync leaves it open, and the flow's retry of tickets with an error
    # (a push) neither closes it nor wipes the error it did not repair.
    assert sync_status(client=fake_splynx.client())["closed"] == 0
    assert push_ticket(ticket.pk, client=fake_splynx.client()).error == ""
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED and ticket.splynx_error == error
    assert ticket.splynx_reopen_pending

    assert push_reopens(later(), fake_splynx.client()) == (1, 0)

    ticket.refresh_from_db()
    assert ticket.splynx_error == "" and not ticket.splynx_reopen_pending
    assert splynx_row(fake_splynx, ticket)["closed"] == "0"
    assert ticket.events.filter(kind=EventKind.CLOSED).count() == 1
    assert ticket.events.filter(kind=EventKind.REOPENED).count() == 1


def test_an_assignment_sent_meanwhile_does_not_swallow_the_reopening(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, admin: User
) -> None:
    juan = make_operator("juan", person_id=2)
    ticket = closed_everywhere(fake_splynx, ana, admin)
    reopened_here(ticket, admin)
    do_assign_ticket(admin, Ticket.objects.get(pk=ticket.pk), juan)

    assert push_assignment(ticket.pk, client=fake_splynx.client()) is True
    assert sync_status(client=fake_splynx.client())["closed"] == 0

    assert push_reopens(later(), fake_splynx.client()) == (1, 0)
    assert splynx_row(fake_splynx, ticket)["closed"] == "0"
    assert splynx_row(fake_splynx, ticket)["assign_to"] == "2"
    assert Ticket.objects.get(pk=ticket.pk).assignee == juan


def test_a_reopening_made_in_splynx_is_followed_and_not_sent_back(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, admin: User
) -> None:
    ticket = closed_everywhere(fake_splynx, ana, admin)
    # A Splynx agent reopens it as "Work in progress".
    splynx_row(fake_splynx, ticket).update(closed="0", status_id="2")

    assert sync_status(client=fake_splynx.client())["reopened"] == 1

    assert push_reopens(later(), fake_splynx.client()) == (0, 0)
    assert splynx_row(fake_splynx, ticket)["status_id"] == "2"
    assert len(puts_to(fake_splynx, ticket)) == 1  # only our close, before
    ticket.refresh_from_db()
    assert ticket.is_open and not ticket.splynx_reopen_pending


def test_a_reopening_older_than_the_window_is_no_longer_sent(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator, admin: User
) -> None:
    ticket = closed_everywhere(fake_splynx, ana, admin)
    reopened_here(ticket, admin)

    assert push_reopens(later() + timedelta(days=3), fake_splynx.client()) == (0, 0)

    assert splynx_row(fake_splynx, ticket)["closed"] == "1"
    # Nor closed again: the person's reopening stands here.
    assert sync_status(client=fake_splynx.client())["closed"] == 0


# Errors by step ------------------------------------------------------------------------------


def test_a_missing_first_message_is_repaired_even_after_another_step_failed(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    juan = make_operator("juan", person_id=2)
    fake_splynx.fail_next("server_error", times=3, path=MESSAGES)
    ticket = pushed_ticket(fake_splynx, ana, body="No anda internet.")
    assert "first message was not added" in ticket.splynx_error
    do_assign_ticket(None, ticket, juan)
    fake_splynx.fail_next("server_error", times=3, path=TICKETS)

    assert push_assignment(ticket.pk, client=fake_splynx.client()) is False

    # The assignment's failure does not hide the missing message, which the next push adds.
    ticket.refresh_from_db()
    assert "first message was not added" in ticket.splynx_error
    assert push_ticket(ticket.pk, client=fake_splynx.client()).error == ""
    assert [m["message"] for m in fake_splynx.messages.values()] == ["No anda internet."]
    assert splynx_row(fake_splynx, ticket)["assign_to"] == "2"
    assert Ticket.objects.get(pk=ticket.pk).splynx_error == ""


def test_a_failed_assignment_is_over_when_the_assignee_comes_back(
    splynx: ExternalSystem, fake_splynx: FakeSplynx, ana: Operator
) -> None:
    juan = make_operator("juan", person_id=2)
    ticket = pushed_ticket(fake_splynx, ana)
    do_assign_ticket(None, ticket, juan)
    fake_splynx.fail_next("server_error", times=3, path=TICKETS)
    assert push_assignment(ticket.pk, client=fake_splynx.client()) is False
    assert Ticket.objects.get(pk=ticket.pk).splynx_error.startswith("Splynx failed.")
    do_assign_ticket(None, ticket, ana)
    before = len(fake_splynx.requests)

    assert push_ticket(ticket.pk, client=fake_splynx.client()).error == ""

    assert Ticket.objects.get(pk=ticket.pk).splynx_error == ""
    assert len(fake_splynx.requests) == before  # nothing to send
