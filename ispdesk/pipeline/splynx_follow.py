"""Splynx → here: the body of the `sync_status` job, which follows closes, reopenings, hand
reassignments and statuses made inside Splynx, and the one way a Splynx assignee is given
a ticket here (`assign_from_splynx`, also used by the import in `splynx_sync`).

A hand assignment in Splynx to an administrator who is no operator here *holds* the ticket
(`Ticket.splynx_held`): it is unassigned here, the engine leaves it alone and no push takes
it back in Splynx. The hold ends when Splynx gives the ticket to a linked administrator or
to nobody, when an operator is linked to the holding administrator (the next sync gives it
to them), or when a person here assigns it.

Like the rest of the sync, call these outside any transaction: no Splynx call happens
while row locks are held.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.integrations.splynx.client import SplynxClient
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.integrations.splynx.records import Ticket as SplynxTicket
from ispdesk.integrations.splynx.search import Condition
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.splynx_settings import (
    build_client,
    is_configured,
    mappings_of,
    splynx_system,
)
from ispdesk.pipeline.splynx_sync_customers import (
    ASSIGN,
    BATCH,
    AdministratorNames,
    error_words,
    from_splynx_time,
    mark_synced,
    operators_by_person,
)
from ispdesk.tickets.actions import (
    TicketActionError,
    do_change_status,
    do_close_ticket,
    do_reopen_ticket,
    give_ticket,
    lock_team,
    lock_ticket,
)
from ispdesk.tickets.models import OPEN_STATUSES, EventKind, Status, Ticket

logger = logging.getLogger("ispdesk.pipeline.splynx")

# Closed tickets are still read this long, so a reopening inside Splynx is noticed.
RECENTLY_CLOSED = timedelta(days=2)
# Statuses that Splynx may set on an open ticket and we follow; new/assigned follow from
# the assignee instead.
FOLLOWED_STATUSES = (Status.IN_PROGRESS, Status.WAITING)


def client_for(client: SplynxClient | None) -> tuple[ExternalSystem, SplynxClient | None, str]:
    """The Splynx settings row and the client to use (the given one, or one built from the
    row); no client and the reason in words when Splynx is off or not configured."""
    system = splynx_system()
    if client is not None:
        return system, client, ""
    if not system.enabled or not is_configured(system):
        return system, None, _("Splynx is not enabled or not configured.")
    return system, build_client(system), ""


def holder_name(admins: AdministratorNames, admin_id: int) -> str:
    """The administrator's name as Splynx gives it, "" when Splynx does not say."""
    admins.name(admin_id)  # reads the names once per run
    return (admins.names or {}).get(admin_id, "")


class Administrators:
    """The Splynx administrators one run meets: their names and the operators linked to
    them here, each read once and only when needed."""

    def __init__(self, client: SplynxClient) -> None:
        self.names = AdministratorNames(client)
        self._operators: dict[int, Operator | None] = {}

    def operator(self, admin_id: int) -> Operator | None:
        if admin_id not in self._operators:
            self._operators[admin_id] = operators_by_person({admin_id}).get(admin_id)
        return self._operators[admin_id]


def assign_from_splynx(
    ticket_id: int,
    admin_id: int,
    operator: Operator | None,
    text: str,
    now: datetime,
    *,
    kind: str | None,
    expected: int | None,
    holder: str | None = None,
) -> bool:
    """Give the ticket to `operator` (None: nobody) because Splynx says so, under the same
    locks as the ticket actions (operators by id, then the ticket). `holder` (the
    administrator's name, "" when unknown) marks a ticket held by an administrator with no
    operator here; None ends any hold. False when nothing was given: the ticket changed
    since Splynx was read (`expected` is the `splynx_assigned_to` we saw), or its assignee
    already is that administrator (only the record is brought up to date)."""
    held = holder is not None and operator is None and admin_id != 0
    with transaction.atomic():
        if operator is not None:
            lock_team()
        locked = lock_ticket(ticket_id)
        if locked.splynx_assigned_to != expected:
            return False
        if _assignee_is(locked, admin_id):
            # Splynx names the assignee we have: our own `assign_to`, applied there and not
            # yet recorded here (or a hand change to the same person). No reassignment, so
            # no history entry and no second notice: only the record.
            mark_synced(locked, now, ASSIGN, splynx_assigned_to=admin_id)
            return False
        # The hold ends before the ticket is given, and starts after it is taken from
        # whoever had it: the table allows no assignee on a held ticket.
        mark_synced(
            locked,
            now,
            ASSIGN,
            splynx_assigned_to=admin_id,
            splynx_held=False,
            splynx_assigned_name="",
        )
        give_ticket(
            locked,
            operator,
            None,
            now,
            text,
            kind=kind,
            audit_extra={"splynx_admin": admin_id, "held_in_splynx": held},
        )
        if held:
            Ticket.objects.filter(pk=ticket_id).update(
                splynx_held=True, splynx_assigned_name=(holder or "")[:200]
            )
    return True


