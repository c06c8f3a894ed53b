"""Gestión Real cases from a CSV export become local tickets, once each.

`preview_csv` says per row what an import would do (create, already exists, filtered out,
invalid) without writing; `import_csv` does it through `do_create_ticket`, which is
idempotent by (source, external id) where the external id is the case number. A case that
already arrived through the API (source `gestionreal`) is not created again from a file.
A case in a closed state (`case_state.closed_states`) becomes no ticket; for a case that
already has one, the import records its state and closes (or reopens) the ticket to match,
as the API download does (`case_state.SourceStates`).
`import_watched_folder` imports each new `*.csv` of a folder once and moves it away.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.integrations.gestionreal.client import Caso, Cliente
from ispdesk.integrations.gestionreal.csv import CsvCase, CsvFileError, parse_cases_csv
from ispdesk.integrations.gestionreal.mapping import fold
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.pipeline.case_state import (
    SourceStates,
    closed_states,
    is_closed_state,
    record_source_state,
)
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.run_context import SplynxSession
from ispdesk.system.audit import record_audit
from ispdesk.tickets.actions import NewTicket, TicketActionError, do_create_ticket
from ispdesk.tickets.models import Priority, Source, Ticket

logger = logging.getLogger("ispdesk.pipeline.csv")

# Sources whose external id is a Gestión Real case number.
CASE_SOURCES = (Source.CSV, Source.GESTIONREAL)
FILTER_KEYS = ("keywords", "groups", "states", "exclude_states")
PROCESSING_DIR = "processing"
PROCESSED_DIR = "processed"
REJECTED_DIR = "rejected"
_PRIORITIES = {
    "baja": Priority.LOW,
    "media": Priority.MEDIUM,
    "normal": Priority.MEDIUM,
    "alta": Priority.HIGH,
    "urgente": Priority.URGENT,
    "critica": Priority.URGENT,
}


class Outcome:
    CREATE = "create"
    EXISTS = "exists"
    SKIPPED = "skipped"
    INVALID = "invalid"


# Filters (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilters:
    """Which cases become tickets; an empty list places no condition.

    `keywords`: the subject contains any; `groups`: "Asignado" (or the API's group id) is one
    of them; `states`: the case state is one of them; `exclude_states`: it is none of them.
    """

    keywords: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    exclude_states: tuple[str, ...] = ()

    def as_config(self) -> dict[str, list[str]]:
        return {key: list(getattr(self, key)) for key in FILTER_KEYS}


def filters_from_config(config: Mapping[str, Any] | None) -> CaseFilters:
    raw = (config or {}).get("filters") or {}
    if not isinstance(raw, Mapping):
        return CaseFilters()
    values: dict[str, tuple[str, ...]] = {}
    for key in FILTER_KEYS:
        items = raw.get(key) or []
        if isinstance(items, str):
            items = [items]
        values[key] = tuple(str(item).strip() for item in items if str(item).strip())
    return CaseFilters(**values)


def skip_reason(
    filters: CaseFilters, *, subject: str, group: str, state: str, closed: Iterable[str] = ()
) -> str:
    """Why a case does not become a ticket under `filters` and the `closed` states, or ""
    when it does."""
    if filters.keywords and not any(fold(word) in fold(subject) for word in filters.keywords):
        return _("the subject has none of the keywords")
    if filters.groups and fold(group) not in {fold(item) for item in filters.groups}:
        return _("assigned to %(group)s, not a chosen group") % {"group": group or "—"}
    if filters.states and fold(state) not in {fold(item) for item in filters.states}:
        return _("state %(state)s is not a chosen state") % {"state": state or "—"}
    if fold(state) in {fold(item) for item in filters.exclude_states}:
        return _("state %(state)s is excluded") % {"state": state}
    if is_closed_state(state, tuple(closed)):
        return _("state %(state)s is closed") % {"state": state}
    return ""


def ticket_for_case(case: CsvCase, source: str) -> NewTicket:
    subject = case.asunto or _("Case %(number)s") % {"number": case.numero}
    facts = [
        (_("Case"), case.numero),
        (_("Customer"), f"{case.nombre} ({case.cliente_id})" if case.cliente_id else case.nombre),
        (_("Customer state"), case.estado_cliente),
        (_("Contract"), case.contrato),
        (_("Service address"), case.domicilio),
        (_("Locality"), ", ".join(part for part in (case.barrio, case.localidad) if part)),
        (_("Phone"), case.telefono),
        (_("Case state"), case.estado),
        (_("Channel"), case.via),
        (_("Priority"), case.prioridad),
        (_("Assigned to"), case.asignado),
        (_("Created by"), case.usuario_creacion),
        (_("Last contact"), case.ultimo_contacto),
    ]
    body = "\n".join(f"{label}: {value}" for label, value in facts if value)
    return NewTicket(
        subject=subject,
        body=body,
        source=source,
        external_id=case.numero,
        priority=_PRIORITIES.get(fold(case.prioridad), Priority.MEDIUM),
        customer_name=case.nombre,
        customer_external_id=case.cliente_id,
        customer_phone=first_phone(case.telefono),
        created_at=case.fecha_creacion,
    )


def ticket_for_caso(caso: Caso, cliente: Cliente | None = None) -> NewTicket:
    """The local ticket for a case read through the API (source `gestionreal`), with its
    customer's name, document and first mobile when the customer was read too; filter it
    first with `skip_reason(filters, subject=caso.asunto, group=caso.asignado_a,
    state=caso.estado, closed=…)`."""
    customer = caso.cliente_id
    if cliente is not None and cliente.nombre:
        customer = f"{cliente.nombre} ({caso.cliente_id})" if caso.cliente_id else cliente.nombre
    phone = mobile_phone(cliente.telefonos) if cliente is not None else ""
    facts = [
        (_("Case"), caso.id),
        (_("Customer"), customer),
        (_("Document"), cliente.documento if cliente is not None else ""),
        (_("Phone"), ", ".join(cliente.telefonos) if cliente is not None else ""),
        (_("Service address"), cliente.domicilio if cliente is not None else ""),
        (_("Locality"), cliente.localidad if cliente is not None else ""),
        (_("Case state"), caso.estado),
        (_("Assigned to"), caso.asignado_a),
        (_("Created by"), caso.creado_por),
    ]
    return NewTicket(
        subject=caso.asunto or _("Case %(number)s") % {"number": caso.id},
        body="\n".join(f"{label}: {value}" for label, value in facts if value),
        source=Source.GESTIONREAL,
        external_id=caso.id,
        customer_name=cliente.nombre if cliente is not None else "",
        customer_external_id=caso.cliente_id,
        customer_phone=phone,
        created_at=caso.fecha_creacion,
    )


def mobile_phone(numbers: Iterable[str]) -> str:
    """The first usable mobile of a customer's numbers (mobiles come first), in E.164."""
    for text in numbers:
        found = first_phone(text)
        if found:
            return found
    return ""


def first_phone(text: str) -> str:
    """The first usable number of a free-text phone cell (it may hold several), in E.164;
    "" when none is."""
    for part in re.split(r"[/,;|]| y | o ", text):
        try:
            return normalize_phone(part, mobile=True)
        except PhoneError:
            continue
    return ""


# Preview and import --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCase:
    row: int
    number: str
    outcome: str
    reason: str = ""
    case: CsvCase | None = None
    ticket_id: int | None = None


@dataclass
class CsvPlan:
    rows: list[PlannedCase]
    applied: bool = False
    encoding: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    # Tickets of cases already here that the import closed or reopened to match their state.
    closed: int = 0
    reopened: int = 0

    def __post_init__(self) -> None:
        self.counts = {
            outcome: sum(1 for row in self.rows if row.outcome == outcome)
            for outcome in (Outcome.CREATE, Outcome.EXISTS, Outcome.SKIPPED, Outcome.INVALID)
        }


def gestionreal_config() -> dict[str, Any]:
    system = ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).first()
    return dict(system.config) if system is not None else {}


