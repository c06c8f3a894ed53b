"""CSV cases become local tickets once, through the filters; the watched folder."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.utils import translation

from ispdesk.integrations.gestionreal.client import Caso
from ispdesk.pipeline.csv_import import (
    CaseFilters,
    filters_from_config,
    first_phone,
    import_csv,
    import_watched_folder,
    preview_csv,
    skip_reason,
    ticket_for_caso,
)
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.actions import NewTicket, do_create_ticket
from ispdesk.tickets.models import Priority, Source, Ticket

FIXTURE = Path(__file__).parents[2] / "integrations/gestionreal/tests/fixtures/casos_export.csv"
# The fixture's valid rows that become tickets; 10237 is "Cerrado", a closed state.
GOOD = ["10234", "10235", "10236", "10239"]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def data() -> bytes:
    return FIXTURE.read_bytes()


def outcomes(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {row.number: row.outcome for row in plan.rows}


def test_the_preview_says_what_would_happen_and_writes_nothing(db) -> None:  # type: ignore[no-untyped-def]
    plan = preview_csv(data(), CaseFilters())
    assert plan.counts == {"create": 4, "exists": 0, "skipped": 1, "invalid": 3}
    assert {row.number: row.reason for row in plan.rows}["10237"] == "state Cerrado is closed"
    assert [row.row for row in plan.rows] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert not Ticket.objects.exists()


def test_importing_creates_each_case_once(admin) -> None:  # type: ignore[no-untyped-def]
    first = import_csv(admin, data(), filters=CaseFilters(), file_name="casos.csv")
    assert first.counts == {"create": 4, "exists": 0, "skipped": 1, "invalid": 3}
    tickets = {t.external_id: t for t in Ticket.objects.filter(source=Source.CSV)}
    assert sorted(tickets) == GOOD
    ticket = tickets["10234"]
    assert ticket.subject == "Sin señal desde ayer"
    assert ticket.customer_name == "Gómez, María Laura"
    assert ticket.priority == Priority.HIGH
    assert ticket.customer_external_id == "4512"
    assert ticket.customer_phone == "+5493534567890"  # "0353 15-456-7890"
    assert ticket.created_at.isoformat() == "2026-11-24T12:15:32+00:00"
    assert "Case state: Abierto" in ticket.body
    assert "Customer state: Activo" in ticket.body
    assert "Assigned to: Soporte Técnico" in ticket.body
    assert tickets["10235"].priority == Priority.URGENT

    again = import_csv(admin, data(), filters=CaseFilters())
    assert again.counts == {"create": 0, "exists": 4, "skipped": 1, "invalid": 3}
    assert Ticket.objects.count() == 4
    exists = {row.number: row.ticket_id for row in again.rows if row.outcome == "exists"}
    assert exists == {number: tickets[number].pk for number in GOOD}
    audit = AuditEvent.objects.filter(action="gestionreal.csv_imported").order_by("pk")
    assert [(event.after or {}).get("create") for event in audit] == [4, 0]
    assert audit[0].object_repr == "casos.csv"


def test_a_case_that_came_through_the_api_is_not_created_again(admin) -> None:  # type: ignore[no-untyped-def]
    api_ticket, _ = do_create_ticket(
        admin, NewTicket(subject="Sin señal", source=Source.GESTIONREAL, external_id="10234")
    )
    plan = import_csv(admin, data(), filters=CaseFilters())
    assert outcomes(plan)["10234"] == "exists"
    assert plan.counts["create"] == 3
    assert not Ticket.objects.filter(source=Source.CSV, external_id="10234").exists()
    assert Ticket.objects.filter(external_id="10234").get() == api_ticket


def test_the_filters_stored_in_the_settings_decide_what_is_imported(admin) -> None:  # type: ignore[no-untyped-def]
    ExternalSystem.objects.create(
        kind=SystemKind.GESTIONREAL,
        config={"filters": {"groups": ["soporte tecnico", "Redes"], "exclude_states": ["cerrado"]}},
    )
    plan = import_csv(admin, data())
    assert outcomes(plan) == {
        "10234": "create",
        "10235": "create",
        "10236": "skipped",  # Administración
        "10237": "skipped",  # Cerrado
        "10238": "invalid",
        "ABC": "invalid",
        "10240": "invalid",
        "10239": "skipped",
    }
    reasons = {row.number: row.reason for row in plan.rows}
    assert reasons["10236"] == "assigned to Administración, not a chosen group"
    assert reasons["10237"] == "state Cerrado is excluded"
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == ["10234", "10235"]


@pytest.mark.parametrize(
    ("filters", "subject", "group", "state", "reason"),
    [
        (CaseFilters(), "x", "y", "z", ""),
        (CaseFilters(keywords=("senal",)), "Sin Señal", "", "", ""),
        (
            CaseFilters(keywords=("fibra", "router")),
            "Sin señal",
            "",
            "",
            "the subject has none of the keywords",
        ),
        (CaseFilters(states=("Abierto",)), "", "", "abierto", ""),
        (
            CaseFilters(states=("Abierto",)),
            "",
            "",
            "En curso",
            "state En curso is not a chosen state",
        ),
        (CaseFilters(groups=("3",)), "", "3", "", ""),
    ],
)
def test_skip_reason(
    filters: CaseFilters, subject: str, group: str, state: str, reason: str
) -> None:
    assert skip_reason(filters, subject=subject, group=group, state=state) == reason


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("0353 15-411-2233 / 0353-4890011", "+5493534112233"),
        ("sin dato / 0353-4890011", "+5493534890011"),
        ("", ""),
        ("no tiene", ""),
    ],
)
def test_first_phone(text: str, phone: str) -> None:
    assert first_phone(text) == phone


def test_filters_from_config_tolerate_odd_shapes() -> None:
    assert filters_from_config({}) == CaseFilters()
    assert filters_from_config({"filters": "nope"}) == CaseFilters()
    assert filters_from_config({"filters": {"keywords": "corte", "states": [" ", "Abierto"]}}) == (
        CaseFilters(keywords=("corte",), states=("Abierto",))
    )


def test_the_watched_folder_imports_each_file_once(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "casos.csv").write_bytes(data())
    (tmp_path / "otro.txt").write_text("ignored")
    (tmp_path / "roto.csv").write_bytes(b"name,phone\n")
    ExternalSystem.objects.create(
        kind=SystemKind.GESTIONREAL, config={"watched_folder": str(tmp_path)}
    )

    results = import_watched_folder(min_age=0)

    assert [(r.name, r.ok, r.counts.get("create")) for r in results] == [
        ("casos.csv", True, 4),
        ("roto.csv", False, None),
    ]
    assert "not a header" in results[1].error
    assert (tmp_path / "processed" / "casos.csv").exists()
    assert (tmp_path / "rejected" / "roto.csv").exists()
    assert (tmp_path / "otro.txt").exists()
    assert not list((tmp_path / "processing").iterdir())
    assert Ticket.objects.count() == 4

    # Nothing new: nothing happens. The same export dropped again creates nothing twice.
    assert import_watched_folder(tmp_path, min_age=0) == []
    (tmp_path / "casos.csv").write_bytes(data())
    again = import_watched_folder(tmp_path, min_age=0)
    assert again[0].counts["exists"] == 4
    assert (tmp_path / "processed" / "casos-1.csv").exists()
    assert Ticket.objects.count() == 4


def test_a_file_still_being_written_waits_for_the_next_run(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "casos.csv"
    path.write_bytes(data())
    assert import_watched_folder(tmp_path, min_age=3600) == []
    assert path.exists()
    old = path.stat().st_mtime - 7200
    os.utime(path, (old, old))
    assert len(import_watched_folder(tmp_path, min_age=3600)) == 1


def test_a_failed_import_puts_the_file_back_for_the_next_run(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "casos.csv").write_bytes(data())

    def database_down(*_args: object) -> None:
        raise OperationalError("the database is down")

    with connection.execute_wrapper(database_down):
        [failed] = import_watched_folder(tmp_path, min_age=0)

    assert not failed.ok
    assert "OperationalError" in failed.error
    assert (tmp_path / "casos.csv").exists()
    assert not list((tmp_path / "processing").iterdir())
    assert not (tmp_path / "rejected").exists()
    [done] = import_watched_folder(tmp_path, min_age=0)
    assert done.ok
    assert done.counts["create"] == 4
    assert (tmp_path / "processed" / "casos.csv").exists()


def test_a_claim_left_by_a_run_that_died_is_imported_again(db, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    processing = tmp_path / "processing"
    processing.mkdir()
    (processing / "casos.csv").write_bytes(data())
    old = time.time() - settings.JOBS_LEASE_SECONDS - 60
    os.utime(processing / "casos.csv", (old, old))
    # Claimed a moment ago by a run that is still importing it: not ours.
    (processing / "otro.csv").write_bytes(data())

    results = import_watched_folder(tmp_path, min_age=0)

    assert [(result.name, result.ok) for result in results] == [("casos.csv", True)]
    assert (tmp_path / "processed" / "casos.csv").exists()
    assert (processing / "otro.csv").exists()
    assert Ticket.objects.count() == 4


def test_without_a_configured_folder_nothing_happens(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert import_watched_folder() == []
    assert import_watched_folder(tmp_path / "missing") == []


def test_a_case_read_through_the_api_maps_to_a_gestionreal_ticket() -> None:
    caso = Caso(
        id="50001",
        cliente_id="4512",
        asunto="",
        estado="Abierto",
        fecha_creacion=None,
        creado_por="jperez",
        ultima_modif=None,
        modificado_por="",
        asignado_a="3",
    )
    new = ticket_for_caso(caso)
    assert (new.source, new.external_id, new.customer_external_id) == (
        Source.GESTIONREAL,
        "50001",
        "4512",
    )
    assert new.subject == "Case 50001"
    assert (
        new.body
        == "Case: 50001\nCustomer: 4512\nCase state: Abierto\nAssigned to: 3\nCreated by: jperez"
    )
