"""The ticket flow: cases from Gestión Real become local tickets, then Splynx tickets, then
an operator's WhatsApp notice; and cases closed at the source close everywhere.

The jobs in `ispdesk.pipeline.jobs` call these functions; each returns counts for its
JobRun. Every step is idempotent, so a re-run (or a second worker) repeats nothing:
- tickets are created once per (source, case number) by `do_create_ticket`;
- Splynx creates go through `splynx_sync.push_ticket`, which looks up a create whose answer
  was lost before sending it again;
  a failed create is recorded (`ticket.splynx_push_failed`) and retried after a wait that
  doubles each time;
- an assignment notice is sent once per assignment event, recorded by an audit event
  (`ticket.assignment_notice`) written in the same transaction as the queued message.

Close sync reopens only what ispdesk itself closed because Splynx said so (the last close
has no person as actor): a close by a person in ispdesk is respected, and pushed to Splynx.

A case's state is applied to its ticket wherever the case is read (`case_state`): the
download closes a ticket whose case it sees closed at once, and the close sync's per-case
checks are the safety net for cases the download missed.

Each run stops starting Splynx and Gestión Real calls at its deadline (half the jobs' lease,
`run_context.Deadline`), so it never outlives its lease, and logs its Splynx client out at
the end (`run_context.SplynxSession`).

Runtime state that is not a setting lives in the Gestión Real row's `config`: `cursor` (cases
were downloaded up to this instant) and `close_sync_cursor` (the last ticket whose case was
checked; checks go round the open tickets so the least recently checked comes first).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery

from ispdesk.integrations.gestionreal.client import (
    Caso,
    Cliente,
    GestionRealClient,
    GestionRealError,
)
from ispdesk.integrations.gestionreal.mapping import argentina_date
from ispdesk.integrations.splynx.client import SplynxClient
from ispdesk.lib.http import HttpError
from ispdesk.messaging.notifications import assignment_values, notify_operator
from ispdesk.operators.models import Operator
from ispdesk.pipeline import splynx_sync
from ispdesk.pipeline.case_state import (
    SourceStates,
    closed_states,
    positive_int,
    record_source_state,
    reopen_window,
)
from ispdesk.pipeline.csv_import import (
    CASE_SOURCES,
    Outcome,
    existing_tickets,
    filters_from_config,
    import_watched_folder,
    skip_reason,
    ticket_for_caso,
)
from ispdesk.pipeline.gestionreal_settings import client_for
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.run_context import Deadline, SplynxSession
from ispdesk.pipeline.run_context import splynx_enabled as splynx_enabled
from ispdesk.system.audit import AuditEvent, record_audit
from ispdesk.tickets.actions import TicketActionError, do_create_ticket
from ispdesk.tickets.models import OPEN_STATUSES, EventKind, Status, Ticket, TicketEvent

logger = logging.getLogger("ispdesk.pipeline.flow")

# A first download (no cursor yet) looks back this far.
FIRST_LOOKBACK = timedelta(days=1)
# The cursor is stored this much before the run: Gestión Real filters by whole days in its
# own clock, so a case it stamps 23:59 while ours already says 00:02 is still read.
CURSOR_OVERLAP = timedelta(minutes=15)
# Cases whose state is checked per close_sync run: Gestión Real has one case per call.
DEFAULT_CLOSE_SYNC_BATCH = 50
# Tickets sent to Splynx per run, so one run stays well inside its lease.
PUSH_BATCH = 100
# A failed Splynx create is retried after RETRY_MIN, then twice as long each time, up to
# RETRY_MAX. Each failure is an audit event (PUSH_FAILED) carrying the run's `now`, which is
# how the wait is known without a column for it.
RETRY_MIN = timedelta(minutes=3)
RETRY_MAX = timedelta(hours=1)
PUSH_FAILED = "ticket.splynx_push_failed"
# Consecutive failed pushes after which a run stops pushing: Splynx is likely down, and each
# further call would wait for its timeout.
MAX_FAILURES_IN_A_ROW = 3
# Assignments older than this get no notice: after a night without runs a message about an
# assignment made hours ago tells the operator nothing the overdue alerts won't.
NOTICE_HORIZON = timedelta(hours=12)
NOTICE_ACTION = "ticket.assignment_notice"
ASSIGNMENT_TEMPLATE = "ticket_assigned"
TICKET_TYPE = "tickets.ticket"


# Settings and pure decisions -------------------------------------------------------------------
# (`closed_states`, `is_closed_state` and `reopen_window` live in `case_state`, shared with the
# CSV import.)


def close_sync_batch(config: Mapping[str, Any]) -> int:
    return positive_int(config, "close_sync_batch", DEFAULT_CLOSE_SYNC_BATCH)


def cursor_from(config: Mapping[str, Any], now: datetime) -> datetime:
    """Where the next download starts: the stored cursor, or a day ago."""
    raw = config.get("cursor")
    if isinstance(raw, str):
        try:
            cursor = datetime.fromisoformat(raw)
        except ValueError:
            cursor = None
        if cursor is not None and cursor.tzinfo is not None and cursor <= now:
            return cursor
    return now - FIRST_LOOKBACK


def retry_due(attempts: int, last_attempt: datetime | None, now: datetime) -> bool:
    """Whether a ticket whose Splynx create failed `attempts` times, the last at
    `last_attempt`, should be tried again now (pure): waits double from RETRY_MIN up to
    RETRY_MAX."""
    if attempts <= 0 or last_attempt is None:
        return True
    wait = min(RETRY_MAX, RETRY_MIN * 2 ** min(attempts - 1, 20))
    return now - last_attempt >= wait


def merge_casos(*lists: Iterable[Caso]) -> list[Caso]:
    """One case per id (the last list's copy wins: `modi` is fresher than `crea`), oldest
    first so tickets are assigned in the order customers called. Each list is read once,
    as it comes (pages straight from the API)."""
    by_id: dict[str, Caso] = {}
    for casos in lists:
        for caso in casos:
            by_id[caso.id] = caso
    return sorted(by_id.values(), key=_creation_order)


def _creation_order(caso: Caso) -> tuple[bool, datetime, str]:
    # Cases without a date go last; `datetime.min` only ever meets another undated case.
    return (caso.fecha_creacion is None, caso.fecha_creacion or datetime.min, caso.id)


# The settings rows ----------------------------------------------------------------------------


def _system(kind: str) -> ExternalSystem | None:
    return ExternalSystem.objects.filter(kind=kind).first()


def _mode(system: ExternalSystem) -> str:
    return str((system.config or {}).get("mode") or "api")


def _api_ready(system: ExternalSystem | None) -> bool:
    if system is None or not system.enabled or _mode(system) != "api":
        return False
    return bool((system.config or {}).get("cuit")) and bool((system.secrets or {}).get("secret"))


def _store_runtime_value(kind: str, key: str, value: Any) -> None:
    """Write one runtime value into the row's config under a lock, leaving the settings
    alone (an admin may be saving them). Not audited: it changes every few minutes."""
    with transaction.atomic():
        system = ExternalSystem.objects.select_for_update().filter(kind=kind).first()
        if system is None:
            return
        config = dict(system.config or {})
        config[key] = value
        # `update` rather than `save`: the settings' "last changed" stays the admin's.
        ExternalSystem.objects.filter(pk=system.pk).update(config=config)


# Download -------------------------------------------------------------------------------------


def _zero(*names: str) -> dict[str, int]:
    return dict.fromkeys(names, 0)


def download_cases(
    now: datetime,
    *,
    client: GestionRealClient | None = None,
    splynx: SplynxSession | None = None,
    deadline: Deadline | None = None,
) -> dict[str, int]:
    """New and changed cases from Gestión Real become local tickets (assigned by the engine),
    and the tickets of known cases follow their state (closed at the source: closed here and
    in Splynx at once).

    API mode reads the cases created or modified since the stored cursor and moves the
    cursor to `now` only after the read succeeded; CSV mode imports the watched folder, web
    mode the site's export.
    """
    counts = _zero("fetched", "created", "skipped", "closed", "reopened", "errors")
    system = _system(SystemKind.GESTIONREAL)
    if system is None or not system.enabled:
        return counts
    if _mode(system) == "csv":
        return _import_folder(counts)
    if _mode(system) == "web":
        return _web_export(counts)
    if not _api_ready(system):
        return counts
    config = dict(system.config or {})
    since = argentina_date(cursor_from(config, now))
    client = client or client_for(system)
    try:
        casos = merge_casos(client.casos("crea", since), client.casos("modi", since))
    except (GestionRealError, HttpError) as exc:
        logger.warning("gestionreal download failed: %s", exc)
        counts["errors"] += 1
        return counts
    deadline = deadline or Deadline.for_run()
    # A download run on its own (the `tickets.download` job) has a Splynx session of its own.
    with SplynxSession() if splynx is None else nullcontext(splynx) as session:
        _take_casos(casos, config, now, client, session, deadline, counts)
    _store_runtime_value(SystemKind.GESTIONREAL, "cursor", (now - CURSOR_OVERLAP).isoformat())
    return counts


def _take_casos(
    casos: Sequence[Caso],
    config: Mapping[str, Any],
    now: datetime,
    client: GestionRealClient,
    splynx: SplynxSession,
    deadline: Deadline,
    counts: dict[str, int],
) -> None:
    """New cases become tickets (through the filters); known ones update their ticket."""
    filters = filters_from_config(config)
    closed = closed_states(config)
    states = SourceStates(config, now, splynx, deadline)
    customers = _Customers(client, deadline)
    known = existing_tickets(caso.id for caso in casos)
    for caso in casos:
        counts["fetched"] += 1
        if caso.id in known:
            states.follow(known[caso.id], caso.estado, caso.ultima_modif)
            continue
        reason = skip_reason(
            filters, subject=caso.asunto, group=caso.asignado_a, state=caso.estado, closed=closed
        )
        if reason:
            counts["skipped"] += 1
            continue
        new = ticket_for_caso(caso, customers.get(caso.cliente_id))
        try:
            ticket, created = do_create_ticket(None, new, auto_assign=True)
        except TicketActionError as exc:
            logger.warning("case %s not imported: %s", caso.id, exc.message)
            counts["errors"] += 1
            continue
        counts["created"] += int(created)
        record_source_state(ticket.pk, caso.estado, now, history=not created)
    counts["closed"] += states.closed
    counts["reopened"] += states.reopened


class _Customers:
    """The customers of one download's new cases, each read once. A customer that cannot be
    read leaves its case without name and phone (logged), never without a ticket; once the
    service fails or the deadline passes, the run reads no more customers."""

    def __init__(self, client: GestionRealClient, deadline: Deadline) -> None:
        self.client = client
        self.deadline = deadline
        self.found: dict[str, Cliente | None] = {}
        self.stopped = False

    def get(self, cliente_id: str) -> Cliente | None:
        if not cliente_id:
            return None
        if cliente_id in self.found:
            return self.found[cliente_id]
        if self.stopped or self.deadline.passed():
            return None
        try:
            cliente = self.client.cliente(cliente_id)
        except GestionRealError as exc:
            logger.warning("gestionreal customer %s not read: %s", cliente_id, exc.message)
            cliente = None
            if exc.refuses_access or not exc.permanent:
                self.stopped = True  # the rest would fail alike
        self.found[cliente_id] = cliente
        return cliente


def _web_export(counts: dict[str, int]) -> dict[str, int]:
    # Imported here: only installations in web mode load the browser adapter.
    from ispdesk.pipeline.web_export import do_run_web_export

    outcome = do_run_web_export(None)
    _add_import_counts(counts, outcome.counts, ok=outcome.ok)
    counts["closed"] += outcome.counts.get("closed", 0)
    counts["reopened"] += outcome.counts.get("reopened", 0)
    return counts


def _import_folder(counts: dict[str, int]) -> dict[str, int]:
    for result in import_watched_folder():
        _add_import_counts(counts, result.counts, ok=result.ok)
        counts["closed"] += result.closed
        counts["reopened"] += result.reopened
    return counts


def _add_import_counts(
    counts: dict[str, int], outcomes: Mapping[str, int], *, ok: bool
) -> dict[str, int]:
    counts["fetched"] += sum(outcomes.get(name, 0) for name in _OUTCOMES)
    counts["created"] += outcomes.get(Outcome.CREATE, 0)
    counts["skipped"] += outcomes.get(Outcome.SKIPPED, 0)
    counts["errors"] += outcomes.get(Outcome.INVALID, 0) + int(not ok)
    return counts


_OUTCOMES = (Outcome.CREATE, Outcome.EXISTS, Outcome.SKIPPED, Outcome.INVALID)


# Splynx: create and assign ------------------------------------------------------------------


def _failures(since: Mapping[int, datetime | None]) -> dict[int, tuple[int, datetime | None]]:
    """Ticket id → (failed pushes since its last successful sync, when the last one was),
    from the audit log; `since` maps each ticket to that sync (None: never). A success starts
    the count again, so one old bad day does not make every later failure wait the longest."""
    found: dict[int, tuple[int, datetime | None]] = {}
    ids = [str(pk) for pk in since]
    for start in range(0, len(ids), 500):  # bounded IN lists
        rows = AuditEvent.objects.filter(
            action=PUSH_FAILED, object_type=TICKET_TYPE, object_id__in=ids[start : start + 500]
        ).values_list("object_id", "after")
        for object_id, after in rows:
            at = None
            if isinstance(after, dict) and isinstance(after.get("at"), str):
                try:
                    at = datetime.fromisoformat(after["at"])
                except ValueError:
                    at = None
            synced = since.get(int(object_id))
            if synced is not None and (at is None or at < synced):
                continue
            count, last = found.get(int(object_id), (0, None))
            found[int(object_id)] = (count + 1, max(filter(None, (last, at)), default=None))
    return found


def due_for_push(now: datetime) -> list[int]:
    """Open tickets not in Splynx yet, or linked but left with an error (a first message that
    did not go: `push_ticket` finishes it without duplicates), oldest first; failed ones once
    their wait is over."""
    rows = list(
        Ticket.objects.open()
        .filter(Q(splynx_ticket_id__isnull=True) | ~Q(splynx_error=""))
        .order_by("created_at", "pk")
        .values_list("pk", "splynx_error", "splynx_synced_at")
    )
    failures = _failures({pk: synced for pk, error, synced in rows if error})
    return [
        pk
        for pk, error, _synced in rows
        if not error or retry_due(*failures.get(pk, (0, None)), now=now)
    ]


def push_pending(
    now: datetime, client: SplynxClient, deadline: Deadline | None = None
) -> dict[str, int]:
    """Create in Splynx every open ticket that has no Splynx id yet (failures wait), up to
    PUSH_BATCH, until MAX_FAILURES_IN_A_ROW failures in a row or the run's deadline."""
    deadline = deadline or Deadline.for_run()
    counts = _zero("pushed", "assigned", "errors")
    in_a_row = 0
    for ticket_id in due_for_push(now)[:PUSH_BATCH]:
        if deadline.passed():
            break
        result = splynx_sync.push_ticket(ticket_id, client=client, now=now)
        linked = result.created and result.splynx_ticket_id is not None
        counts["pushed"] += int(linked)
        counts["assigned"] += int(result.assigned)
        if not result.error:
            in_a_row = 0
            continue
        counts["errors"] += 1
        if not linked:
            in_a_row += 1
            record_audit(
                None,
                PUSH_FAILED,
                object_type=TICKET_TYPE,
                object_id=str(ticket_id),
                object_repr=f"#{ticket_id}",
                after={"at": now.isoformat(), "error": result.error[:500]},
            )
            if in_a_row >= MAX_FAILURES_IN_A_ROW:
                break
    return counts


def push_assignments(client: SplynxClient, deadline: Deadline | None = None) -> int:
    """Set `assign_to` in Splynx where the local assignee differs from what Splynx has. A
    ticket held by a Splynx administrator with no operator here is theirs: never pushed.
    Like `push_pending`: up to PUSH_BATCH tickets, until MAX_FAILURES_IN_A_ROW failures in
    a row (each kept on its ticket) or the run's deadline; the next run goes on."""
    deadline = deadline or Deadline.for_run()
    rows = (
        Ticket.objects.open()
        .filter(splynx_ticket_id__isnull=False, splynx_held=False)
        .order_by("pk")
        .values_list("pk", "assignee__person_id", "splynx_assigned_to")
    )
    assigned = tried = in_a_row = 0
    for ticket_id, wanted, known in rows:
        # 0 is Splynx's "nobody"; an operator without an administrator id maps to it too.
        if (wanted or 0) == (known or 0):
            continue
        if tried >= PUSH_BATCH or deadline.passed():
            break
        tried += 1
        if splynx_sync.push_assignment(ticket_id, client=client):
            assigned += 1
            in_a_row = 0
        elif _has_splynx_error(ticket_id):
            in_a_row += 1
            if in_a_row >= MAX_FAILURES_IN_A_ROW:
                break  # Splynx is likely down; each further call would wait for its timeout
        else:
            in_a_row = 0  # nothing to change after all (Splynx already had it)
    return assigned


def _has_splynx_error(ticket_id: int) -> bool:
    # `push_assignment` answers False both for "nothing to change" and for a failure, which
    # it keeps on the ticket.
    return Ticket.objects.filter(pk=ticket_id).exclude(splynx_error="").exists()


# Assignment notices -------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    ticket_id: int
    event_id: int
    operator_id: int


def pending_notices(now: datetime) -> list[Notice]:
    """The latest assignment of each open ticket, to its current assignee, not yet noticed."""
    latest: dict[int, Notice] = {}
    events = (
        TicketEvent.objects.filter(
            kind__in=(EventKind.ASSIGNED, EventKind.REASSIGNED),
            created_at__gte=now - NOTICE_HORIZON,
            ticket__status__in=OPEN_STATUSES,
            operator__isnull=False,
        )
        .order_by("created_at", "pk")
        .values_list("pk", "ticket_id", "operator_id", "ticket__assignee_id")
    )
    for event_id, ticket_id, operator_id, assignee_id in events:
        latest[ticket_id] = Notice(ticket_id, event_id, operator_id)
        if operator_id != assignee_id:
            latest.pop(ticket_id)  # assigned to someone since; that later event decides
    if not latest:
        return []
    noticed = _noticed_events(latest)
    return [notice for notice in latest.values() if notice.event_id not in noticed]


def _noticed_events(tickets: Mapping[int, Any]) -> set[int]:
    handled: set[int] = set()
    ids = [str(ticket_id) for ticket_id in tickets]
    for start in range(0, len(ids), 500):  # bounded IN lists
        for after in AuditEvent.objects.filter(
            action=NOTICE_ACTION, object_type=TICKET_TYPE, object_id__in=ids[start : start + 500]
        ).values_list("after", flat=True):
            if isinstance(after, dict) and isinstance(after.get("event"), int):
                handled.add(after["event"])
    return handled


def send_assignment_notices(now: datetime) -> dict[str, int]:
    """Queue the `ticket_assigned` WhatsApp message once per assignment.

    An operator who cannot be told now (no number, paused, outside their alert hours, no
    connection) is skipped for that assignment, and the skip is recorded: a notice hours
    late would be noise.
    """
    counts = _zero("notified", "not_notified")
    for notice in pending_notices(now):
        outcome = _notify(notice, now)
        if outcome is None:
            continue
        counts["notified" if outcome else "not_notified"] += 1
    return counts


def _notify(notice: Notice, now: datetime) -> bool | None:
    """True queued, False skipped (recorded), None when someone else handled it first."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=notice.ticket_id).first()
        if ticket is None or not ticket.is_open or ticket.assignee_id != notice.operator_id:
            return None
        if notice.event_id in _noticed_events({ticket.pk: None}):
            return None
        operator = Operator.objects.select_related("user").get(pk=notice.operator_id)
        outcome = notify_operator(
            operator,
            ASSIGNMENT_TEMPLATE,
            assignment_values(operator, ticket),
            now=now,
            context={"ticket": ticket.pk, "assignment_event": notice.event_id},
        )
        record_audit(
            None,
            NOTICE_ACTION,
            ticket,
            after={
                "event": notice.event_id,
                "operator": operator.pk,
                "message": outcome.queued.pk if outcome.queued is not None else None,
                "skipped": outcome.skip_code or "",
            },
        )
    return outcome.queued is not None


# The flow -------------------------------------------------------------------------------------


def run_ticket_flow(
    now: datetime,
    *,
    gestionreal: GestionRealClient | None = None,
    splynx: SplynxClient | None = None,
) -> dict[str, int]:
    """Download → create in Splynx → set `assign_to` → notify. Without Splynx, local only."""
    deadline = Deadline.for_run()
    with SplynxSession(splynx) as session:
        downloaded = download_cases(now, client=gestionreal, splynx=session, deadline=deadline)
        counts = {**downloaded, "pushed": 0, "assigned": 0}
        client = session.client()
        if client is not None:
            pushed = push_pending(now, client, deadline)
            counts["pushed"] = pushed["pushed"]
            counts["assigned"] = pushed["assigned"] + push_assignments(client, deadline)
            counts["errors"] += pushed["errors"]
    notices = send_assignment_notices(now)
    counts["notified"] = notices["notified"]
    return counts


def create_in_splynx(now: datetime, *, splynx: SplynxClient | None = None) -> dict[str, int]:
    """Only the Splynx part of the flow: pending creates and assignments (API `/create`)."""
    deadline = Deadline.for_run()
    with SplynxSession(splynx) as session:
        client = session.client()
        if client is None:
            return _zero("pushed", "assigned", "errors")
        counts = push_pending(now, client, deadline)
        counts["assigned"] += push_assignments(client, deadline)
    return counts


# Close sync -----------------------------------------------------------------------------------


def _close_candidates(now: datetime, window: timedelta) -> Any:
    """Tickets of Gestión Real cases whose case state matters: open ones, and ones closed by
    ispdesk itself (Splynx's status sync) inside the reopen window (none when it is zero). A
    person's close is respected."""
    candidates = Ticket.objects.filter(source__in=CASE_SOURCES)
    if not window:
        return candidates.filter(status__in=OPEN_STATUSES)
    last_close_actor = Subquery(
        TicketEvent.objects.filter(ticket=OuterRef("pk"), kind=EventKind.CLOSED)
        .order_by("-created_at", "-pk")
        .values("actor_id")[:1]
    )
    closed_by_sync = Q(
        status=Status.CLOSED,
        source_closed_at__isnull=True,
        splynx_ticket_id__isnull=False,
        closed_at__gte=now - window,
        last_close_actor__isnull=True,
    )
    return candidates.annotate(last_close_actor=last_close_actor).filter(
        Q(status__in=OPEN_STATUSES) | closed_by_sync
    )


def _round(candidates: Any, after: int, batch: int) -> list[int]:
    """Up to `batch` ids after `after`, wrapping round to the start."""
    ids = list(candidates.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
    if len(ids) < batch and after:
        ids += [
            pk
            for pk in candidates.filter(pk__lte=after)
            .order_by("pk")
            .values_list("pk", flat=True)[: batch - len(ids)]
            if pk not in ids
        ]
    return ids


def close_sync(
    now: datetime,
    *,
    gestionreal: GestionRealClient | None = None,
    splynx: SplynxClient | None = None,
) -> dict[str, int]:
    """Cases closed at the source close the local and the Splynx ticket; a ticket closed in
    Splynx while its case is still open is reopened (within `reopen_window_hours`)."""
    counts = _zero(
        "checked", "closed", "reopened", "closed_in_splynx", "reopened_in_splynx", "errors"
    )
    deadline = Deadline.for_run()
    with SplynxSession(splynx) as session:
        system = _system(SystemKind.GESTIONREAL)
        if _api_ready(system):
            assert system is not None  # for mypy: `_api_ready` said so
            _check_cases(system, now, gestionreal, session, deadline, counts)
        splynx_client = session.client()
        if splynx_client is not None:
            pushed, failed = push_closes(now, splynx_client, deadline)
            counts["closed_in_splynx"] += pushed
            counts["errors"] += failed
            # Then the reopenings made here (by a person or by the source) not yet in Splynx.
            pushed, failed = splynx_sync.push_reopens(now, splynx_client, deadline)
            counts["reopened_in_splynx"] += pushed
            counts["errors"] += failed
    return counts


def push_closes(
    now: datetime, client: SplynxClient, deadline: Deadline | None = None
) -> tuple[int, int]:
    """Close in Splynx the recently closed tickets whose close has not reached it (closed
    here by a person, by the source, or a close that failed before): (closed, failed)."""
    deadline = deadline or Deadline.for_run()
    rows = (
        Ticket.objects.filter(
            status=Status.CLOSED,
            splynx_ticket_id__isnull=False,
            closed_at__gte=now - splynx_sync.RECENTLY_CLOSED,
        )
        .filter(Q(splynx_synced_at__isnull=True) | Q(splynx_synced_at__lt=F("closed_at")))
        .order_by("closed_at", "pk")
        .values_list("pk", flat=True)[:PUSH_BATCH]
    )
    closed = failed = 0
    for ticket_id in list(rows):
        if deadline.passed():
            break
        if splynx_sync.close_in_splynx(ticket_id, client=client):
            closed += 1
        else:
            failed += 1
            if failed >= MAX_FAILURES_IN_A_ROW and not closed:
                break  # Splynx is likely down; the next run tries again
    return closed, failed


def _check_cases(
    system: ExternalSystem,
    now: datetime,
    gestionreal: GestionRealClient | None,
    splynx: SplynxSession,
    deadline: Deadline,
    counts: dict[str, int],
) -> None:
    """Read the cases of a batch of tickets, round the candidates from the stored cursor.
    The download already closes what it sees; this catches what its listing missed."""
    config = dict(system.config or {})
    after = positive_int(config, "close_sync_cursor", 0)
    ids = _round(_close_candidates(now, reopen_window(config)), after, close_sync_batch(config))
    if not ids:
        return
    client = gestionreal or client_for(system)
    states = SourceStates(config, now, splynx, deadline)
    last = after
    for ticket_id in ids:
        if deadline.passed():
            break
        external_id = Ticket.objects.filter(pk=ticket_id).values_list("external_id", flat=True)
        number = external_id.first()
        if number is None:
            continue
        try:
            caso = client.caso(number)
        except (GestionRealError, HttpError) as exc:
            counts["errors"] += 1
            logger.warning("case %s not read: %s", number, exc)
            if isinstance(exc, HttpError) or not exc.permanent or exc.refuses_access:
                break  # the service is down, or refuses us: the rest would fail alike
            last = ticket_id
            continue
        last = ticket_id
        counts["checked"] += 1
        if caso is None:
            counts["errors"] += 1
            continue
        states.follow(ticket_id, caso.estado, caso.ultima_modif)
    counts["closed"] += states.closed
    counts["reopened"] += states.reopened
    _store_runtime_value(SystemKind.GESTIONREAL, "close_sync_cursor", last)