def existing_tickets(numbers: Iterable[str]) -> dict[str, int]:
    """Case number → ticket id, for the numbers that already have a ticket."""
    wanted = list(numbers)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists
        rows = Ticket.objects.filter(
            source__in=CASE_SOURCES, external_id__in=wanted[start : start + 500]
        ).values_list("external_id", "pk")
        for number, pk in rows:
            found.setdefault(number, pk)
    return found


def preview_csv(data: bytes, filters: CaseFilters | None = None) -> CsvPlan:
    """What importing `data` would do; CsvFileError when it is not a cases export."""
    parsed = parse_cases_csv(data)
    config = gestionreal_config()
    filters = filters if filters is not None else filters_from_config(config)
    closed = closed_states(config)
    existing = existing_tickets(case.numero for case in parsed.cases)
    rows: list[PlannedCase] = [
        PlannedCase(problem.row, problem.numero, Outcome.INVALID, problem.reason)
        for problem in parsed.problems
    ]
    for case in parsed.cases:
        if case.numero in existing:
            rows.append(
                PlannedCase(
                    case.row,
                    case.numero,
                    Outcome.EXISTS,
                    case=case,
                    ticket_id=existing[case.numero],
                )
            )
            continue
        reason = skip_reason(
            filters, subject=case.asunto, group=case.asignado, state=case.estado, closed=closed
        )
        outcome = Outcome.SKIPPED if reason else Outcome.CREATE
        rows.append(PlannedCase(case.row, case.numero, outcome, reason, case=case))
    rows.sort(key=lambda planned: planned.row)
    return CsvPlan(rows=rows, encoding=parsed.encoding)


