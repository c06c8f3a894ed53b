"""The case's state wherever a case is read: the download closes a ticket whose case it sees
closed at once (here and in Splynx) and reopens one ispdesk closed when the case is open
again; a CSV or web export does the same for the cases it lists; a reopen window of 0 never
reopens."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ispdesk.integrations.gestionreal.mapping import ARGENTINA
from ispdesk.pipeline.case_state import reopen_window
from ispdesk.pipeline.csv_import import import_csv
from ispdesk.pipeline.flow import close_sync, create_in_splynx, download_cases, run_ticket_flow
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_sync import sync_status
from ispdesk.pipeline.tests.flow_support import (
    CSV_FIXTURE,
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    with_10234_as,
)
from ispdesk.tickets.actions import do_close_ticket
from ispdesk.tickets.models import EventKind, Source, Status, Ticket


def drop(path: Path, data: bytes) -> None:
    """A file in the watched folder, written a minute ago (the folder skips fresh files)."""
    path.write_bytes(data)
    old = timezone.now().timestamp() - 60
    os.utime(path, (old, old))


def set_config(**values: object) -> None:
    system = ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL)
    system.config = {**system.config, **values}
    system.save()


def cases_read_one_by_one(desk: Desk) -> int:
    return sum(
        1
        for request in desk.gestionreal.requests_to("/")
        if isinstance(request.json, dict) and request.json.get("action") == "caso"
    )


def at_source(caso: dict[str, object], state: str, *, minutes_ago: int = 0) -> None:
    """Someone set the case's state at Gestión Real (which stamps the change, in its clock)."""
    when = datetime.now(ARGENTINA) - timedelta(minutes=minutes_ago)
    caso.update(estado=state, ultima_modif=when.strftime("%d-%m-%Y %H:%M:%S"))


def one_ticket(desk: Desk) -> tuple[dict[str, object], Ticket]:
    caso = desk.caso("10457", "Sin servicio")
    run_ticket_flow(timezone.now())
    return caso, Ticket.objects.get()


# The API download ------------------------------------------------------------------------------


def test_a_case_closed_at_the_source_is_closed_by_the_next_download(desk: Desk) -> None:
    caso, ticket = one_ticket(desk)

    caso["estado"] = "Cerrado"
    counts = run_ticket_flow(timezone.now())

    assert counts["closed"] == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.source_state) == (Status.CLOSED, "Cerrado")
    assert ticket.source_closed_at is not None
    assert desk.splynx_ticket(ticket)["closed"] == "1"
    # No per-case read was needed: the download's listing said so.
    assert cases_read_one_by_one(desk) == 0
    closed = ticket.events.get(kind=EventKind.CLOSED)
    assert closed.actor is None
    assert "Gestión Real" in closed.text
    # The close sync finds nothing left to do.
    assert close_sync(timezone.now())["closed"] == 0


def test_a_case_reopened_at_the_source_reopens_its_ticket_everywhere(desk: Desk) -> None:
    caso, ticket = one_ticket(desk)
    at_source(caso, "Cerrado", minutes_ago=10)
    run_ticket_flow(timezone.now())

    at_source(caso, "Abierto", minutes_ago=5)
    counts = run_ticket_flow(timezone.now())

    assert (counts["reopened"], counts["closed"]) == (1, 0)
    ticket.refresh_from_db()
    assert ticket.is_open
    assert ticket.source_state == "Abierto"
    assert ticket.source_closed_at is None  # a later close at the source is a new one
    assert desk.splynx_ticket(ticket)["closed"] == "0"
    assert ticket.events.get(kind=EventKind.REOPENED).actor is None

    at_source(caso, "Resuelto")
    assert run_ticket_flow(timezone.now())["closed"] == 1
    ticket.refresh_from_db()
    assert ticket.source_closed_at is not None


