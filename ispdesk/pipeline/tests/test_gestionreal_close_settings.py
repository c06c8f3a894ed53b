"""The close sync follows its settings as an admin saves them through the API, and a save
never loses the place where the close sync's round stopped."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.utils import timezone

from ispdesk.pipeline.flow import close_sync, run_ticket_flow
from ispdesk.pipeline.tests.flow_support import (
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
    gestionreal_config,
)
from ispdesk.tickets.models import Status, Ticket

URL = "/api/admin/integrations/gestionreal"


def save(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.put(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def cases_read(desk: Desk) -> list[str]:
    return [
        request.json["caso_id"]
        for request in desk.gestionreal.requests_to("/")
        if isinstance(request.json, dict) and request.json.get("action") == "caso"
    ]


def test_the_close_sync_honours_closed_states_saved_by_an_admin(
    desk: Desk, admin_client: Client
) -> None:
    finished, cancelled = desk.caso("10457", "Uno"), desk.caso("10458", "Dos")
    run_ticket_flow(timezone.now())
    finished["estado"], cancelled["estado"] = "Finalizado", "Cerrado"

    save(admin_client, {"closed_states": ["finalizado", "Baja"]})
    counts = close_sync(timezone.now())

    # "finalizado" matches the case's "Finalizado"; "Cerrado" no longer means closed.
    assert counts["closed"] == 1
    statuses = dict(Ticket.objects.values_list("external_id", "status"))
    assert statuses == {finished["id"]: Status.CLOSED, cancelled["id"]: Status.ASSIGNED}


def test_a_save_keeps_the_close_sync_round_where_it_was(desk: Desk, admin_client: Client) -> None:
    for login, subject in (("10457", "Uno"), ("10458", "Dos"), ("10459", "Tres")):
        desk.caso(login, subject)
    run_ticket_flow(timezone.now())
    first, second, third = Ticket.objects.order_by("pk")
    save(admin_client, {"close_sync_batch": 2})
    close_sync(timezone.now())
    assert gestionreal_config()["close_sync_cursor"] == second.pk
    download_cursor = gestionreal_config()["cursor"]

    save(admin_client, {"closed_states": ["Finalizado"], "web": {"timeout_seconds": 90}})
    close_sync(timezone.now())

    assert gestionreal_config()["cursor"] == download_cursor
    # The round went on from the third ticket: the save did not send it back to the start.
    assert cases_read(desk)[2:] == [third.external_id, first.external_id]