def _assignee_is(ticket: Ticket, admin_id: int) -> bool:
    """Whether the ticket's assignee here works as this Splynx administrator."""
    if not admin_id or ticket.assignee_id is None:
        return False
    return Operator.objects.filter(pk=ticket.assignee_id, person_id=admin_id).exists()


def _follow_assignee(ticket: Ticket, admin_id: int, admins: Administrators, now: datetime) -> bool:
    """Splynx has `admin_id` as the assignee: record why and follow it here. Either someone
    changed `assign_to` inside Splynx, or the administrator holding the ticket has since
    been linked to an operator."""
    operator = admins.operator(admin_id) if admin_id else None
    holder: str | None = None
    kind: str | None = EventKind.REASSIGNED
    if admin_id == 0:
        text = _("Unassigned in Splynx.")
        kind = EventKind.UNASSIGNED
    elif operator is not None and admin_id == ticket.splynx_assigned_to:
        text = _(
            "Assigned to %(name)s, now linked to the Splynx administrator who has the ticket."
        ) % {"name": operator.name}
        kind = None  # assigned, or reassigned if someone here had it meanwhile
    elif operator is not None:
        text = _("Reassigned in Splynx to %(name)s.") % {"name": operator.name}
    else:
        holder = holder_name(admins.names, admin_id)
        text = _("Reassigned in Splynx to %(name)s.") % {"name": admins.names.name(admin_id)}
        text += " " + _(
            "No operator is linked to that administrator: unassigned here, and ispdesk's "
            "engine leaves it with them."
        )
    return assign_from_splynx(
        ticket.pk,
        admin_id,
        operator,
        text,
        now,
        kind=kind,
        expected=ticket.splynx_assigned_to,
        holder=holder,
    )


def _followed_status(ticket: Ticket, remote: SplynxTicket, config: Mapping[str, Any]) -> str:
    """The open status Splynx set after our last sync, if it maps to one we follow."""
    statuses = mappings_of(config)["statuses"]
    mapped = {theirs: ours for ours, theirs in statuses.items() if ours in FOLLOWED_STATUSES}
    ours = mapped.get(remote.status_id, "")
    if not ours or ours == ticket.status or ticket.status == Status.NEW:
        return ""
    changed = remote.updated_at
    if changed is None or ticket.splynx_synced_at is None:
        return ""
    return ours if from_splynx_time(changed, config) > ticket.splynx_synced_at else ""


def _needs_following(ticket: Ticket, admin_id: int, admins: Administrators) -> bool:
    """Whether Splynx's assignee must be followed here: it changed there, or the ticket is
    held by an administrator who has been linked to an operator since (Splynx shows no
    change then, so comparing ids alone would leave it held for ever)."""
    if admin_id != ticket.splynx_assigned_to:
        return True
    return ticket.splynx_held and admin_id != 0 and admins.operator(admin_id) is not None


def _stamp(ticket_id: int, at: datetime | None) -> None:
    """Splynx agrees as of `at` (never moved back): for a close or reopening made here
    because Splynx says so, which therefore is not one to send there."""
    if at is None:
        return
    Ticket.objects.filter(pk=ticket_id).filter(
        Q(splynx_synced_at__isnull=True) | Q(splynx_synced_at__lt=at)
    ).update(splynx_synced_at=at)