def test_the_download_respects_a_close_by_a_person(desk: Desk, admin) -> None:  # type: ignore[no-untyped-def]
    caso, ticket = one_ticket(desk)
    do_close_ticket(admin, ticket, "Resuelto por teléfono")

    caso["estado"] = "En proceso"
    counts = download_cases(timezone.now())

    assert counts["reopened"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.source_state == "En proceso"


def test_a_source_close_older_than_the_window_is_not_reopened(desk: Desk) -> None:
    set_config(reopen_window_hours=2)
    caso, ticket = one_ticket(desk)
    at_source(caso, "Cerrado", minutes_ago=10)
    download_cases(timezone.now())

    at_source(caso, "Abierto", minutes_ago=5)
    counts = download_cases(timezone.now() + timedelta(hours=3))

    assert counts["reopened"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


# A reopen window of zero ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "hours"), [(0, 0), ("0", 0), (None, 48), ("", 48), (-3, 48), (True, 48), (6, 6)]
)
def test_the_reopen_window_reads_zero_as_never(stored: object, hours: int) -> None:
    assert reopen_window({"reopen_window_hours": stored}) == timedelta(hours=hours)


def test_0_never_reopens(desk: Desk) -> None:
    set_config(reopen_window_hours=0)
    caso, ticket = one_ticket(desk)

    # Closed at the source, then open again there: the download leaves it closed.
    at_source(caso, "Cerrado", minutes_ago=10)
    assert download_cases(timezone.now())["closed"] == 1
    at_source(caso, "Abierto", minutes_ago=5)
    assert download_cases(timezone.now())["reopened"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED

    # Closed in Splynx while the case is open: the close sync does not check it at all.
    other = desk.caso("10458", "Lento")
    run_ticket_flow(timezone.now())
    second = Ticket.objects.get(external_id=other["id"])
    desk.splynx.tickets[second.splynx_ticket_id or 0].update(closed="1", status_id="3")
    sync_status(now=timezone.now())
    counts = close_sync(timezone.now())

    assert (counts["reopened"], counts["checked"]) == (0, 0)
    second.refresh_from_db()
    assert second.status == Status.CLOSED


# CSV and web export ---------------------------------------------------------------------------


def test_an_export_that_lists_a_case_as_closed_closes_its_ticket_here_and_in_splynx(
    desk: Desk,
) -> None:
    data = CSV_FIXTURE.read_bytes()
    first = import_csv(None, data)
    create_in_splynx(timezone.now())
    ticket = Ticket.objects.get(source=Source.CSV, external_id="10234")
    assert ticket.source_state == "Abierto"
    assert first.closed == 0
    # Case 10237 was already closed at the source: it never became a ticket.
    assert not Ticket.objects.filter(external_id="10237").exists()

    again = import_csv(None, with_10234_as("Cerrado"))

    assert (again.counts["exists"], again.closed) == (4, 1)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.source_state) == (Status.CLOSED, "Cerrado")
    assert ticket.source_closed_at is not None
    assert desk.splynx_ticket(ticket)["closed"] == "1"
    history = list(ticket.events.filter(kind=EventKind.SYNCED).values_list("text", flat=True))
    assert any("Abierto → Cerrado" in text for text in history)
    # The other tickets are as they were.
    assert Ticket.objects.filter(source=Source.CSV, status=Status.CLOSED).count() == 1


def test_an_older_export_that_still_lists_the_case_as_open_reopens_nothing(desk: Desk) -> None:
    import_csv(None, CSV_FIXTURE.read_bytes())
    # The case was closed at Gestión Real; no one touched it since.
    assert import_csv(None, with_10234_as("Cerrado")).closed == 1

    # Someone uploads the older file again: it says "Abierto", but that is old news.
    again = import_csv(None, CSV_FIXTURE.read_bytes())

    assert again.reopened == 0
    assert Ticket.objects.get(external_id="10234").status == Status.CLOSED


def test_the_watched_folder_counts_the_tickets_it_closed(desk: Desk, tmp_path: Path) -> None:
    set_config(mode="csv", watched_folder=str(tmp_path))
    drop(tmp_path / "casos.csv", CSV_FIXTURE.read_bytes())
    assert download_cases(timezone.now())["created"] == 4
    drop(tmp_path / "casos-2.csv", with_10234_as("Resuelto"))

    counts = download_cases(timezone.now())

    assert counts["closed"] == 1
    assert Ticket.objects.get(external_id="10234").status == Status.CLOSED
