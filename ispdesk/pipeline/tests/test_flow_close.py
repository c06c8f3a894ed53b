"""Close sync: the source's state decides, a person's close is respected, checks go round
the tickets a batch at a time, and local closes reach Splynx."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ispdesk.pipeline.flow import close_sync, run_ticket_flow
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_sync import sync_status
from ispdesk.pipeline.tests.flow_support import (
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    gestionreal_config,
)
from ispdesk.tickets.actions import do_close_ticket
from ispdesk.tickets.models import Status, Ticket


def three_tickets(desk: Desk) -> list[Ticket]:
    for login, subject in (("10457", "Uno"), ("10458", "Dos"), ("10459", "Tres")):
        desk.caso(login, subject)
    run_ticket_flow(timezone.now())
    return list(Ticket.objects.order_by("pk"))


def set_config(**values: object) -> None:
    system = ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL)
    system.config = {**system.config, **values}
    system.save()


def cases_read(desk: Desk) -> list[str]:
    return [
        request.json["caso_id"]
        for request in desk.gestionreal.requests_to("/")
        if isinstance(request.json, dict) and request.json.get("action") == "caso"
    ]


def test_configured_closed_states_decide(desk: Desk) -> None:
    set_config(closed_states=["Finalizado"])
    first, second = desk.caso("10457", "Uno"), desk.caso("10458", "Dos")
    run_ticket_flow(timezone.now())
    first["estado"], second["estado"] = "Finalizado", "Cerrado"

    counts = close_sync(timezone.now())

    assert counts["closed"] == 1
    statuses = dict(Ticket.objects.values_list("external_id", "status"))
    assert statuses == {first["id"]: Status.CLOSED, second["id"]: Status.ASSIGNED}


def test_a_close_by_a_person_is_not_undone_but_reaches_splynx(desk: Desk, admin) -> None:  # type: ignore[no-untyped-def]
    ticket = three_tickets(desk)[0]
    do_close_ticket(admin, ticket, "Resuelto por teléfono")

    counts = close_sync(timezone.now())

    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert counts["reopened"] == 0
    assert counts["closed_in_splynx"] == 1
    assert desk.splynx_ticket(ticket)["closed"] == "1"
    assert close_sync(timezone.now())["closed_in_splynx"] == 0


def test_a_splynx_close_older_than_the_window_is_left_closed(desk: Desk) -> None:
    set_config(reopen_window_hours=2)
    ticket = three_tickets(desk)[0]
    desk.splynx.tickets[ticket.splynx_ticket_id or 0].update(closed="1", status_id="3")
    sync_status(now=timezone.now())
    Ticket.objects.filter(pk=ticket.pk).update(closed_at=timezone.now() - timedelta(hours=3))

    counts = close_sync(timezone.now())

    assert counts["reopened"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_checks_go_round_the_tickets_a_batch_at_a_time(desk: Desk) -> None:
    first, second, third = three_tickets(desk)
    set_config(close_sync_batch=2)

    assert close_sync(timezone.now())["checked"] == 2
    assert cases_read(desk) == [first.external_id, second.external_id]
    assert gestionreal_config()["close_sync_cursor"] == second.pk

    close_sync(timezone.now())
    # The third, then round to the first: the least recently checked come first.
    assert cases_read(desk)[2:] == [third.external_id, first.external_id]
    assert gestionreal_config()["close_sync_cursor"] == first.pk


def test_gestionreal_down_stops_the_round_where_it_was(desk: Desk) -> None:
    first, _second, _third = three_tickets(desk)
    desk.gestionreal.fail_next("server_error", times=1)

    counts = close_sync(timezone.now(), gestionreal=desk.gestionreal.client(attempts=1))

    assert (counts["checked"], counts["errors"]) == (0, 1)
    assert gestionreal_config()["close_sync_cursor"] == 0
    assert close_sync(timezone.now())["checked"] == 3
    assert cases_read(desk)[-3] == first.external_id


def test_an_unknown_case_is_an_error_and_the_round_goes_on(desk: Desk) -> None:
    first, _second, _third = three_tickets(desk)
    desk.gestionreal.casos = [c for c in desk.gestionreal.casos if c["id"] != first.external_id]

    counts = close_sync(timezone.now())

    assert (counts["checked"], counts["errors"], counts["closed"]) == (2, 1, 0)
    first.refresh_from_db()
    assert first.status == Status.ASSIGNED


def test_without_gestionreal_api_only_local_closes_are_pushed(desk: Desk, admin) -> None:  # type: ignore[no-untyped-def]
    ticket = three_tickets(desk)[0]
    ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).update(enabled=False)
    do_close_ticket(admin, ticket)

    counts = close_sync(timezone.now())

    assert (counts["checked"], counts["closed_in_splynx"]) == (0, 1)
    assert cases_read(desk) == []
