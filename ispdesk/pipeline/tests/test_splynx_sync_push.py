"""Pushing tickets to Splynx (against the fake Splynx, over real HTTP): created once, the
customer matched, the first message added, assign_to kept in step, errors in words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.contacts.models import Contact
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.splynx_sync import first_message_html, push_assignment, push_ticket
from ispdesk.pipeline.tests.splynx_sync_support import (
    TICKETS,
    enabled_splynx,
    english_fixture,  # noqa: F401 - autouse
    fake_splynx_fixture,  # noqa: F401 - the `fake_splynx` fixture
    make_operator,
)
from ispdesk.testing.fakes.splynx import API_KEY, API_SECRET, FakeSplynx
from ispdesk.tickets.actions import NewTicket, do_assign_ticket, do_create_ticket
from ispdesk.tickets.models import EventKind, Source, Ticket

MESSAGES = "admin/support/ticket-messages"


@pytest.fixture
def splynx(db: Any) -> ExternalSystem:
    return enabled_splynx(
        {
            "statuses": {},
            "new_status_id": 1,
            "resolved_status_id": 3,
            "default_group_id": 1,
            "default_type_id": 1,
        }
    )


def new_ticket(**fields: Any) -> Ticket:
    values: dict[str, Any] = {
        "subject": "Sin servicio",
        "body": "No anda internet.\nYa reinició el router <b>dos</b> veces.",
        "source": Source.GESTIONREAL,
        "external_id": "5001",
        "customer_external_id": "10457",
        **fields,
    }
    ticket, _created = do_create_ticket(None, NewTicket(**values), auto_assign=False)
    return ticket


def test_it_creates_the_ticket_once_even_when_run_twice(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    customer = fake_splynx.add_customer(name="María Fernández", login="10457")
    ticket = new_ticket()
    client = fake_splynx.client()

    first = push_ticket(ticket.pk, client=client)
    second = push_ticket(ticket.pk, client=client)

    assert first.created and first.error == ""
    assert not second.created and second.splynx_ticket_id == first.splynx_ticket_id
    assert len(fake_splynx.tickets) == 1
    assert len(fake_splynx.requests_to(TICKETS, "POST")) == 1
    sent = fake_splynx.requests_to(TICKETS, "POST")[0].json
    assert sent["customer_id"] == customer["id"]
    assert sent["subject"] == "Sin servicio"
    assert (sent["status_id"], sent["group_id"], sent["type_id"]) == ("1", "1", "1")
    ticket.refresh_from_db()
    assert ticket.splynx_ticket_id == first.splynx_ticket_id
    assert ticket.customer_splynx_id == int(customer["id"])
    assert (ticket.customer_login, ticket.customer_status) == ("10457", "active")
    assert ticket.splynx_synced_at is not None and ticket.splynx_error == ""
    synced = ticket.events.filter(kind=EventKind.SYNCED)
    assert synced.count() == 1
    assert "Created in Splynx as ticket" in synced.get().text


def test_it_adds_the_body_as_the_first_message_escaped_with_line_breaks(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    result = push_ticket(ticket.pk, client=fake_splynx.client())
    push_ticket(ticket.pk, client=fake_splynx.client())

    messages = list(fake_splynx.messages.values())
    assert len(messages) == 1
    assert messages[0]["ticket_id"] == str(result.splynx_ticket_id)
    assert messages[0]["message"] == (
        "No anda internet.<br>Ya reinició el router &lt;b&gt;dos&lt;/b&gt; veces."
    )


def test_first_message_html_escapes_and_keeps_every_kind_of_line_break() -> None:
    assert first_message_html("  a & b\r\nc\rd\n") == "a &amp; b<br>c<br>d"


def test_a_create_whose_answer_was_lost_is_found_in_the_same_run(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    fake_splynx.fail_next("create_then_hang", path=TICKETS)

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert result.created and result.error == ""
    assert len(fake_splynx.tickets) == 1
    assert result.splynx_ticket_id == int(next(iter(fake_splynx.tickets)))
    assert "earlier attempt" in ticket.events.get(kind=EventKind.SYNCED).text


def test_the_next_run_adopts_a_lost_create_instead_of_creating_a_second(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    # The create is stored but never answered, and the lookup right after fails too.
    fake_splynx.fail_next("create_then_hang", path=TICKETS)
    fake_splynx.fail_next("server_error", times=3, path=TICKETS)

    failed = push_ticket(ticket.pk, client=fake_splynx.client())

    assert failed.error and failed.splynx_ticket_id is None
    ticket.refresh_from_db()
    assert ticket.splynx_create_started_at is not None
    assert ticket.splynx_error == failed.error

    adopted = push_ticket(ticket.pk, client=fake_splynx.client())

    assert adopted.created and adopted.error == ""
    assert len(fake_splynx.tickets) == 1
    assert len(fake_splynx.requests_to(TICKETS, "POST")) == 1
    assert adopted.splynx_ticket_id == int(next(iter(fake_splynx.tickets)))
    # The lost create never got its message: the adoption adds it, once.
    assert len(fake_splynx.messages) == 1
    ticket.refresh_from_db()
    assert ticket.splynx_error == ""


def test_a_crash_after_the_post_is_found_by_the_next_run(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket(customer_external_id="")
    started = timezone.now() - timedelta(minutes=10)
    Ticket.objects.filter(pk=ticket.pk).update(splynx_create_started_at=started)
    stored = fake_splynx.add_ticket(subject="Sin servicio", customer_id="0")

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert result.splynx_ticket_id == int(stored["id"])
    assert len(fake_splynx.tickets) == 1


def test_a_fresh_claim_of_another_worker_is_left_alone(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(splynx_create_started_at=timezone.now())

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert not result.created and result.error == ""
    assert "Another worker" in result.note
    assert fake_splynx.requests_to(TICKETS, "POST") == []


def test_a_stale_claim_with_nothing_in_splynx_is_created_again(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    stale = timezone.now() - timedelta(minutes=30)
    Ticket.objects.filter(pk=ticket.pk).update(splynx_create_started_at=stale)

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert result.created and len(fake_splynx.tickets) == 1


def test_it_does_not_adopt_a_splynx_ticket_already_linked_to_another_one(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    other = new_ticket(external_id="5000")
    push_ticket(other.pk, client=fake_splynx.client())
    ticket = new_ticket()
    stale = timezone.now() - timedelta(minutes=30)
    Ticket.objects.filter(pk=ticket.pk).update(splynx_create_started_at=stale)

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    other.refresh_from_db()
    assert result.splynx_ticket_id != other.splynx_ticket_id
    assert len(fake_splynx.tickets) == 2


def test_it_matches_the_customer_by_phone_when_the_login_finds_nobody(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    fake_splynx.add_customer(name="Otro", login="99999", phone="3514 11-2233")
    customer = fake_splynx.add_customer(name="Juana", login="j.perez", phone="11 5555-0101 / fijo")
    ticket = new_ticket(customer_phone="+5491155550101")

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    ticket.refresh_from_db()
    assert ticket.customer_splynx_id == int(customer["id"])
    assert ticket.customer_name == "Juana"
    assert fake_splynx.tickets[result.splynx_ticket_id or 0]["customer_id"] == customer["id"]


def test_with_matching_by_login_off_it_goes_straight_to_the_phone(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    splynx.config = {**splynx.config, "customer_match": "none"}
    splynx.save()
    fake_splynx.add_customer(name="By login", login="10457")
    by_phone = fake_splynx.add_customer(name="By phone", login="x", phone="1155550101")
    ticket = new_ticket(customer_phone="+5491155550101")

    push_ticket(ticket.pk, client=fake_splynx.client())

    ticket.refresh_from_db()
    assert ticket.customer_splynx_id == int(by_phone["id"])
    customer_searches = fake_splynx.requests_to("admin/customers/customer", "GET")
    assert all("main_attributes[login]" not in r.query for r in customer_searches)


def test_it_matches_by_the_contacts_dni_when_the_installation_names_the_attribute(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    splynx.config = {**splynx.config, "customer_match": "none", "dni_attribute": "dni"}
    splynx.save()
    Contact.objects.create(name="Juana", phone="+5491155550101", dni="30123456")
    customer = fake_splynx.add_customer(name="Juana", login="jp", dni="30123456")
    ticket = new_ticket(customer_phone="+5491155550101")

    push_ticket(ticket.pk, client=fake_splynx.client())

    ticket.refresh_from_db()
    assert ticket.customer_splynx_id == int(customer["id"])


def test_a_ticket_without_a_customer_is_created_with_customer_zero_and_a_note(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket(customer_phone="+5491166660000")

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert result.created and result.error == ""
    assert "customer not found by login 10457, phone +5491166660000" in result.note
    assert fake_splynx.tickets[result.splynx_ticket_id or 0]["customer_id"] == "0"
    assert result.note in ticket.events.get(kind=EventKind.SYNCED).text


def test_a_phone_shared_by_two_customers_matches_nobody(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    fake_splynx.add_customer(phone="1155550101")
    fake_splynx.add_customer(phone="011 1555550101")
    ticket = new_ticket(customer_external_id="", customer_phone="+5491155550101")

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert "share the phone" in result.note
    assert fake_splynx.tickets[result.splynx_ticket_id or 0]["customer_id"] == "0"


def test_it_creates_the_ticket_assigned_to_the_local_assignees_administrator(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana = make_operator("ana2", person_id=1)
    ticket = new_ticket()
    do_assign_ticket(None, ticket, ana)

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert result.assigned
    assert fake_splynx.tickets[result.splynx_ticket_id or 0]["assign_to"] == "1"
    ticket.refresh_from_db()
    assert ticket.splynx_assigned_to == 1


def test_assign_to_follows_a_local_reassignment_and_is_not_resent(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    ticket = new_ticket()
    do_assign_ticket(None, ticket, ana)
    client = fake_splynx.client()
    result = push_ticket(ticket.pk, client=client)
    do_assign_ticket(None, ticket, juan)

    assert push_assignment(ticket.pk, client=client) is True
    assert push_assignment(ticket.pk, client=client) is False

    assert fake_splynx.tickets[result.splynx_ticket_id or 0]["assign_to"] == "2"
    assert len(fake_splynx.requests_to(f"{TICKETS}/{result.splynx_ticket_id}", "PUT")) == 1


def test_an_operator_without_an_administrator_leaves_the_ticket_unassigned_there(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana = make_operator("ana2", person_id=1)
    ticket = new_ticket()
    do_assign_ticket(None, ticket, ana)
    client = fake_splynx.client()
    result = push_ticket(ticket.pk, client=client)
    do_assign_ticket(None, ticket, make_operator("nadie"))

    assert push_ticket(ticket.pk, client=client).assigned

    assert fake_splynx.tickets[result.splynx_ticket_id or 0]["assign_to"] == "0"


def test_a_push_never_overwrites_a_reassignment_made_inside_splynx(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    ticket = new_ticket()
    do_assign_ticket(None, ticket, ana)
    client = fake_splynx.client()
    result = push_ticket(ticket.pk, client=client)
    remote = fake_splynx.tickets[result.splynx_ticket_id or 0]
    remote["assign_to"] = "7"  # by hand, inside Splynx
    do_assign_ticket(None, ticket, juan)

    assert push_assignment(ticket.pk, client=client) is False

    assert remote["assign_to"] == "7"


def test_errors_are_stored_in_words_without_secrets(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    fake_splynx.fail_next("unauthorized", times=2, path="admin/")  # one retry, freshly signed

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    ticket.refresh_from_db()
    assert result.error == ticket.splynx_error
    assert "rejected the credentials" in ticket.splynx_error
    assert API_SECRET not in ticket.splynx_error and API_KEY not in ticket.splynx_error
    assert ticket.splynx_ticket_id is None and fake_splynx.tickets == {}


def test_a_refused_create_drops_the_claim_so_the_next_run_creates_at_once(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    ticket = new_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(subject=" ")

    result = push_ticket(ticket.pk, client=fake_splynx.client())

    assert "Subject is required" in result.error
    ticket.refresh_from_db()
    assert ticket.splynx_create_started_at is None


def test_without_settings_it_reports_instead_of_calling(db: Any) -> None:
    ticket = new_ticket()

    result = push_ticket(ticket.pk)

    assert result.error == "Splynx is not enabled or not configured."
    assert not result.created


def test_a_missing_first_message_is_added_by_one_worker_only(
    splynx: ExternalSystem, fake_splynx: FakeSplynx
) -> None:
    from ispdesk.pipeline.splynx_sync import _push_existing

    ticket = new_ticket()
    push_ticket(ticket.pk, client=fake_splynx.client())
    fake_splynx.messages.clear()  # the first message never arrived
    Ticket.objects.filter(pk=ticket.pk).update(splynx_error="Splynx timed out.")
    # Two workers read the ticket with its error at the same moment...
    seen_by_first = Ticket.objects.get(pk=ticket.pk)
    seen_by_second = Ticket.objects.get(pk=ticket.pk)

    _push_existing(seen_by_first, fake_splynx.client(), timezone.now())
    before = len(fake_splynx.requests_to(MESSAGES))
    _push_existing(seen_by_second, fake_splynx.client(), timezone.now())

    # ...and only the one that cleared the error repairs the ticket: the other does not even
    # look at the messages (a look then an add, by both, could post it twice).
    assert len(fake_splynx.messages) == 1
    assert len(fake_splynx.requests_to(MESSAGES)) == before
    assert Ticket.objects.get(pk=ticket.pk).splynx_error == ""
