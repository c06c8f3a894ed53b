"""Downloading cases: once each, through the filters, from a cursor that moves only on
success; the case's state recorded on tickets already here; CSV mode reads the folder."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from ispdesk.integrations.gestionreal.client import Caso
from ispdesk.pipeline.case_state import closed_states, is_closed_state
from ispdesk.pipeline.flow import (
    CURSOR_OVERLAP,
    cursor_from,
    download_cases,
    merge_casos,
    run_ticket_flow,
)
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.tests.flow_support import (
    Desk,
    configure_gestionreal,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    gestionreal_config,
)
from ispdesk.tickets.actions import NewTicket, do_create_ticket
from ispdesk.tickets.models import EventKind, Source, Ticket

CSV_FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "integrations"
    / "gestionreal"
    / "tests"
    / "fixtures"
    / "casos_export.csv"
)


def actions(desk: Desk, action: str) -> list[Any]:
    """The requests the fake Gestión Real got for `action`."""
    return [
        request
        for request in desk.gestionreal.requests_to("/")
        if isinstance(request.json, dict) and request.json.get("action") == action
    ]


def requested_days(desk: Desk) -> list[str]:
    return [request.json["fecha_desde"] for request in actions(desk, "casos")]


def counts_of(**counts: int) -> dict[str, int]:
    """A download's counts: these, and zero for the rest."""
    names = ("fetched", "created", "skipped", "closed", "reopened", "errors")
    return {name: counts.get(name, 0) for name in names}


# Pure parts ----------------------------------------------------------------------------------


def test_closed_states_default_and_compare_without_case_or_accents() -> None:
    assert closed_states({}) == ("Cerrado", "Resuelto")
    assert closed_states({"closed_states": ["Finalizado", " "]}) == ("Finalizado",)
    assert closed_states({"closed_states": []}) == ("Cerrado", "Resuelto")
    assert is_closed_state("CERRADO", ("Cerrado",))
    assert is_closed_state("resuelto", ("Resuelto",))
    assert is_closed_state("Solucionado", ("Solucionádo",))
    assert not is_closed_state("Abierto", ("Cerrado",))
    assert not is_closed_state("", ("",))


def test_the_cursor_defaults_to_a_day_ago_and_ignores_nonsense() -> None:
    now = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
    assert cursor_from({}, now) == now - timedelta(days=1)
    assert cursor_from({"cursor": "yesterday"}, now) == now - timedelta(days=1)
    assert cursor_from({"cursor": "2026-03-11T10:00:00"}, now) == now - timedelta(days=1)
    assert cursor_from({"cursor": "2026-03-12T10:00:00+00:00"}, now) == now - timedelta(days=1)
    stored = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert cursor_from({"cursor": stored.isoformat()}, now) == stored


# Against the fake -----------------------------------------------------------------------------


def test_it_creates_each_case_once_and_moves_the_cursor(desk: Desk) -> None:
    desk.caso("10457", "Sin servicio")
    desk.caso("10458", "Lento")
    now = timezone.now()

    assert download_cases(now) == counts_of(fetched=2, created=2)
    assert download_cases(now) == counts_of(fetched=2)

    assert Ticket.objects.filter(source=Source.GESTIONREAL).count() == 2
    assert gestionreal_config()["cursor"] == (now - CURSOR_OVERLAP).isoformat()
    # Both lists are read: created and modified since the cursor's day.
    kinds = [r.json["fecha_tipo"] for r in actions(desk, "casos")]
    assert kinds == ["crea", "modi", "crea", "modi"]


def test_it_reads_from_the_stored_cursors_day_in_argentina(desk: Desk) -> None:
    system = ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL)
    # 02:00 UTC on the 10th is still the 9th in Buenos Aires.
    system.config = {**system.config, "cursor": "2026-03-10T02:00:00+00:00"}
    system.save()

    download_cases(datetime(2026, 3, 11, 15, 0, tzinfo=UTC))

    assert requested_days(desk) == ["09-03-2026", "09-03-2026"]


