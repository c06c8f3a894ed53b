"""The Splynx half of the flow: failed creates wait longer each time, a Splynx that is down
stops the run early, a local reassignment reaches `assign_to`; and the assignment notice
goes out once per assignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.messaging.models import OutboundMessage
from ispdesk.pipeline.flow import (
    NOTICE_ACTION,
    PUSH_FAILED,
    RETRY_MAX,
    RETRY_MIN,
    create_in_splynx,
    due_for_push,
    pending_notices,
    retry_due,
    run_ticket_flow,
    send_assignment_notices,
)
from ispdesk.pipeline.splynx_sync import CREATE_LEASE
from ispdesk.pipeline.tests.flow_support import (
    ANA_PHONE,
    JUAN_PHONE,
    TICKETS,
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    messages_to,
)
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import EventKind, Source, Ticket, TicketEvent

T0 = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)


def local_ticket(subject: str = "Sin servicio", **fields: object) -> Ticket:
    ticket, _created = do_create_ticket(
        None,
        NewTicket(subject=subject, source=Source.MANUAL, **fields),  # type: ignore[arg-type]
        auto_assign=False,
    )
    return ticket


# Backoff (pure) -------------------------------------------------------------------------------


def test_a_ticket_never_tried_is_due_and_waits_double_after_each_failure() -> None:
    assert retry_due(0, None, T0)
    assert not retry_due(1, T0, T0 + RETRY_MIN - timedelta(seconds=1))
    assert retry_due(1, T0, T0 + RETRY_MIN)
    assert not retry_due(2, T0, T0 + RETRY_MIN)
    assert retry_due(2, T0, T0 + 2 * RETRY_MIN)
    assert retry_due(50, T0, T0 + RETRY_MAX)


@given(attempts=st.integers(1, 200), waited=st.integers(0, 4 * 3600))
def test_the_wait_never_exceeds_the_maximum_and_never_shrinks(attempts: int, waited: int) -> None:
    now = T0 + timedelta(seconds=waited)
    if waited >= RETRY_MAX.total_seconds():
        assert retry_due(attempts, T0, now)
    # One more failure never makes a ticket due sooner.
    if retry_due(attempts + 1, T0, now):
        assert retry_due(attempts, T0, now)


# Against the fake -----------------------------------------------------------------------------


def test_a_failed_create_is_recorded_and_retried_after_its_wait(desk: Desk) -> None:
    ticket = local_ticket()
    desk.splynx.fail_next("server_error", path=TICKETS)
    client = desk.splynx.client(max_attempts=1)

    failed = create_in_splynx(T0, splynx=client)

    assert (failed["pushed"], failed["errors"]) == (0, 1)
    ticket.refresh_from_db()
    assert ticket.splynx_error
    audit = AuditEvent.objects.get(action=PUSH_FAILED)
    assert audit.object_id == str(ticket.pk)
    assert audit.after == {"at": T0.isoformat(), "error": ticket.splynx_error}
    assert due_for_push(T0 + timedelta(minutes=1)) == []
    assert due_for_push(T0 + RETRY_MIN) == [ticket.pk]

    # The create's claim is judged by the wall clock: let its lease run out.
    Ticket.objects.filter(pk=ticket.pk).update(
        splynx_create_started_at=timezone.now() - CREATE_LEASE
    )
    done = create_in_splynx(T0 + RETRY_MIN, splynx=desk.splynx.client())

    assert (done["pushed"], done["errors"]) == (1, 0)
    ticket.refresh_from_db()
    assert ticket.splynx_ticket_id in desk.splynx.tickets
    assert due_for_push(T0 + RETRY_MAX) == []


def test_a_run_stops_pushing_after_three_failures_in_a_row(desk: Desk) -> None:
    for number in range(5):
        local_ticket(f"Ticket {number}")
    # Splynx refuses three times (busy: nothing was stored), then would answer: the run has
    # stopped by then.
    desk.splynx.fail_next("rate_limited", times=3, path=TICKETS)

    counts = create_in_splynx(T0, splynx=desk.splynx.client(max_attempts=1))

    assert (counts["errors"], counts["pushed"]) == (3, 0)
    assert desk.splynx.tickets == {}
    assert AuditEvent.objects.filter(action=PUSH_FAILED).count() == 3


def test_a_local_reassignment_reaches_splynx_and_tells_the_new_operator(desk: Desk) -> None:
    desk.caso("10457", "Sin servicio")
    run_ticket_flow(timezone.now())
    ticket = Ticket.objects.get()
    other = desk.juan if ticket.assignee == desk.ana else desk.ana
    other_phone = JUAN_PHONE if other == desk.juan else ANA_PHONE
    assert messages_to(other_phone) == []

    do_assign_ticket(None, ticket, other)
    counts = run_ticket_flow(timezone.now())

    assert (counts["assigned"], counts["notified"]) == (1, 1)
    assert desk.splynx_ticket(ticket)["assign_to"] == str(other.person_id)
    [message] = messages_to(other_phone)
    assert f"#{ticket.pk}" in message.body
    assert run_ticket_flow(timezone.now())["notified"] == 0


# Assignment notices ---------------------------------------------------------------------------


def test_each_assignment_is_announced_once(desk: Desk) -> None:
    ticket = local_ticket()
    do_assign_ticket(None, ticket, desk.ana)
    now = timezone.now()

    assert send_assignment_notices(now) == {"notified": 1, "not_notified": 0}
    assert send_assignment_notices(now) == {"notified": 0, "not_notified": 0}

    [message] = messages_to(ANA_PHONE)
    assert message.context["ticket"] == ticket.pk
    assert message.context["template"] == "ticket_assigned"
    assert "Hola Ana" in message.body
    # The record of it names the assignment it was for.
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED)
    notice = AuditEvent.objects.get(action=NOTICE_ACTION)
    assert notice.after is not None
    assert notice.after["event"] == event.pk


def test_reassigning_back_announces_the_new_assignment_only(desk: Desk) -> None:
    ticket = local_ticket()
    do_assign_ticket(None, ticket, desk.ana)
    send_assignment_notices(timezone.now())
    do_assign_ticket(None, ticket, desk.juan)
    do_assign_ticket(None, ticket, desk.ana)

    assert send_assignment_notices(timezone.now())["notified"] == 1

    # Juan held it between two runs: no message about a ticket that is no longer his.
    assert messages_to(JUAN_PHONE) == []
    assert len(messages_to(ANA_PHONE)) == 2


def test_an_operator_who_cannot_be_told_is_skipped_once_and_not_retried(desk: Desk) -> None:
    desk.ana.whatsapp = ""
    desk.ana.save()
    ticket = local_ticket()
    do_assign_ticket(None, ticket, desk.ana)

    assert send_assignment_notices(timezone.now()) == {"notified": 0, "not_notified": 1}
    assert send_assignment_notices(timezone.now()) == {"notified": 0, "not_notified": 0}
    assert not OutboundMessage.objects.exists()
    notice = AuditEvent.objects.get(action=NOTICE_ACTION)
    assert notice.after is not None
    assert notice.after["skipped"] == "no_number"


def test_old_assignments_and_closed_tickets_get_no_notice(desk: Desk) -> None:
    old, closed = local_ticket("Viejo"), local_ticket("Cerrado")
    do_assign_ticket(None, old, desk.ana)
    do_assign_ticket(None, closed, desk.juan)
    TicketEvent.objects.filter(ticket=old).update(created_at=timezone.now() - timedelta(days=1))
    Ticket.objects.filter(pk=closed.pk).update(status="closed")

    assert pending_notices(timezone.now()) == []
