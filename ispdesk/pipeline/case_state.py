"""A case's state at Gestión Real, applied to the ticket it became.

Every read of a case (the API download, the close sync's per-case check, a CSV or web export
import) records its state on the ticket; a change goes to the ticket's history. A closed
state (`closed_states`, from the settings) closes the ticket here and in Splynx. A case that
is open at the source reopens a ticket ispdesk itself closed (because the source or Splynx
said so), within `reopen_window_hours` (0: never); a close by a person is respected.

Shared by `flow` and `csv_import` (which `flow` imports), so it imports neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from ispdesk.integrations.gestionreal.mapping import fold
from ispdesk.pipeline import splynx_sync
from ispdesk.pipeline.run_context import Deadline, SplynxSession
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.tickets.actions import do_close_ticket, do_reopen_ticket
from ispdesk.tickets.models import EventKind, Ticket, TicketEvent

logger = logging.getLogger("ispdesk.pipeline.flow")

DEFAULT_CLOSED_STATES = ("Cerrado", "Resuelto")
DEFAULT_REOPEN_WINDOW_HOURS = 48
STATE_MAX = 64  # Ticket.source_state


# Settings (pure) -------------------------------------------------------------------------------


def closed_states(config: Mapping[str, Any]) -> tuple[str, ...]:
    raw = config.get("closed_states")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        return DEFAULT_CLOSED_STATES
    states = tuple(str(item).strip() for item in raw if str(item).strip())
    return states or DEFAULT_CLOSED_STATES


def is_closed_state(state: str, states: Sequence[str]) -> bool:
    """Whether a case state means closed ("cerrado" matches "Cerrado", accents ignored)."""
    return bool(state.strip()) and fold(state) in {fold(item) for item in states}


def positive_int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        return default
    try:
        number = int(value)
    except ValueError:
        return default
    return number if number > 0 else default


def reopen_window(config: Mapping[str, Any]) -> timedelta:
    """How long after ispdesk closed a ticket an open case still reopens it; zero: never."""
    if config.get("reopen_window_hours") in (0, "0"):
        return timedelta(0)
    return timedelta(hours=positive_int(config, "reopen_window_hours", DEFAULT_REOPEN_WINDOW_HOURS))


# One ticket ------------------------------------------------------------------------------------


def record_source_state(ticket_id: int, state: str, now: datetime, *, history: bool) -> bool:
    """Remember the case's state at the source; True when it changed. A change is written to
    the ticket's history (`history`): someone worked the case at the source."""
    state = state[:STATE_MAX]
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        if ticket.source_state == state:
            return False
        before = ticket.source_state
        ticket.source_state = state
        ticket.save(update_fields=["source_state", "updated_at"])
        if history:
            TicketEvent.objects.create(
                ticket=ticket,
                kind=EventKind.SYNCED,
                created_at=now,
                text=_("State at Gestión Real: %(before)s → %(after)s")
                % {"before": before or "—", "after": state or "—"},
            )
            record_audit(
                None,
                "ticket.source_state_changed",
                ticket,
                before={"source_state": before},
                after={"source_state": state},
            )
            send_event_on_commit(
                [f"ticket.{ticket.pk}"], {"type": "ticket:update", "ticket": ticket.pk}
            )
    return True


def closed_by_ispdesk(ticket: Ticket) -> bool:
    """Whether the ticket's last close had no person as actor (the source or Splynx)."""
    actor = (
        TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CLOSED)
        .order_by("-created_at", "-pk")
        .values_list("actor_id", flat=True)
        .first()
    )
    return actor is None


def close_from_source(
    ticket: Ticket,
    state: str,
    changed_at: datetime | None,
    now: datetime,
    splynx: SplynxSession | None,
) -> tuple[bool, bool]:
    """Close the ticket because its case is closed at the source, and in Splynx; (closed
    now, Splynx failed). A ticket already closed only gets `source_closed_at`."""
    was_open = ticket.is_open
    note = _("Closed at Gestión Real (%(state)s)") % {"state": state}
    closed = do_close_ticket(None, ticket, note)
    Ticket.objects.filter(pk=ticket.pk, source_closed_at__isnull=True).update(
        source_closed_at=changed_at or now
    )
    if not was_open or closed.splynx_ticket_id is None or splynx is None:
        return was_open, False
    client = splynx.client()
    if client is None:
        return was_open, False
    # A failure is kept on the ticket; `flow.push_closes` sends the close again.
    return was_open, not splynx_sync.close_in_splynx(ticket.pk, client=client)


def reopen_from_source(
    ticket: Ticket, state: str, splynx: SplynxSession | None
) -> tuple[bool, bool]:
    """Reopen a ticket ispdesk closed, its case being open at the source; (reopened,
    Splynx failed)."""
    note = _("Reopened: the case is still open at Gestión Real (%(state)s)") % {
        "state": state or "—"
    }
    reopened = do_reopen_ticket(None, ticket, note)
    # Closed at the source no more: a later close there is a new one.
    Ticket.objects.filter(pk=ticket.pk).update(source_closed_at=None)
    client = splynx.client() if splynx is not None and reopened.splynx_ticket_id else None
    if client is None:
        return True, False
    return True, not splynx_sync.reopen_in_splynx(ticket.pk, client=client)


class SourceStates:
    """Applies the states of one run's cases to their tickets and counts what changed.

    After a Splynx call fails, or once the run's deadline passes, the run's further closes
    and reopens stay local: the close sync's `push_closes` sends the closes later."""

    def __init__(
        self,
        config: Mapping[str, Any],
        now: datetime,
        splynx: SplynxSession | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.states = closed_states(config)
        self.window = reopen_window(config)
        self.now = now
        self.splynx = splynx
        self.deadline = deadline
        self.closed = 0
        self.reopened = 0

    def _splynx(self) -> SplynxSession | None:
        if self.deadline is not None and self.deadline.passed():
            return None
        return self.splynx

    def may_reopen(self, ticket: Ticket, changed_at: datetime | None) -> bool:
        """A closed ticket that an open case reopens: closed by ispdesk, inside the window;
        and, when the source closed it, the case changed there since (an older export that
        still lists the case as open is no news)."""
        if ticket.is_open or not self.window or ticket.closed_at is None:
            return False
        closed_there = ticket.source_closed_at
        if closed_there is not None and changed_at is not None and changed_at <= closed_there:
            return False
        return ticket.closed_at >= self.now - self.window and closed_by_ispdesk(ticket)

    def follow(self, ticket_id: int, state: str, changed_at: datetime | None) -> str:
        """Record the case's state on its ticket and close or reopen the ticket to match:
        "closed", "reopened" or ""."""
        record_source_state(ticket_id, state, self.now, history=True)
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is None:
            return ""
        if is_closed_state(state, self.states):
            done, failed = close_from_source(ticket, state, changed_at, self.now, self._splynx())
            self.closed += int(done)
            outcome = "closed" if done else ""
        elif self.may_reopen(ticket, changed_at):
            done, failed = reopen_from_source(ticket, state, self._splynx())
            self.reopened += int(done)
            outcome = "reopened"
        else:
            return ""
        if failed:
            logger.info("Splynx failed; this run's further closes stay local")
            self.splynx = None
        return outcome
