"""The customer and time settings as the sync uses them, saved through the settings API
(against the fake Splynx): Splynx's dates read in its own zone, and DNI matching switched on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from ispdesk.contacts.models import Contact
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_sync import push_ticket, sync_status
from ispdesk.pipeline.splynx_sync_customers import from_splynx_time
from ispdesk.pipeline.tests.splynx_sync_support import (
    english_fixture,  # noqa: F401 - autouse
    fake_splynx_fixture,  # noqa: F401 - the `fake_splynx` fixture
    make_operator,
)
from ispdesk.testing.fakes.splynx import API_KEY, API_SECRET, FakeSplynx
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import Source, Status, Ticket

URL = "/api/admin/integrations/splynx"
MAPPINGS = {
    "statuses": {"in_progress": 2, "waiting": 4},
    "new_status_id": 1,
    "resolved_status_id": 3,
    "default_group_id": 1,
    "default_type_id": 1,
}
SPLYNX_LAYOUT = "%Y-%m-%d %H:%M:%S"


def save_settings(client: Client, fake: FakeSplynx, **changes: Any) -> None:
    body = {
        "enabled": True,
        "base_url": fake.url,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "mappings": MAPPINGS,
        **changes,
    }
    response = client.put(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content


def pushed_ticket(fake: FakeSplynx, operator: Operator | None = None, **fields: Any) -> Ticket:
    values: dict[str, Any] = {
        "subject": "Sin servicio",
        "source": Source.GESTIONREAL,
        "external_id": "5001",
        **fields,
    }
    ticket, _created = do_create_ticket(None, NewTicket(**values), auto_assign=False)
    if operator is not None:
        do_assign_ticket(None, ticket, operator)
    push_ticket(ticket.pk, client=fake.client())
    ticket.refresh_from_db()
    assert ticket.splynx_ticket_id and ticket.splynx_synced_at
    return ticket


def utc_wall_clock(delta: timedelta) -> str:
    """A time as a Splynx server running in UTC writes it (naive, its own clock)."""
    return (datetime.now(UTC) + delta).strftime(SPLYNX_LAYOUT)


def test_splynx_dates_are_read_in_the_saved_zone(
    admin_client: Client, fake_splynx: FakeSplynx
) -> None:
    noon = datetime(2025, 5, 1, 12, 0)
    save_settings(admin_client, fake_splynx)
    default = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    # Buenos Aires is UTC-3: noon there is 15:00 UTC.
    assert from_splynx_time(noon, default) == datetime(2025, 5, 1, 15, 0, tzinfo=UTC)

    save_settings(admin_client, fake_splynx, time_zone="UTC")

    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert from_splynx_time(noon, config) == datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_with_splynx_in_utc_an_earlier_change_there_does_not_undo_ours(
    admin_client: Client, fake_splynx: FakeSplynx
) -> None:
    save_settings(admin_client, fake_splynx, time_zone="UTC")
    ticket = pushed_ticket(fake_splynx, make_operator("ana2", person_id=1))
    remote = fake_splynx.tickets[ticket.splynx_ticket_id or 0]
    # Changed in Splynx half an hour before our sync; read as Buenos Aires time it would
    # look 2.5 hours in the future and be applied over our status.
    remote.update(status_id="4", updated_at=utc_wall_clock(-timedelta(minutes=30)))

    assert sync_status(client=fake_splynx.client())["status_changed"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED

    remote.update(status_id="2", updated_at=utc_wall_clock(timedelta(minutes=1)))

    assert sync_status(client=fake_splynx.client())["status_changed"] == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


@pytest.mark.parametrize("match", ["login", "none"])
def test_dni_matching_switched_on_in_the_settings_finds_the_customer(
    admin_client: Client, fake_splynx: FakeSplynx, match: str
) -> None:
    Contact.objects.create(name="Juana", phone="+5491155550101", dni="30123456")
    customer = fake_splynx.add_customer(name="Juana", login="jp", dni="30123456")
    save_settings(admin_client, fake_splynx, customer_match=match)
    before = pushed_ticket(
        fake_splynx, customer_external_id="10457", customer_phone="+5491155550101"
    )
    assert before.customer_splynx_id is None

    save_settings(admin_client, fake_splynx, customer_match=match, dni_attribute="dni")
    ticket = pushed_ticket(
        fake_splynx,
        external_id="5002",
        customer_external_id="10457",
        customer_phone="+5491155550101",
    )

    assert ticket.customer_splynx_id == int(customer["id"])
    assert fake_splynx.tickets[ticket.splynx_ticket_id or 0]["customer_id"] == customer["id"]
    searches = fake_splynx.requests_to("admin/customers/customer", "GET")
    assert any("additional_attributes[dni]" in request.query for request in searches)
