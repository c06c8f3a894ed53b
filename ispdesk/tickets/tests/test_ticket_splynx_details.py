"""The ticket page's Splynx details: the link to the ticket there, the customer as Splynx
and the source know them, and the last sync error, all escaped."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.pipeline.links import splynx_ticket_url
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.tickets.models import Ticket

SPLYNX = "https://splynx.example.net"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def splynx_at(base_url: Any) -> ExternalSystem:
    system, _ = ExternalSystem.objects.update_or_create(
        kind=SystemKind.SPLYNX, defaults={"config": {"base_url": base_url}, "enabled": True}
    )
    return system


def with_details(ticket: Ticket, **fields: Any) -> Ticket:
    defaults: dict[str, Any] = {
        "splynx_ticket_id": 4521,
        "customer_splynx_id": 1035,
        "customer_name": "Laura Medina",
        "customer_login": "lmedina",
        "customer_status": "active",
        "customer_external_id": "GR-8812",
        "customer_phone": "+5491123456789",
        "source_state": "Pendiente",
    }
    Ticket.objects.filter(pk=ticket.pk).update(**{**defaults, **fields})
    ticket.refresh_from_db()
    return ticket


def page_of(client, ticket: Ticket, **headers: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/tickets/{ticket.pk}/", headers=headers)
    assert response.status_code == 200
    return html(response)


def test_an_operator_sees_the_splynx_link_and_the_customer_on_her_ticket(operator_client, desk):
    splynx_at(SPLYNX + "/")
    ticket = with_details(desk["anas"])
    page = page_of(operator_client, ticket)
    assert (
        f'<a href="{SPLYNX}/admin/support/tickets--view?id=4521" target="_blank" '
        'rel="noopener noreferrer" class="ticket-splynx-link">#4521 in Splynx' in page
    )
    assert '<span class="ticket-customer-name">Laura Medina</span>' in page
    assert '<code class="ticket-customer-login" title="Login">lmedina</code>' in page
    assert (
        'class="pill customer-status pill-ok" data-customer-status="active">Active</span>' in page
    )
    assert "Splynx customer 1035" in page
    assert "Customer number at the source: GR-8812" in page
    assert '<a href="tel:+5491123456789">+54 9 11 2345-6789</a>' in page
    assert "State at the source: Pendiente" in page
    assert "Splynx sync error" not in page


@pytest.mark.parametrize(
    ("status", "pill", "label"),
    [
        ("blocked", "pill-error", "Blocked"),
        ("new", "pill-info", "New"),
        ("disabled", "pill-muted", "Disabled"),
        ("archived", "pill-muted", "archived"),  # a status Splynx may add later, as read
    ],
)
def test_the_customer_status_badge_says_how_the_account_stands(
    operator_client, desk, status, pill, label
):
    ticket = with_details(desk["anas"], customer_status=status)
    page = page_of(operator_client, ticket)
    assert (
        f'class="pill customer-status {pill}" data-customer-status="{status}">{label}</span>'
        in page
    )


@pytest.mark.parametrize(
    "base_url", [None, "", "javascript:alert(1)", "splynx.example.net", 42, ["https://x"]]
)
def test_there_is_no_link_when_splynxs_address_is_unknown_or_not_a_web_address(
    operator_client, desk, base_url
):
    if base_url is not None:
        splynx_at(base_url)
    ticket = with_details(desk["anas"])
    assert splynx_ticket_url(ticket) == ""
    page = page_of(operator_client, ticket)
    assert "ticket-splynx-link" not in page
    assert "tickets--view" not in page
    assert "#4521" in page  # the id is still shown


def test_a_ticket_not_yet_in_splynx_says_so_and_asks_nothing_of_the_settings(
    operator_client, desk, django_assert_num_queries
):
    splynx_at(SPLYNX)
    ticket = with_details(desk["anas"], splynx_ticket_id=None)
    with django_assert_num_queries(0):
        assert splynx_ticket_url(ticket) == ""
    page = page_of(operator_client, ticket)
    assert "not in Splynx yet" in page
    assert "tickets--view" not in page


def test_the_sync_error_is_shown_in_words_and_escaped(operator_client, desk):
    splynx_at(SPLYNX)
    ticket = with_details(
        desk["anas"],
        splynx_ticket_id=None,
        splynx_error='Splynx refused the ticket: <img src=x onerror="alert(1)"> (HTTP 422)',
    )
    page = page_of(operator_client, ticket)
    assert '<div class="alert alert-error ticket-splynx-error" role="status">' in page
    assert "<strong>Splynx sync error</strong>" in page
    assert (
        "Splynx refused the ticket: &lt;img src=x onerror=&quot;alert(1)&quot;&gt; (HTTP 422)"
        in page
    )
    assert "<img src=x" not in page


def test_everything_the_customer_and_the_source_wrote_is_escaped(operator_client, desk):
    splynx_at(SPLYNX)
    ticket = with_details(
        desk["anas"],
        customer_name="<script>alert(1)</script>",
        customer_login='l"><b>x',
        customer_status="<i>x",
        customer_external_id="<u>7</u>",
        customer_phone='"><script>',
        source_state="<em>Abierto</em>",
    )
    page = page_of(operator_client, ticket)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "l&quot;&gt;&lt;b&gt;x" in page
    assert 'data-customer-status="&lt;i&gt;x">&lt;i&gt;x</span>' in page
    assert "Customer number at the source: &lt;u&gt;7&lt;/u&gt;" in page
    assert 'href="tel:&quot;&gt;&lt;script&gt;"' in page
    assert "State at the source: &lt;em&gt;Abierto&lt;/em&gt;" in page


def test_the_live_refresh_brings_the_details_too(operator_client, desk):
    splynx_at(SPLYNX)
    ticket = with_details(desk["anas"], splynx_error="Splynx: timeout")
    page = page_of(operator_client, ticket, **{"HX-Request": "true"})
    assert "<html" not in page
    assert 'id="ticket-facts"' in page and 'hx-swap-oob="true"' in page
    assert f"{SPLYNX}/admin/support/tickets--view?id=4521" in page
    assert "Splynx: timeout" in page
    assert "lmedina" in page


def test_the_source_closing_time_and_the_last_sync_are_shown(operator_client, desk):
    closed = timezone.now()
    ticket = with_details(desk["anas"], source_closed_at=closed, splynx_synced_at=closed)
    page = page_of(operator_client, ticket)
    assert "Closed at the source" in page
    assert "Last synced" in page
    assert page.count(f'datetime="{timezone.localtime(closed).isoformat()}"') >= 2


def test_another_operator_gets_404_for_the_ticket_and_sees_none_of_it(
    operator_client, outsider_client, desk
):
    splynx_at(SPLYNX)
    juans = with_details(desk["juans"])
    assert operator_client.get(f"/tickets/{juans.pk}/").status_code == 404
    assert outsider_client.get(f"/tickets/{juans.pk}/").status_code == 404


@pytest.mark.parametrize("person", ["supervisor_client", "admin_client"])
def test_supervisors_and_admins_see_the_details_of_any_ticket(request, desk, person):
    splynx_at(SPLYNX)
    juans = with_details(desk["juans"])
    page = page_of(request.getfixturevalue(person), juans)
    assert f"{SPLYNX}/admin/support/tickets--view?id=4521" in page
    assert "lmedina" in page


def _queries(client, ticket: Ticket) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        page_of(client, ticket)
    return len(captured)


def test_the_splynx_details_cost_at_most_one_query(operator_client, desk):
    splynx_at(SPLYNX)
    plain = desk["anas"]
    page_of(operator_client, plain)  # the session is read once, as on any page
    without = _queries(operator_client, plain)
    with_link = _queries(operator_client, with_details(plain, splynx_error="Splynx: 500"))
    assert with_link == without + 1
