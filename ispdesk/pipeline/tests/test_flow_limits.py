"""A flow run stays inside its lease and tidy when Splynx or Gestión Real misbehave: it stops
pushing assignments after three failures in a row, sends at most a batch per run, stops at
its deadline, waits less again after a success, stops the close sync's checks when the
account is refused, and logs its Splynx session out at the end."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from ispdesk.pipeline.flow import (
    PUSH_BATCH,
    PUSH_FAILED,
    RETRY_MAX,
    RETRY_MIN,
    close_sync,
    create_in_splynx,
    download_cases,
    due_for_push,
    push_assignments,
    run_ticket_flow,
)
from ispdesk.pipeline.run_context import Deadline
from ispdesk.pipeline.tests.flow_support import (
    TICKETS,
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
)
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_close_ticket, do_create_ticket
from ispdesk.tickets.models import Source, Ticket


def reassigned_tickets(desk: Desk, count: int) -> list[Ticket]:
    """`count` tickets in Splynx, each then handed to the other operator here (the shift
    changed): every one needs its `assign_to` changed in Splynx."""
    for number in range(count):
        desk.caso(f"{10400 + number}", f"Caso {number}")
    run_ticket_flow(timezone.now())
    tickets = list(Ticket.objects.order_by("pk"))
    for ticket in tickets:
        do_assign_ticket(None, ticket, desk.juan if ticket.assignee == desk.ana else desk.ana)
    return tickets


def ticket_reads(desk: Desk) -> int:
    return len(
        [r for r in desk.splynx.requests_to("") if r.method == "GET" and TICKETS + "/" in r.path]
    )


def logouts(desk: Desk) -> int:
    return len(
        [r for r in desk.splynx.requests if r.method == "DELETE" and "/auth/tokens/" in r.path]
    )


def case_reads(desk: Desk) -> int:
    return sum(
        1
        for request in desk.gestionreal.requests_to("/")
        if isinstance(request.json, dict) and request.json.get("action") == "caso"
    )


# Assignments ------------------------------------------------------------------------------------


def test_assignments_stop_after_three_failures_in_a_row(desk: Desk) -> None:
    reassigned_tickets(desk, 8)
    before = ticket_reads(desk)
    desk.splynx.fail_next("server_error", times=100, path=TICKETS)

    assigned = push_assignments(desk.splynx.client(max_attempts=1))

    assert assigned == 0
    assert ticket_reads(desk) - before == 3  # then the run stopped: Splynx is down
    assert Ticket.objects.exclude(splynx_error="").count() == 3


def test_assignments_are_sent_a_batch_per_run(desk: Desk) -> None:
    for number in range(PUSH_BATCH + 1):
        remote = desk.splynx.add_ticket(subject=f"Caso {number}", assign_to="0", customer_id="0")
        ticket, _created = do_create_ticket(
            None,
            NewTicket(
                subject=f"Caso {number}",
                source=Source.MANUAL,
                splynx_ticket_id=int(remote["id"]),
                splynx_assigned_to=0,
            ),
            auto_assign=False,
        )
        do_assign_ticket(None, ticket, desk.ana)
    client = desk.splynx.client()

    assert push_assignments(client) == PUSH_BATCH
    assert push_assignments(client) == 1
    assert push_assignments(client) == 0


def test_a_run_starts_no_call_after_its_deadline(desk: Desk) -> None:
    reassigned_tickets(desk, 3)
    clock = itertools.count()  # each look at the clock is a second later
    deadline = Deadline(2, clock=lambda: next(clock))

    assert push_assignments(desk.splynx.client(), deadline) == 1


def test_with_no_time_left_the_splynx_steps_wait_for_the_next_run(desk: Desk, settings) -> None:  # type: ignore[no-untyped-def]
    desk.caso("10457", "Sin servicio")
    settings.JOBS_LEASE_SECONDS = 0  # half of nothing: the deadline has passed at once

    counts = run_ticket_flow(timezone.now())

    assert (counts["created"], counts["pushed"]) == (1, 0)
    assert desk.creates() == 0
    assert close_sync(timezone.now())["checked"] == 0
    assert case_reads(desk) == 0

    settings.JOBS_LEASE_SECONDS = 600
    assert run_ticket_flow(timezone.now())["pushed"] == 1
    assert close_sync(timezone.now())["checked"] == 1


# Backoff ------------------------------------------------------------------------------------


def test_a_success_starts_the_backoff_again(desk: Desk) -> None:
    ticket, _created = do_create_ticket(
        None, NewTicket(subject="Sin servicio", source=Source.MANUAL), auto_assign=False
    )
    busy = desk.splynx.client(max_attempts=1)
    start = timezone.now() - timedelta(hours=8)
    # A bad day: six refused creates, each after its wait; then Splynx takes it.
    for number in range(6):
        desk.splynx.fail_next("rate_limited", path=TICKETS)
        create_in_splynx(start + number * RETRY_MAX, splynx=busy)
    assert AuditEvent.objects.filter(action=PUSH_FAILED).count() == 6
    synced = start + 6 * RETRY_MAX
    assert create_in_splynx(synced, splynx=desk.splynx.client())["pushed"] == 1

    # A new assignee does not reach Splynx (busy again), and neither does the next try.
    do_assign_ticket(None, ticket, desk.ana)
    desk.splynx.fail_next("rate_limited", times=100, path=TICKETS)
    create_in_splynx(synced + timedelta(minutes=1), splynx=busy)
    failed = synced + timedelta(minutes=2)
    create_in_splynx(failed, splynx=busy)
    assert AuditEvent.objects.filter(action=PUSH_FAILED).count() == 7

    # One failure since the success: the shortest wait, not the longest.
    assert due_for_push(failed + RETRY_MIN - timedelta(seconds=1)) == []
    assert due_for_push(failed + RETRY_MIN) == [ticket.pk]


# Gestión Real refusing the account --------------------------------------------------------------


def test_a_refused_account_stops_the_close_sync_at_the_first_case(desk: Desk) -> None:
    for login, subject in (("10457", "Uno"), ("10458", "Dos"), ("10459", "Tres")):
        desk.caso(login, subject)
    run_ticket_flow(timezone.now())
    desk.gestionreal.secret = "otra-clave"  # the secret was changed at Gestión Real

    counts = close_sync(timezone.now())

    assert (counts["checked"], counts["errors"]) == (0, 1)
    assert case_reads(desk) == 1


# Splynx sessions ----------------------------------------------------------------------------


def test_each_run_logs_its_splynx_session_out(desk: Desk, admin) -> None:  # type: ignore[no-untyped-def]
    desk.caso("10457", "Sin servicio")
    run_ticket_flow(timezone.now())
    assert (desk.splynx.logins, logouts(desk)) == (1, 1)

    ticket = Ticket.objects.get()
    do_assign_ticket(None, ticket, desk.juan if ticket.assignee == desk.ana else desk.ana)
    assert create_in_splynx(timezone.now())["assigned"] == 1
    assert (desk.splynx.logins, logouts(desk)) == (2, 2)

    do_close_ticket(admin, ticket, "Resuelto por teléfono")
    assert close_sync(timezone.now())["closed_in_splynx"] == 1
    assert (desk.splynx.logins, logouts(desk)) == (3, 3)

    # The download alone (`tickets.download`) closes a case closed at the source in Splynx too.
    caso = desk.caso("10458", "Lento")
    run_ticket_flow(timezone.now())
    caso["estado"] = "Cerrado"
    assert download_cases(timezone.now())["closed"] == 1
    assert desk.splynx_ticket(Ticket.objects.get(external_id=caso["id"]))["closed"] == "1"
    assert (desk.splynx.logins, logouts(desk)) == (5, 5)
    assert desk.splynx.refresh_tokens == {}
