"""Tickets between ispdesk and Splynx: push (create once, assign), close and reopen there
(`push_reopens` sends the reopenings made here), and the body of the `import_existing` job.
`sync_status` (Splynx → here) is in `splynx_follow`, and is importable from here too.

No Splynx call happens inside a transaction: a slow Splynx must not hold row locks (on
SQLite a write transaction blocks every writer). So a create is *claimed* instead: under the
ticket's row lock `splynx_create_started_at` is set and committed before the POST. Whoever
later finds it set without a Splynx id looks the ticket up in Splynx (customer, subject,
created since the claim) before creating again, and leaves a fresh claim alone: another
worker is in the middle of that create. Call these functions outside any transaction.

Splynx errors never escape: they are stored on the ticket in words (`splynx_error`), with
the step that failed (`splynx_error_step`: only that step's success clears it), and
returned; programming errors (an unknown ticket id) raise. Sync bookkeeping is written with
`update()` so it does not count as activity on the ticket (`updated_at` drives the alerts).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.integrations.splynx.client import (
    NEW_STATUS_ID,
    RESOLVED_STATUS_ID,
    SplynxClient,
)
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.integrations.splynx.records import Customer
from ispdesk.integrations.splynx.records import Ticket as SplynxTicket
from ispdesk.operators.models import Operator
from ispdesk.pipeline.run_context import Deadline

# `sync_status` and `RECENTLY_CLOSED` live in splynx_follow; re-exported for older callers.
from ispdesk.pipeline.splynx_follow import RECENTLY_CLOSED as RECENTLY_CLOSED
from ispdesk.pipeline.splynx_follow import assign_from_splynx, client_for, holder_name
from ispdesk.pipeline.splynx_follow import sync_status as sync_status
from ispdesk.pipeline.splynx_settings import mappings_of
from ispdesk.pipeline.splynx_sync_customers import (
    ASSIGN,
    BATCH,
    CREATE,
    ERROR_MAX,
    MESSAGE,
    STATE,
    AdministratorNames,
    CustomerMatch,
    clears_error,
    customers_by_ids,
    error_words,
    from_splynx_time,
    mark_synced,
    match_customer,
    operators_by_person,
    to_splynx_time,
)
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.tickets.actions import (
    NewTicket,
    TicketActionError,
    do_auto_assign,
    do_create_ticket,
    lock_ticket,
    ticket_groups,
)
from ispdesk.tickets.models import (
    EventKind,
    Priority,
    Source,
    Ticket,
    TicketEvent,
)

logger = logging.getLogger("ispdesk.pipeline.splynx")

# A claim younger than this is another worker's create in flight (a create is one attempt
# of at most the client timeout; this leaves a wide margin).
CREATE_LEASE = timedelta(minutes=2)
# How far before the claim a lost create is looked for (clocks of two machines differ).
LOOKBACK = timedelta(minutes=5)
# Reopenings sent per `push_reopens` run, and the failures with none sent that end the run
# (Splynx is likely down; the next run tries again).
REOPEN_BATCH = 100
REOPEN_MAX_FAILURES = 3


@dataclass(frozen=True)
class PushResult:
    ticket_id: int
    # A Splynx ticket was linked by this call (created, or found after a create whose
    # answer was lost).
    created: bool
    splynx_ticket_id: int | None
    # This call set `assign_to` in Splynx (on create, or by an update).
    assigned: bool
    # Why the push failed, in words (empty on success).
    error: str
    # Something worth knowing that is not a failure ("customer not found", "in progress").
    note: str = ""


# Helpers -------------------------------------------------------------------------------------


def first_message_html(body: str) -> str:
    """The ticket body as a Splynx message: escaped, line breaks kept."""
    text = body.strip().replace("\r\n", "\n").replace("\r", "\n")
    return html.escape(text).replace("\n", "<br>")


def _new_status(mappings: Mapping[str, Any]) -> int:
    return int(mappings.get("new_status_id") or mappings["statuses"].get("new") or NEW_STATUS_ID)


def _resolved_status(mappings: Mapping[str, Any]) -> int:
    return int(
        mappings.get("resolved_status_id")
        or mappings["statuses"].get("closed")
        or RESOLVED_STATUS_ID
    )


def _person_id(operator_id: int | None) -> int:
    """The Splynx administrator an assignee works as; 0 (unassigned there) when none."""
    if operator_id is None:
        return 0
    found = Operator.objects.filter(pk=operator_id).values_list("person_id", flat=True).first()
    return found or 0


def _record_sync(
    ticket: Ticket,
    now: datetime,
    text: str,
    after: Mapping[str, Any],
    *,
    step: str,
    stamp: bool = True,
    **fields: Any,
) -> None:
    """Inside the caller's transaction, on the locked `ticket`: the sync's bookkeeping,
    history, audit and event."""
    mark_synced(ticket, now, step, stamp=stamp, **fields)
    TicketEvent.objects.create(ticket=ticket, kind=EventKind.SYNCED, created_at=now, text=text)
    record_audit(None, "ticket.splynx_synced", ticket, after=dict(after))
    send_event_on_commit(ticket_groups(ticket), {"type": "ticket:update", "ticket": ticket.pk})


def _store_error(ticket_id: int, words: str, step: str) -> None:
    logger.warning("Splynx sync of ticket %s failed: %s", ticket_id, words)
    rows = Ticket.objects.filter(pk=ticket_id).exclude(splynx_error=words, splynx_error_step=step)
    if step != MESSAGE:
        # A missing first message (or an error from before steps were recorded, which may be
        # one) stays until the push repairs it: it is what tells the push to look.
        rows = rows.exclude(Q(splynx_error_step__in=(MESSAGE, "")) & ~Q(splynx_error=""))
    changed = rows.update(splynx_error=words, splynx_error_step=step)
    if changed:
        send_event_on_commit(
            [f"ticket.{ticket_id}", "role.admin", "role.supervisor"],
            {"type": "ticket:update", "ticket": ticket_id},
        )


def _guarded(ticket_id: int, step: str, call: Callable[[], bool]) -> bool:
    try:
        return call()
    except SplynxError as exc:
        _store_error(ticket_id, error_words(exc), step)
        return False


# Push: create once, then keep assign_to in step ---------------------------------------------


def push_ticket(
    ticket_id: int, *, client: SplynxClient | None = None, now: datetime | None = None
) -> PushResult:
    """Make sure the ticket exists in Splynx, once, assigned to its local assignee."""
    now = now or timezone.now()
    system, client, problem = client_for(client)
    if client is None:
        return PushResult(ticket_id, False, None, False, problem)
    try:
        return _push(ticket_id, client, system.config or {}, now)
    except SplynxError as exc:
        words = error_words(exc)
        linked = Ticket.objects.filter(pk=ticket_id).values_list("splynx_ticket_id", flat=True)
        splynx_id = linked.first()
        # Once linked, what is left to fail is `assign_to` (message failures are caught
        # where they happen).
        _store_error(ticket_id, words, ASSIGN if splynx_id else CREATE)
        return PushResult(ticket_id, False, splynx_id, False, words)


def _push(
    ticket_id: int, client: SplynxClient, config: Mapping[str, Any], now: datetime
) -> PushResult:
    ticket = Ticket.objects.get(pk=ticket_id)
    if ticket.splynx_ticket_id:
        return _push_existing(ticket, client, now)
    match = match_customer(client, ticket, config)
    customer_id = match.customer.id if match.customer else 0
    started = ticket.splynx_create_started_at
    if started is not None:
        found = _find_created(client, ticket, customer_id, started, config)
        if found is not None:
            return _link(ticket.pk, found, client, now, match, adopted=True)
        # The wall clock, not the run's `now`: late in a long run `now` is minutes old, and
        # a fresh claim would look stale (the ticket would be created twice).
        if timezone.now() - started < CREATE_LEASE:
            return _in_progress(ticket.pk)
    claimed = _claim(ticket.pk, started, match)
    if claimed is None:
        return _in_progress(ticket.pk)
    if claimed.splynx_ticket_id:
        return PushResult(ticket.pk, False, claimed.splynx_ticket_id, False, "")
    mappings = mappings_of(config)
    assign_to = _person_id(claimed.assignee_id)
    try:
        created = client.create_ticket(
            customer_id=customer_id or None,
            subject=claimed.subject,
            priority=claimed.priority,
            status_id=_new_status(mappings),
            group_id=mappings.get("default_group_id"),
            type_id=mappings.get("default_type_id"),
            assign_to=assign_to or None,
        )
    except SplynxError as exc:
        if not exc.maybe_created:
            # Splynx refused it or never got it: nothing exists there to find later.
            Ticket.objects.filter(pk=ticket.pk, splynx_ticket_id__isnull=True).update(
                splynx_create_started_at=None
            )
            raise
        since = claimed.splynx_create_started_at or timezone.now()
        found = _find_created(client, claimed, customer_id, since, config)
        if found is None:
            # The claim stays: the next run looks for it again before creating.
            raise
        return _link(ticket.pk, found, client, now, match, adopted=True)
    return _link(ticket.pk, created, client, now, match, adopted=False)


def _in_progress(ticket_id: int) -> PushResult:
    note = _("Another worker is creating this ticket in Splynx right now.")
    return PushResult(ticket_id, False, None, False, "", note)


def _claim(ticket_id: int, started: datetime | None, match: CustomerMatch) -> Ticket | None:
    """Mark the create as started, now by the wall clock (other workers judge the claim's
    age by theirs), and commit; None when someone else claimed it first."""
    with transaction.atomic():
        locked = lock_ticket(ticket_id)
        if locked.splynx_ticket_id:
            return locked
        if locked.splynx_create_started_at != started:
            return None
        fields: dict[str, Any] = {"splynx_create_started_at": timezone.now()}
        customer = match.customer
        if customer is not None:
            fields.update(
                customer_splynx_id=customer.id,
                customer_login=customer.login[:64],
                customer_status=customer.status[:16],
            )
            if not locked.customer_name:
                fields["customer_name"] = customer.name[:200]
        Ticket.objects.filter(pk=ticket_id).update(**fields)
        for name, value in fields.items():
            setattr(locked, name, value)
    return locked


def _find_created(
    client: SplynxClient,
    ticket: Ticket,
    customer_id: int,
    since: datetime,
    config: Mapping[str, Any],
) -> SplynxTicket | None:
    """The Splynx ticket an earlier create of this ticket left, if any. Tickets already
    linked here are not candidates: two cases with one subject must not share one."""
    candidates = client.list_tickets(
        customer_id=customer_id,
        created_since=to_splynx_time(since - LOOKBACK, config),
        include_trash=True,
    )
    wanted = ticket.subject.strip()
    found = [candidate for candidate in candidates if candidate.subject.strip() == wanted]
    linked = set(
        Ticket.objects.filter(splynx_ticket_id__in=[c.id for c in found]).values_list(
            "splynx_ticket_id", flat=True
        )
    )
    return max(
        (candidate for candidate in found if candidate.id not in linked),
        key=lambda candidate: candidate.id,
        default=None,
    )


def _link(
    ticket_id: int,
    remote: SplynxTicket,
    client: SplynxClient,
    now: datetime,
    match: CustomerMatch,
    *,
    adopted: bool,
) -> PushResult:
    """Record the Splynx ticket, then add the first message and settle the assignee."""
    admin = remote.assign_to or 0
    if adopted:
        text = _("Found Splynx ticket %(id)s, created by an earlier attempt whose answer was lost.")
    else:
        text = _("Created in Splynx as ticket %(id)s.")
    text %= {"id": remote.id}
    if match.customer is not None:
        text += " " + _("Customer: %(name)s (%(id)s).") % {
            "name": match.customer.name,
            "id": match.customer.id,
        }
    elif match.note:
        text += " " + match.note
    with transaction.atomic():
        locked = lock_ticket(ticket_id)
        if locked.splynx_ticket_id:
            # Another worker linked it meanwhile (the same Splynx ticket, found by its
            # lookup): it records it and adds the message, once.
            return PushResult(ticket_id, False, locked.splynx_ticket_id, False, "")
        try:
            with transaction.atomic():  # a savepoint: the lock above stays usable
                _record_sync(
                    locked,
                    now,
                    text,
                    {"splynx_ticket_id": remote.id, "assign_to": admin, "adopted": adopted},
                    step=CREATE,
                    splynx_ticket_id=remote.id,
                    splynx_assigned_to=admin,
                )
        except IntegrityError:
            return _linked_elsewhere(ticket_id, remote.id)
    ticket = Ticket.objects.get(pk=ticket_id)
    try:
        _first_message(client, ticket, check_existing=adopted)
    except SplynxError as exc:
        words = _(
            "The ticket was created in Splynx but its first message was not added: %(reason)s"
        ) % {"reason": error_words(exc)}
        _store_error(ticket_id, words[:ERROR_MAX], MESSAGE)
        return PushResult(ticket_id, True, remote.id, bool(admin), words, match.note)
    assigned = _settle_assignee(ticket, client, now)
    return PushResult(ticket_id, True, remote.id, bool(admin) or assigned, "", match.note)


def _linked_elsewhere(ticket_id: int, splynx_id: int) -> PushResult:
    """Another ticket here took this Splynx ticket first (each links one: the table's unique
    index). This one stays unlinked; a later push looks for its own or creates one."""
    logger.warning(
        "Splynx ticket %s is linked to another ticket; ticket %s stays unlinked",
        splynx_id,
        ticket_id,
    )
    note = _("Splynx ticket %(id)s was linked to another ticket here meanwhile.") % {
        "id": splynx_id
    }
    return PushResult(ticket_id, False, None, False, "", note)


def _first_message(client: SplynxClient, ticket: Ticket, *, check_existing: bool) -> None:
    if not ticket.body.strip() or ticket.splynx_ticket_id is None:
        return
    if check_existing and client.list_ticket_messages(ticket.splynx_ticket_id):
        return
    client.add_ticket_message(ticket.splynx_ticket_id, first_message_html(ticket.body))


def _push_existing(ticket: Ticket, client: SplynxClient, now: datetime) -> PushResult:
    if ticket.splynx_error and clears_error(MESSAGE, ticket.splynx_error_step):
        # The first message may be what is missing. Clearing that error with a conditional
        # UPDATE claims the repair: of two workers (the flow and the create job) only one
        # adds the message. A failure stores the error again. Errors of other steps (a
        # reopening that failed, say) are not this repair's to clear.
        claimed = Ticket.objects.filter(
            pk=ticket.pk,
            splynx_error=ticket.splynx_error,
            splynx_error_step=ticket.splynx_error_step,
        ).update(splynx_error="", splynx_error_step="")
        if claimed:
            try:
                _first_message(client, ticket, check_existing=True)
            except SplynxError as exc:
                words = error_words(exc)
                _store_error(ticket.pk, words, MESSAGE)
                return PushResult(ticket.pk, False, ticket.splynx_ticket_id, False, words)
    assigned = _settle_assignee(ticket, client, now)
    return PushResult(ticket.pk, False, ticket.splynx_ticket_id, assigned, "")


def _settle_assignee(ticket: Ticket, client: SplynxClient, now: datetime) -> bool:
    """Set `assign_to` to the local assignee's administrator when ours changed; True if
    Splynx was changed. A hand reassignment inside Splynx is never overwritten here:
    `sync_status` records and follows it; and a ticket held by an administrator with no
    operator here (`Ticket.splynx_held`) is left with them."""
    assert ticket.splynx_ticket_id is not None
    desired = _person_id(ticket.assignee_id)
    known = ticket.splynx_assigned_to
    if ticket.splynx_held or (known is not None and desired == known):
        if ticket.splynx_error_step == ASSIGN:
            # Nothing left to send (the assignee came back, or Splynx holds it): an old
            # failure to send it is over.
            Ticket.objects.filter(pk=ticket.pk, splynx_error_step=ASSIGN).update(
                splynx_error="", splynx_error_step=""
            )
        return False
    current = client.get_ticket(ticket.splynx_ticket_id).assign_to or 0
    if known is not None and current != known:
        return False
    # Recorded after the PUT, not before: a status sync that reads Splynx while the PUT is
    # on its way then sees Splynx and the record agree on the old administrator. Recorded
    # first, it would find them apart, take the old administrator for a hand reassignment
    # and give the ticket back to them. The other window (PUT applied, record not yet) is
    # harmless: `assign_from_splynx` leaves a ticket whose assignee Splynx already names.
    if current != desired:
        client.assign_ticket(ticket.splynx_ticket_id, desired or None)
    with transaction.atomic():
        locked = lock_ticket(ticket.pk)
        if desired:
            text = _("Assigned in Splynx to administrator %(id)s.") % {"id": desired}
        else:
            text = _("Unassigned in Splynx.")
        _record_sync(
            locked,
            now,
            text,
            {"assign_to": desired},
            step=ASSIGN,
            # Says nothing about open or closed: a reopening not yet sent stays pending.
            stamp=not locked.splynx_reopen_pending,
            splynx_assigned_to=desired,
        )
    return current != desired


def push_assignment(ticket_id: int, *, client: SplynxClient | None = None) -> bool:
    """Set `assign_to` in Splynx to the local assignee's administrator (0 when nobody) if it
    differs from what Splynx last had; True when Splynx was changed."""
    _system, client, _problem = client_for(client)
    ticket = Ticket.objects.get(pk=ticket_id)
    if client is None or not ticket.splynx_ticket_id:
        return False
    ready = client
    return _guarded(ticket_id, ASSIGN, lambda: _settle_assignee(ticket, ready, timezone.now()))


# Close and reopen in Splynx -----------------------------------------------------------------


def close_in_splynx(ticket_id: int, *, client: SplynxClient | None = None) -> bool:
    """Close the ticket in Splynx with the mapped "resolved" status; True when Splynx has it
    closed (already or now)."""
    return _set_closed(ticket_id, client, closed=True)


def reopen_in_splynx(ticket_id: int, *, client: SplynxClient | None = None) -> bool:
    """Reopen the ticket in Splynx with the mapped "new" status; True when Splynx has it
    open (already or now)."""
    return _set_closed(ticket_id, client, closed=False)


def _already(remote: SplynxTicket, *, closed: bool, resolved: int) -> bool:
    """Splynx already has the ticket as wanted. Any close there counts, whatever status the
    agent chose for it (we never overwrite it); open counts unless it still carries the
    resolved status."""
    if closed:
        return remote.closed or remote.trash
    return not remote.closed and remote.status_id != resolved


def _set_closed(ticket_id: int, client: SplynxClient | None, *, closed: bool) -> bool:
    system, client, _problem = client_for(client)
    ticket = Ticket.objects.get(pk=ticket_id)
    if client is None or not ticket.splynx_ticket_id:
        return False
    mappings = mappings_of(system.config or {})
    resolved = _resolved_status(mappings)
    status_id = resolved if closed else _new_status(mappings)
    splynx_id = ticket.splynx_ticket_id
    ready = client

    def change() -> bool:
        now = timezone.now()
        remote = ready.get_ticket(splynx_id)
        if _already(remote, closed=closed, resolved=resolved):
            # A repeated call, or done by hand: no second history entry.
            with transaction.atomic():
                mark_synced(lock_ticket(ticket_id), now, STATE)
            return True
        if closed:
            ready.close_ticket(splynx_id, status_id)
            text = _("Closed in Splynx.")
        else:
            ready.reopen_ticket(splynx_id, status_id)
            text = _("Reopened in Splynx.")
        with transaction.atomic():
            _record_sync(
                lock_ticket(ticket_id),
                now,
                text,
                {"closed": closed, "status_id": status_id},
                step=STATE,
            )
        return True

    return _guarded(ticket_id, STATE, change)


def push_reopens(
    now: datetime, client: SplynxClient, deadline: Deadline | None = None
) -> tuple[int, int]:
    """Reopen in Splynx the tickets reopened here (by a person, or because the case is open
    at the source) whose reopening has not reached it yet, including ones that failed
    before: (reopened, failed). Until then the status sync leaves them open (see
    `Ticket.splynx_reopen_pending`)."""
    rows = (
        Ticket.objects.open()
        .filter(
            splynx_ticket_id__isnull=False,
            reopened_at__gte=now - RECENTLY_CLOSED,
        )
        .filter(Q(splynx_synced_at__isnull=True) | Q(splynx_synced_at__lt=F("reopened_at")))
        .order_by("reopened_at", "pk")
        .values_list("pk", flat=True)[:REOPEN_BATCH]
    )
    reopened = failed = 0
    for ticket_id in list(rows):
        if deadline is not None and deadline.passed():
            break
        if reopen_in_splynx(ticket_id, client=client):
            reopened += 1
        else:
            failed += 1
            if failed >= REOPEN_MAX_FAILURES and not reopened:
                break
    return reopened, failed


# Import of Splynx-native tickets --------------------------------------------------------------


def _pending_subjects() -> set[str]:
    """Subjects of our own creates in flight: their Splynx tickets are not strangers."""
    pending = Ticket.objects.filter(
        splynx_ticket_id__isnull=True, splynx_create_started_at__isnull=False
    ).values_list("subject", flat=True)
    return {subject.strip() for subject in pending}


def _known_ids(ids: list[int]) -> set[int]:
    known: set[int] = set()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        known.update(
            number
            for number in Ticket.objects.filter(splynx_ticket_id__in=chunk).values_list(
                "splynx_ticket_id", flat=True
            )
            if number
        )
        native = Ticket.objects.filter(
            source=Source.SPLYNX, external_id__in=[str(n) for n in chunk]
        ).values_list("external_id", flat=True)
        known.update(int(number) for number in native if number.isdigit())
    return known


def import_existing(
    *, client: SplynxClient | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Open Splynx tickets unknown here become `Source.SPLYNX` tickets, once each: with the
    Splynx assignee when one is linked, otherwise (nobody assigned there) the engine's."""
    now = now or timezone.now()
    counts = dict.fromkeys(("seen", "imported", "assigned", "errors"), 0)
    system, client, problem = client_for(client)
    if client is None:
        logger.info("Splynx import skipped: %s", problem)
        return counts
    config = system.config or {}
    try:
        remote = client.list_tickets(open_only=True)
    except SplynxError as exc:
        logger.warning("Splynx import failed: %s", exc.message)
        counts["errors"] += 1
        return counts
    counts["seen"] = len(remote)
    # Creates in flight first, links second: a create that links its ticket between the two
    # reads is then seen in one of them (the other order could miss it in both).
    pending = _pending_subjects()
    known = _known_ids([ticket.id for ticket in remote])
    strangers = [t for t in remote if t.id not in known and t.subject.strip() not in pending]
    if not strangers:
        return counts
    try:
        customers = customers_by_ids(client, [t.customer_id or 0 for t in strangers])
    except SplynxError as exc:
        # Names are a nicety; the tickets still come in and the customer id is kept.
        logger.info("Splynx customers unavailable for the import: %s", exc.message)
        customers = {}
    operators = operators_by_person({t.assign_to or 0 for t in strangers})
    admins = AdministratorNames(client)
    for remote_ticket in strangers:
        try:
            imported, assigned = _import_one(
                remote_ticket, customers, operators, admins, client, config, now
            )
        except TicketActionError as exc:
            logger.warning("Splynx ticket %s not imported: %s", remote_ticket.id, exc.message)
            counts["errors"] += 1
            continue
        counts["imported"] += int(imported)
        counts["assigned"] += int(assigned)
    return counts


