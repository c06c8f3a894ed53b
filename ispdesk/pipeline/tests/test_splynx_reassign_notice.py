"""A hand reassignment inside Splynx is announced by the `tickets.sync_status` job itself:
the new operator gets the WhatsApp assignment notice once, through the simulator, however
the status sync and the ticket flow run afterwards; the previous assignee is not told."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from ispdesk.messaging.models import OutboundStatus
from ispdesk.messaging.sender import send_due_messages
from ispdesk.messaging.simulator import history, simulator_connection
from ispdesk.pipeline import jobs
from ispdesk.pipeline.flow import run_ticket_flow
from ispdesk.pipeline.tests.flow_support import (
    ANA_PHONE,
    JUAN_PHONE,
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    messages_to,
    run_scheduled,
)
from ispdesk.tickets.models import EventKind, Ticket

BA = ZoneInfo("America/Argentina/Buenos_Aires")


def working_moment_after(moment: datetime) -> datetime:
    """A minute after `moment`, or the next noon when that is outside the jobs' work hours
    (9 to 21 is inside them on every kind of day). Never before `moment`: the assignment
    events must follow one another in time as they would in production."""
    local = (moment + timedelta(minutes=1)).astimezone(BA)
    if 9 <= local.hour < 20:
        return local
    noon = local.replace(hour=12, minute=0)
    return noon if noon > local else noon + timedelta(days=1)


def test_the_operator_splynx_reassigns_to_is_told_once_and_the_previous_one_is_not(
    desk: Desk,
) -> None:
    desk.caso("10457", "Sin servicio")
    run_ticket_flow(timezone.now())
    ticket = Ticket.objects.get()
    first = ticket.assignee
    assert first is not None
    new, new_phone, old_phone = (
        (desk.juan, JUAN_PHONE, ANA_PHONE)
        if first == desk.ana
        else (desk.ana, ANA_PHONE, JUAN_PHONE)
    )
    assert (len(messages_to(old_phone)), messages_to(new_phone)) == (1, [])
    desk.splynx_ticket(ticket)["assign_to"] = str(new.person_id)
    at = working_moment_after(timezone.now())

    synced = run_scheduled(jobs.SYNC_STATUS, at)

    assert synced is not None and synced.outcome == "ok"
    assert (synced.counts["reassigned"], synced.counts["notified"]) == (1, 1)
    ticket.refresh_from_db()
    assert ticket.assignee == new
    assert ticket.events.filter(kind=EventKind.REASSIGNED).get().operator == new
    # Both jobs again: neither repeats the notice.
    for name in (jobs.TICKET_FLOW, jobs.SYNC_STATUS):
        again = run_scheduled(name, at + timedelta(minutes=5))
        assert again is not None and again.outcome == "ok"
        assert again.counts["notified"] == 0

    send_due_messages("test-sender")

    [notice] = messages_to(new_phone)
    assert notice.status == OutboundStatus.SENT
    assert f"#{ticket.pk}" in notice.body
    on_the_phone = history(simulator_connection(), new_phone)
    assert [line.text for line in on_the_phone] == [notice.body]
    # The previous assignee has only the first assignment's notice.
    assert len(messages_to(old_phone)) == 1