def import_csv(
    actor: Any,
    data: bytes,
    *,
    filters: CaseFilters | None = None,
    source: str = Source.CSV,
    file_name: str = "",
    auto_assign: bool = True,
) -> CsvPlan:
    """Create a ticket for every row the preview says to create, and bring the tickets of
    the cases already here in line with their state; return what happened."""
    plan = preview_csv(data, filters)
    now = timezone.now()
    done: list[PlannedCase] = []
    with SplynxSession() as splynx:
        states = SourceStates(gestionreal_config(), now, splynx)
        for planned in plan.rows:
            case = planned.case
            if planned.outcome == Outcome.EXISTS and case is not None and planned.ticket_id:
                states.follow(planned.ticket_id, case.estado, case.fecha_modificacion)
            if planned.outcome != Outcome.CREATE or case is None:
                done.append(planned)
                continue
            try:
                ticket, created = do_create_ticket(
                    actor, ticket_for_case(case, source), auto_assign=auto_assign
                )
            except TicketActionError as exc:
                done.append(PlannedCase(planned.row, planned.number, Outcome.INVALID, exc.message))
                continue
            record_source_state(ticket.pk, case.estado, now, history=not created)
            outcome = Outcome.CREATE if created else Outcome.EXISTS
            done.append(PlannedCase(planned.row, planned.number, outcome, "", case, ticket.pk))
    result = CsvPlan(
        rows=done,
        applied=True,
        encoding=plan.encoding,
        closed=states.closed,
        reopened=states.reopened,
    )
    record_audit(
        actor,
        "gestionreal.csv_imported",
        object_type="pipeline.csv",
        object_repr=file_name[:200] or "CSV",
        after={**result.counts, "closed": result.closed, "reopened": result.reopened},
    )
    return result


# The watched folder --------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderFile:
    name: str
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    sha256: str = ""
    closed: int = 0
    reopened: int = 0


def _destination(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/<stem>-<n><suffix>` when a file of that name is there."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    number = 1
    while target.exists():
        target = folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
        number += 1
    return target


def import_watched_folder(
    path: str | os.PathLike[str] | None = None, *, actor: Any = None, min_age: float = 5.0
) -> list[FolderFile]:
    """Import every `*.csv` in the folder (the configured `watched_folder` by default) once.

    A file is claimed by moving it into `processing/` (a rename, so two workers never take
    the same one), imported, then moved to `processed/`; a file that is not a cases export
    goes to `rejected/`. Files modified less than `min_age` seconds ago are left for the next
    run: they may still be being written. An import that fails for another reason (the
    database is down) puts the file back for the next run, and so does a claim older than
    the jobs' lease (its run died).
    """
    if path is None:
        path = str(gestionreal_config().get("watched_folder") or "")
        if not path:
            return []
    folder = Path(path)
    if not folder.is_dir():
        logger.warning("watched folder %s does not exist", folder)
        return []
    results: list[FolderFile] = []
    now = time.time()
    _release_stale_claims(folder, now)
    for candidate in sorted(folder.iterdir()):
        if not candidate.is_file() or candidate.suffix.lower() != ".csv":
            continue
        try:
            if now - candidate.stat().st_mtime < min_age:
                continue
            claimed = _destination(folder / PROCESSING_DIR, candidate.name)
            candidate.rename(claimed)
            os.utime(claimed)  # the claim's time, for `_release_stale_claims`
        except FileNotFoundError:
            continue  # another worker claimed it first
        results.append(_import_claimed(claimed, candidate, actor))
    return results


def _import_claimed(claimed: Path, candidate: Path, actor: Any) -> FolderFile:
    folder, name = candidate.parent, candidate.name
    digest = ""
    try:
        data = claimed.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        plan = import_csv(actor, data, file_name=name)
    except CsvFileError as exc:
        claimed.rename(_destination(folder / REJECTED_DIR, name))
        logger.warning("rejected %s: %s", name, exc.message)
        return FolderFile(name, False, error=exc.message, sha256=digest)
    except Exception as exc:  # the file must not be stranded in processing/
        logger.exception("import of %s failed; the file waits for the next run", name)
        try:
            claimed.rename(_destination(folder, name))
        except OSError:
            logger.warning("%s stays in %s until its claim expires", name, PROCESSING_DIR)
        error = _("The import failed (%(kind)s); the file waits for the next run.") % {
            "kind": type(exc).__name__
        }
        return FolderFile(name, False, error=error, sha256=digest)
    claimed.rename(_destination(folder / PROCESSED_DIR, name))
    return FolderFile(
        name, True, plan.counts, sha256=digest, closed=plan.closed, reopened=plan.reopened
    )


def _release_stale_claims(folder: Path, now: float) -> None:
    """Put back files whose claim is older than the jobs' lease: the run that claimed them
    died (no run outlives its lease)."""
    processing = folder / PROCESSING_DIR
    if not processing.is_dir():
        return
    for claimed in sorted(processing.iterdir()):
        try:
            if not claimed.is_file() or now - claimed.stat().st_mtime < settings.JOBS_LEASE_SECONDS:
                continue
            claimed.rename(_destination(folder, claimed.name))
        except FileNotFoundError:
            continue  # another worker put it back first
        logger.warning("%s was claimed by a run that died; it is imported again", claimed.name)