def _import_one(
    remote: SplynxTicket,
    customers: Mapping[int, Customer],
    operators: Mapping[int, Operator],
    admins: AdministratorNames,
    client: SplynxClient,
    config: Mapping[str, Any],
    now: datetime,
) -> tuple[bool, bool]:
    customer = customers.get(remote.customer_id or 0)
    admin_id = remote.assign_to or 0
    operator = operators.get(admin_id) if admin_id else None
    # Splynx already has an owner we cannot map: recorded, and held from the start so the
    # engine never second-guesses it (see `Ticket.splynx_held`).
    holder = holder_name(admins, admin_id) if admin_id and operator is None else None
    priority = remote.priority if remote.priority in Priority.values else Priority.MEDIUM
    subject = remote.subject.strip() or _("Splynx ticket %(id)s") % {"id": remote.id}
    created_at = from_splynx_time(remote.created_at, config) if remote.created_at else None
    ticket, is_new = do_create_ticket(
        None,
        NewTicket(
            subject=subject,
            source=Source.SPLYNX,
            external_id=str(remote.id),
            priority=priority,
            customer_name=customer.name if customer else "",
            customer_splynx_id=remote.customer_id,
            splynx_ticket_id=remote.id,
            splynx_assigned_to=admin_id,
            splynx_holder=holder,
            created_at=min(created_at, now) if created_at else now,
        ),
        auto_assign=False,
    )
    if not is_new:
        return False, False
    Ticket.objects.filter(pk=ticket.pk).update(
        customer_login=customer.login[:64] if customer else "",
        customer_status=customer.status[:16] if customer else "",
        splynx_synced_at=now,
    )
    if holder is not None:
        text = _("Assigned in Splynx to %(name)s, who is not linked to an operator.") % {
            "name": admins.name(admin_id)
        }
        with transaction.atomic():
            _record_sync(
                lock_ticket(ticket.pk),
                now,
                text,
                {"assign_to": admin_id, "held_in_splynx": True},
                step=ASSIGN,
            )
        return True, False
    if operator is not None:
        text = _("Assigned in Splynx to %(name)s.") % {"name": operator.name}
        assigned = assign_from_splynx(
            ticket.pk, admin_id, operator, text, now, kind=EventKind.ASSIGNED, expected=admin_id
        )
        return True, assigned
    decision = do_auto_assign(None, ticket, now)
    if decision.operator_id is None:
        return True, False
    push_assignment(ticket.pk, client=client)
    return True, True