def test_a_failed_read_counts_an_error_and_keeps_the_cursor(desk: Desk) -> None:
    desk.caso("10457", "Sin servicio")
    system = ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL)
    system.config = {**system.config, "cursor": "2026-03-10T12:00:00+00:00"}
    system.save()
    desk.gestionreal.fail_next("server_error")

    counts = download_cases(timezone.now(), client=desk.gestionreal.client(attempts=1))

    assert counts == {**counts_of(), "errors": 1}
    assert gestionreal_config()["cursor"] == "2026-03-10T12:00:00+00:00"
    assert not Ticket.objects.exists()


def test_filters_and_closed_cases_are_skipped(desk: Desk) -> None:
    configure_gestionreal(
        desk.gestionreal,
        filters={
            "keywords": ["señal", "servicio"],
            "groups": [],
            "states": [],
            "exclude_states": [],
        },
    )
    desk.caso("10457", "Sin servicio")
    desk.caso("10458", "Consulta de facturación")
    desk.caso("10459", "Sin se&ntilde;al", estado="Cerrado")

    counts = download_cases(timezone.now())

    assert counts == counts_of(fetched=3, created=1, skipped=2)
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["Sin servicio"]


def test_a_known_case_gets_its_state_recorded_in_the_history(desk: Desk) -> None:
    caso = desk.caso("10457", "Sin servicio")
    download_cases(timezone.now())
    ticket = Ticket.objects.get()
    assert ticket.source_state == "Abierto"
    assert not ticket.events.filter(kind=EventKind.SYNCED).exists()

    caso["estado"] = "En proceso"
    download_cases(timezone.now())

    ticket.refresh_from_db()
    assert ticket.source_state == "En proceso"
    synced = ticket.events.get(kind=EventKind.SYNCED)
    assert "Abierto → En proceso" in synced.text


def test_a_case_that_arrived_by_csv_is_not_created_again(desk: Desk) -> None:
    caso = desk.caso("10457", "Sin servicio")
    do_create_ticket(
        None, NewTicket(subject="Sin servicio", source=Source.CSV, external_id=caso["id"])
    )

    assert download_cases(timezone.now())["created"] == 0
    assert Ticket.objects.count() == 1


def test_nothing_is_read_when_gestionreal_is_off(desk: Desk) -> None:
    ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).update(enabled=False)
    desk.caso("10457", "Sin servicio")

    assert download_cases(timezone.now()) == counts_of()
    assert desk.gestionreal.requests_to("/") == []


def test_csv_mode_imports_the_watched_folder(desk: Desk, tmp_path: Path) -> None:
    shutil.copy(CSV_FIXTURE, tmp_path / "casos.csv")
    old = (datetime.now().timestamp() - 60,) * 2
    os.utime(tmp_path / "casos.csv", old)
    ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).update(
        config={"mode": "csv", "watched_folder": str(tmp_path)}
    )

    counts = download_cases(timezone.now())

    assert counts["created"] > 0
    assert counts["created"] == Ticket.objects.filter(source=Source.CSV).count()
    assert (tmp_path / "processed" / "casos.csv").exists()
    assert desk.gestionreal.requests_to("/") == []


def test_without_splynx_the_flow_stays_local(desk: Desk) -> None:
    ExternalSystem.objects.filter(kind=SystemKind.SPLYNX).update(enabled=False)
    desk.caso("10457", "Sin servicio")

    counts = run_ticket_flow(timezone.now())

    assert (counts["created"], counts["pushed"], counts["errors"], counts["notified"]) == (
        1,
        0,
        0,
        1,
    )
    assert desk.splynx.requests_to("") == []
    assert Ticket.objects.get().splynx_ticket_id is None


def test_merge_keeps_one_copy_per_case_the_fresher_one_oldest_first() -> None:
    def caso(number: str, state: str, day: int) -> Caso:
        created = datetime(2026, 3, day, tzinfo=UTC)
        return Caso(number, "1", "x", state, created, "", None, "", "3")

    merged = merge_casos(
        [caso("2", "Abierto", 2), caso("1", "Abierto", 1)], [caso("2", "Cerrado", 2)]
    )

    assert [(c.id, c.estado) for c in merged] == [("1", "Abierto"), ("2", "Cerrado")]
