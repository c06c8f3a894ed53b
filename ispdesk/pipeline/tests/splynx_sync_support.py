"""Shared by the Splynx sync's tests (push, status): the fake Splynx, the Splynx settings row,
operators linked to Splynx administrators, and tickets already pushed to the fake Splynx.

The fixtures are used by importing them into a test module under their function names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_sync import push_ticket
from ispdesk.testing.fakes.server import RecordedRequest
from ispdesk.testing.fakes.splynx import FakeSplynx, serving_fake_splynx
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import Source, Ticket

TICKETS = "admin/support/tickets"


@pytest.fixture(name="fake_splynx")
def fake_splynx_fixture() -> Iterator[FakeSplynx]:
    with serving_fake_splynx() as fake:
        yield fake


@pytest.fixture(name="_english", autouse=True)
def english_fixture(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def enabled_splynx(mappings: dict[str, Any]) -> ExternalSystem:
    """The Splynx settings row, enabled, with these mappings."""
    system, _created = ExternalSystem.objects.update_or_create(
        kind=SystemKind.SPLYNX,
        defaults={"enabled": True, "config": {"mappings": mappings}},
    )
    return system


def make_operator(username: str, person_id: int | None = None) -> Operator:
    user = make_user(username, Role.OPERATOR, first_name=username.title())
    return Operator.objects.create(user=user, person_id=person_id)


# Statuses as a fresh Splynx has them: 1 New, 2 Work in progress, 3 Resolved, 4 Waiting.
MAPPINGS: dict[str, Any] = {
    "statuses": {"in_progress": 2, "waiting": 4},
    "new_status_id": 1,
    "resolved_status_id": 3,
}


def pushed_ticket(fake: FakeSplynx, operator: Operator | None = None, **fields: Any) -> Ticket:
    """A Gestión Real ticket, given to `operator` if any, created in the fake Splynx."""
    values: dict[str, Any] = {"subject": "Sin servicio", "external_id": "5001", **fields}
    ticket, _created = do_create_ticket(
        None, NewTicket(source=Source.GESTIONREAL, **values), auto_assign=False
    )
    if operator is not None:
        do_assign_ticket(None, ticket, operator)
    push_ticket(ticket.pk, client=fake.client())
    ticket.refresh_from_db()
    assert ticket.splynx_ticket_id
    return ticket


def splynx_row(fake: FakeSplynx, ticket: Ticket) -> dict[str, str]:
    """The ticket's row in the fake Splynx (change it to play a Splynx agent)."""
    return fake.tickets[ticket.splynx_ticket_id or 0]


def puts_to(fake: FakeSplynx, ticket: Ticket) -> list[RecordedRequest]:
    return fake.requests_to(f"{TICKETS}/{ticket.splynx_ticket_id}", "PUT")