def _apply_remote(
    ticket: Ticket,
    remote: SplynxTicket,
    client: SplynxClient,
    config: Mapping[str, Any],
    admins: Administrators,
    now: datetime,
    counts: dict[str, int],
) -> bool:
    """Bring one local ticket in line with Splynx; False when they still disagree."""
    closed_there = remote.closed or remote.trash
    if closed_there and ticket.is_open:
        if ticket.splynx_reopen_pending:
            # Reopened here and not yet there: `push_reopens`' work, not a close.
            return False
        note = _("Deleted in Splynx.") if remote.trash else _("Closed in Splynx.")
        ticket = do_close_ticket(None, ticket, note=note)
        _stamp(ticket.pk, ticket.closed_at)
        counts["closed"] += 1
    elif not closed_there and not ticket.is_open:
        pushed = (
            ticket.splynx_synced_at is not None
            and ticket.closed_at is not None
            and ticket.splynx_synced_at >= ticket.closed_at
        )
        if not pushed:
            # Closed here and not yet closed there: the close job's work, not a reopening.
            return False
        ticket = do_reopen_ticket(None, ticket, note=_("Reopened in Splynx."))
        _stamp(ticket.pk, ticket.reopened_at)
        counts["reopened"] += 1
    if ticket.is_open:
        admin_id = remote.assign_to or 0
        if ticket.splynx_assigned_to is None:
            Ticket.objects.filter(pk=ticket.pk).update(splynx_assigned_to=admin_id)
        elif _needs_following(ticket, admin_id, admins):
            # The list is a snapshot from before this ticket was read here: a push may have
            # changed both since. Read Splynx's ticket again, then ours, and compare those.
            remote = client.get_ticket(remote.id)
            ticket.refresh_from_db()
            admin_id = remote.assign_to or 0
            if (
                ticket.is_open
                and _needs_following(ticket, admin_id, admins)
                and _follow_assignee(ticket, admin_id, admins, now)
            ):
                counts["reassigned"] += 1
                ticket.refresh_from_db()
        status = _followed_status(ticket, remote, config) if ticket.is_open else ""
        if status:
            do_change_status(None, ticket, status)
            counts["status_changed"] += 1
    return True


def _tracked_ids(now: datetime) -> list[tuple[int, int]]:
    recent = Q(status__in=OPEN_STATUSES) | Q(closed_at__gte=now - RECENTLY_CLOSED)
    rows = (
        Ticket.objects.filter(recent, splynx_ticket_id__isnull=False)
        .order_by("pk")
        .values_list("pk", "splynx_ticket_id")
    )
    return [(pk, splynx_id) for pk, splynx_id in rows if splynx_id]


def sync_status(
    *, client: SplynxClient | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Splynx → here for open (and recently closed) linked tickets, read a page of ids per
    call: closes, reopenings, hand reassignments and followed statuses."""
    now = now or timezone.now()
    counts = dict.fromkeys(
        ("checked", "closed", "reopened", "reassigned", "status_changed", "errors"), 0
    )
    system, client, problem = client_for(client)
    if client is None:
        logger.info("Splynx status sync skipped: %s", problem)
        return counts
    config = system.config or {}
    admins = Administrators(client)
    tracked = _tracked_ids(now)
    for start in range(0, len(tracked), BATCH):
        chunk = dict(tracked[start : start + BATCH])
        if not _sync_page(chunk, client, config, admins, now, counts):
            break
    return counts


def _sync_page(
    chunk: Mapping[int, int],
    client: SplynxClient,
    config: Mapping[str, Any],
    admins: Administrators,
    now: datetime,
    counts: dict[str, int],
) -> bool:
    """One page of tracked tickets (local id → Splynx id); False when Splynx stopped
    answering: the other pages would fail the same way."""
    try:
        remote = client.list_tickets(
            conditions=[Condition("id", "IN", sorted(set(chunk.values())))],
            include_trash=True,
        )
    except SplynxError as exc:
        logger.warning("Splynx status sync stopped: %s", exc.message)
        counts["errors"] += 1
        return False
    by_id = {ticket.id: ticket for ticket in remote}
    agreed: list[int] = []
    answering = True
    for ticket in Ticket.objects.filter(pk__in=list(chunk)).order_by("pk"):
        found = by_id.get(ticket.splynx_ticket_id or 0)
        if found is None:
            continue
        counts["checked"] += 1
        try:
            if _apply_remote(ticket, found, client, config, admins, now, counts):
                agreed.append(ticket.pk)
        except TicketActionError as exc:
            logger.warning("Splynx sync of ticket %s: %s", ticket.pk, exc.message)
            counts["errors"] += 1
        except SplynxError as exc:
            logger.warning("Splynx sync of ticket %s: %s", ticket.pk, error_words(exc))
            counts["errors"] += 1
            if not exc.permanent:
                answering = False
                break
    # Never back: a close or reopening followed above is stamped at its own (later)
    # moment, so it is not sent back to Splynx as one of ours.
    Ticket.objects.filter(pk__in=agreed).filter(
        Q(splynx_synced_at__isnull=True) | Q(splynx_synced_at__lt=now)
    ).update(splynx_synced_at=now)
    return answering
