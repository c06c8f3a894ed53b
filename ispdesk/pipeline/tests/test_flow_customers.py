"""Cases read through the API get their customer: name, first mobile and document, read once
per customer and run; a customer that cannot be read never costs the case its ticket."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from ispdesk.pipeline.flow import download_cases, run_ticket_flow
from ispdesk.pipeline.tests.flow_support import (
    Desk,
    desk_fixture,  # noqa: F401 - the `desk` fixture
)
from ispdesk.tickets.models import Ticket


def customer_reads(desk: Desk) -> list[str]:
    return [
        str(request.json["cliente_id"])
        for request in desk.gestionreal.requests_to("/")
        if isinstance(request.json, dict) and request.json.get("action") == "cliente"
    ]


def customer(desk: Desk, login: str, **fields: Any) -> dict[str, Any]:
    """A Gestión Real customer whose client number is `login`."""
    return desk.gestionreal.add_cliente(id=login, **fields)


def test_a_new_case_gets_its_customers_name_mobile_and_document(desk: Desk) -> None:
    customer(
        desk,
        "10457",
        nombre="G&oacute;mez, Mar&iacute;a",
        nro_documento="28123456",
        telefonos={"fijo": "0353-4890011", "celular": "0353 15-411-2233"},
    )
    desk.caso("10457", "Sin servicio")

    run_ticket_flow(timezone.now())

    ticket = Ticket.objects.get()
    assert ticket.customer_name == "Gómez, María"
    assert ticket.customer_phone == "+5493534112233"  # the mobile, though listed second
    assert ticket.customer_external_id == "10457"
    assert "Gómez, María (10457)" in ticket.body
    assert "28123456" in ticket.body
    # The Splynx ticket is still filed by the login, which the fake knows.
    assert desk.splynx_ticket(ticket)["customer_id"] == str(ticket.customer_splynx_id)


def test_each_customer_is_read_once_per_run(desk: Desk) -> None:
    customer(desk, "10457")
    customer(desk, "10458")
    desk.caso("10457", "Sin servicio")
    desk.caso("10457", "Lento también")
    desk.caso("10458", "Corte")

    download_cases(timezone.now())

    assert sorted(customer_reads(desk)) == ["10457", "10458"]
    assert Ticket.objects.filter(customer_name="Gómez, María").count() == 3


def test_known_cases_are_not_looked_up_again(desk: Desk) -> None:
    customer(desk, "10457")
    desk.caso("10457", "Sin servicio")
    download_cases(timezone.now())

    download_cases(timezone.now())

    assert customer_reads(desk) == ["10457"]


def test_an_unknown_customer_leaves_the_case_without_a_name(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.caso("10457", "Sin servicio")  # no such customer at Gestión Real

    assert download_cases(timezone.now())["created"] == 1

    ticket = Ticket.objects.get()
    assert (ticket.customer_name, ticket.customer_phone) == ("", "")
    assert "customer 10457 not read" in caplog.text


def test_customers_unavailable_cost_no_case_and_are_not_asked_again_in_the_run(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    customer(desk, "10457")
    customer(desk, "10458")
    desk.caso("10457", "Sin servicio")
    desk.caso("10458", "Corte")
    desk.gestionreal.unavailable_actions = {"cliente"}

    counts = download_cases(timezone.now(), client=desk.gestionreal.client(attempts=1))

    assert (counts["created"], counts["errors"]) == (2, 0)
    assert set(Ticket.objects.values_list("customer_name", flat=True)) == {""}
    assert len(customer_reads(desk)) == 1  # the service is down: the rest would fail alike
    assert "not read" in caplog.text
