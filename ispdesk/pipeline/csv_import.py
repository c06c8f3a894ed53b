"""Gestión Real cases from a CSV export become local tickets, once each.

`preview_csv` says per row what an import would do (create, already exists, filtered out,
invalid) without writing; `import_csv` does it through `do_create_ticket`, which is
idempotent by (source, external id) where the external id is the case number. A case that
already arrived through the API (source `gestionreal`) is not created again from a file.
`import_watched_folder` imports each new `*.csv` of a folder once and moves it away.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from ispdesk.integrations.gestionreal.client import Caso
from ispdesk.integrations.gestionreal.csv import CsvCase, CsvFileError, parse_cases_csv
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.pipeline.models import ExternalSystem, SystemKind
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


def fold(text: str) -> str:
    """Lower-case without accents: "Señal" matches "senal", "Técnico" matches "tecnico"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


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


def skip_reason(filters: CaseFilters, *, subject: str, group: str, state: str) -> str:
    """Why a case does not become a ticket under `filters`, or "" when it does."""
    if filters.keywords and not any(fold(word) in fold(subject) for word in filters.keywords):
        return _("the subject has none of the keywords")
    if filters.groups and fold(group) not in {fold(item) for item in filters.groups}:
        return _("assigned to %(group)s, not a chosen group") % {"group": group or "—"}
    if filters.states and fold(state) not in {fold(item) for item in filters.states}:
        return _("state %(state)s is not a chosen state") % {"state": state or "—"}
    if fold(state) in {fold(item) for item in filters.exclude_states}:
        return _("state %(state)s is excluded") % {"state": state}
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


def ticket_for_caso(caso: Caso) -> NewTicket:
    """The local ticket for a case read through the API (source `gestionreal`); filter it
    first with `skip_reason(filters, subject=caso.asunto, group=caso.asignado_a,
    state=caso.estado)`."""
    facts = [
        (_("Case"), caso.id),
        (_("Customer"), caso.cliente_id),
        (_("Case state"), caso.estado),
        (_("Assigned to"), caso.asignado_a),
        (_("Created by"), caso.creado_por),
    ]
    return NewTicket(
        subject=caso.asunto or _("Case %(number)s") % {"number": caso.id},
        body="\n".join(f"{label}: {value}" for label, value in facts if value),
        source=Source.GESTIONREAL,
        external_id=caso.id,
        customer_external_id=caso.cliente_id,
        created_at=caso.fecha_creacion,
    )


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
    filters = filters if filters is not None else filters_from_config(gestionreal_config())
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
        reason = skip_reason(filters, subject=case.asunto, group=case.asignado, state=case.estado)
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
    """Create a ticket for every row the preview says to create; return what happened."""
    plan = preview_csv(data, filters)
    done: list[PlannedCase] = []
    for planned in plan.rows:
        if planned.outcome != Outcome.CREATE or planned.case is None:
            done.append(planned)
            continue
        try:
            ticket, created = do_create_ticket(
                actor, ticket_for_case(planned.case, source), auto_assign=auto_assign
            )
        except TicketActionError as exc:
            done.append(PlannedCase(planned.row, planned.number, Outcome.INVALID, exc.message))
            continue
        outcome = Outcome.CREATE if created else Outcome.EXISTS
        done.append(PlannedCase(planned.row, planned.number, outcome, "", planned.case, ticket.pk))
    result = CsvPlan(rows=done, applied=True, encoding=plan.encoding)
    record_audit(
        actor,
        "gestionreal.csv_imported",
        object_type="pipeline.csv",
        object_repr=file_name[:200] or "CSV",
        after=result.counts,
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
    run: they may still be being written.
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
    for candidate in sorted(folder.iterdir()):
        if not candidate.is_file() or candidate.suffix.lower() != ".csv":
            continue
        try:
            if now - candidate.stat().st_mtime < min_age:
                continue
            claimed = _destination(folder / PROCESSING_DIR, candidate.name)
            candidate.rename(claimed)
        except FileNotFoundError:
            continue  # another worker claimed it first
        data = claimed.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            plan = import_csv(actor, data, file_name=candidate.name)
        except CsvFileError as exc:
            claimed.rename(_destination(folder / REJECTED_DIR, candidate.name))
            logger.warning("rejected %s: %s", candidate.name, exc.message)
            results.append(FolderFile(candidate.name, False, error=exc.message, sha256=digest))
            continue
        claimed.rename(_destination(folder / PROCESSED_DIR, candidate.name))
        results.append(FolderFile(candidate.name, True, plan.counts, sha256=digest))
    return results
