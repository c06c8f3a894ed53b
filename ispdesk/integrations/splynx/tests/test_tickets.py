"""Tickets, messages, catalogs and customers against the fake Splynx."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.testing.fakes.splynx import FakeSplynx


def test_it_pages_until_a_short_page(fake_splynx: FakeSplynx) -> None:
    for number in range(7):
        fake_splynx.add_ticket(subject=f"Ticket {number}")
    client = fake_splynx.client(page_size=3)
    tickets = client.list_tickets()
    assert [ticket.subject for ticket in tickets] == [f"Ticket {n}" for n in range(7)]
    offsets = [r.query["offset"] for r in fake_splynx.requests_to("admin/support/tickets")]
    assert offsets == ["0", "3", "6"]


def test_it_asks_one_more_page_when_the_last_one_is_full(fake_splynx: FakeSplynx) -> None:
    for number in range(6):
        fake_splynx.add_ticket(subject=f"Ticket {number}")
    assert len(fake_splynx.client(page_size=3).list_tickets()) == 6
    assert len(fake_splynx.requests_to("admin/support/tickets")) == 3


def test_it_filters_open_tickets_updated_since_a_time(fake_splynx: FakeSplynx) -> None:
    fake_splynx.add_ticket(subject="old", updated_at="2020-01-01 00:00:00")
    fake_splynx.add_ticket(subject="closed", closed="1")
    fake_splynx.add_ticket(subject="trashed", trash="1")
    fake_splynx.add_ticket(subject="recent")
    since = datetime.now() - timedelta(hours=1)
    found = fake_splynx.client().list_tickets(open_only=True, updated_since=since)
    assert [ticket.subject for ticket in found] == ["recent"]
    query = fake_splynx.requests_to("admin/support/tickets")[-1].query
    assert query["main_attributes[closed]"] == "0"
    assert query["main_attributes[updated_at][0]"] == ">="


def test_it_creates_gets_and_updates_a_ticket(fake_splynx: FakeSplynx) -> None:
    customer = fake_splynx.add_customer(name="Ana")
    client = fake_splynx.client()
    ticket = client.create_ticket(
        customer_id=int(customer["id"]), subject="Sin servicio", group_id=1, type_id=1
    )
    assert fake_splynx.requests_to("admin/support/tickets", "POST")[0].json["status_id"] == "1"
    assert ticket.subject == "Sin servicio" and ticket.customer_id == int(customer["id"])
    assert not ticket.closed and ticket.assign_to is None
    client.assign_ticket(ticket.id, 2)
    assert client.get_ticket(ticket.id).assign_to == 2
    client.close_ticket(ticket.id, resolved_status_id=3)
    closed = client.get_ticket(ticket.id)
    assert closed.closed and closed.status_id == 3
    client.reopen_ticket(ticket.id)
    reopened = client.get_ticket(ticket.id)
    assert not reopened.closed and reopened.status_id == 1
    puts = [r.json for r in fake_splynx.requests_to(f"tickets/{ticket.id}", "PUT")]
    assert puts == [
        {"assign_to": "2"},
        {"closed": "1", "status_id": "3"},
        {"closed": "0", "status_id": "1"},
    ]


def test_it_says_which_value_splynx_refused(fake_splynx: FakeSplynx) -> None:
    with pytest.raises(SplynxError) as caught:
        fake_splynx.client().create_ticket(customer_id=None, subject="  ")
    assert caught.value.permanent and caught.value.status == 422
    assert "Subject is required" in caught.value.message


def test_it_answers_not_found_as_permanent(fake_splynx: FakeSplynx) -> None:
    with pytest.raises(SplynxError) as caught:
        fake_splynx.client().get_ticket(999999)
    assert (caught.value.permanent, caught.value.status) == (True, 404)


def test_it_adds_and_lists_ticket_messages(fake_splynx: FakeSplynx) -> None:
    ticket = fake_splynx.add_ticket(subject="Lento")
    other = fake_splynx.add_ticket(subject="Otro")
    client = fake_splynx.client()
    added = client.add_ticket_message(int(ticket["id"]), "<p>Hola</p>", admin_id=1)
    client.add_ticket_message(int(ticket["id"]), "nota", message_type="note")
    client.add_ticket_message(int(other["id"]), "otro")
    assert added is not None and added.message == "<p>Hola</p>" and added.admin_id == 1
    messages = client.list_ticket_messages(int(ticket["id"]))
    assert [(m.message, m.message_type) for m in messages] == [
        ("<p>Hola</p>", "message"),
        ("nota", "note"),
    ]


def test_it_reads_the_catalogs(fake_splynx: FakeSplynx) -> None:
    client = fake_splynx.client()
    statuses = client.ticket_statuses()
    assert (statuses[0].id, statuses[0].title) == (1, "New")
    assert (statuses[2].id, statuses[2].title) == (3, "Resolved")
    assert [group.title for group in client.ticket_groups()] == ["Soporte técnico"]
    assert [kind.title for kind in client.ticket_types()] == ["Incidencia"]


def test_it_finds_customers_by_phone_and_rechecks_the_free_text(fake_splynx: FakeSplynx) -> None:
    wanted = fake_splynx.add_customer(name="Ana", phone="3514 55-1111, 011 15 2345-6789")
    fake_splynx.add_customer(name="Bruno", phone="351 4523456789")  # same last 8, other number
    fake_splynx.add_customer(name="Carla", phone="11 9999-0000")
    found = fake_splynx.client().customers_by_phone("+54 9 11 2345-6789")
    assert [customer.name for customer in found] == ["Ana"]
    assert found[0].id == int(wanted["id"])
    searched = [r.query for r in fake_splynx.requests_to("admin/customers/customer")]
    assert [q["main_attributes[phone][0]"] for q in searched] == ["LIKE", "LIKE"]
    # The last 8 digits found only Bruno (a different number); the last 4 found Ana's.
    assert [q["main_attributes[phone][1]"] for q in searched] == ["23456789", "6789"]


def test_it_stops_at_the_first_search_that_matches(fake_splynx: FakeSplynx) -> None:
    fake_splynx.add_customer(name="Ana", phone="5491123456789")
    found = fake_splynx.client().customers_by_phone("11 2345-6789")
    assert [customer.name for customer in found] == ["Ana"]
    assert len(fake_splynx.requests_to("admin/customers/customer")) == 1


def test_it_finds_a_customer_by_id_and_login(fake_splynx: FakeSplynx) -> None:
    row = fake_splynx.add_customer(name="Ana", login="ana.perez", status="blocked")
    client = fake_splynx.client()
    assert client.get_customer(int(row["id"])).status == "blocked"
    found = client.customer_by_login("ana.perez")
    assert found is not None and found.name == "Ana"
    assert client.customer_by_login("nobody") is None


def test_it_finds_a_ticket_by_customer_subject_and_time(fake_splynx: FakeSplynx) -> None:
    fake_splynx.add_ticket(customer_id=5, subject="Sin servicio", created_at="2020-01-01 00:00:00")
    fake_splynx.add_ticket(customer_id=6, subject="Sin servicio")
    fake_splynx.add_ticket(customer_id=5, subject="Otra cosa")
    recent = fake_splynx.add_ticket(customer_id=5, subject="Sin servicio")
    client = fake_splynx.client()
    after = datetime.now() - timedelta(minutes=5)
    found = client.find_ticket(customer_id=5, subject="Sin servicio", created_after=after)
    assert found is not None and found.id == int(recent["id"])
    assert client.find_ticket(customer_id=7, subject="Sin servicio", created_after=after) is None
