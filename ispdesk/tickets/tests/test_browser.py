"""The ticket pages in Chromium: a reassignment reaches the operators' pages live."""

from __future__ import annotations

import pytest

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401
from ispdesk.tickets.actions import (
    NewTicket,
    do_assign_ticket,
    do_change_status,
    do_comment_ticket,
    do_create_ticket,
)
from ispdesk.tickets.models import EventKind, Status, TicketEvent
from ispdesk.tickets.tests.conftest import make_operator

TIMEOUT_MS = 10_000


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_reassignment_in_the_queue_shows_up_live_on_the_operators_pages(
    live_asgi,  # noqa: F811
    browser,
):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    juan = make_operator("juan", "Juan")
    sofia = make_operator("sofia", "Sofía")
    supervisor = make_user("silvia", Role.SUPERVISOR, first_name="Silvia")
    ticket, _ = do_create_ticket(None, NewTicket(subject="Corte de fibra"), auto_assign=False)
    do_assign_ticket(None, ticket, juan)

    def open_page(user, path: str):  # type: ignore[no-untyped-def]
        page = page_as(browser, live_asgi, user)
        page.context.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{live_asgi.url}{path}")
        expect(page.locator("body")).to_have_attribute("data-realtime-state", "connected")
        # Set on the page itself: it survives fragment swaps, not a reload.
        page.evaluate("window.notReloaded = true")
        return page

    sofias = open_page(sofia.user, "/tickets/mine/")
    juans = open_page(juan.user, "/tickets/mine/")
    card = f"#ticket-{ticket.pk}"
    expect(sofias.locator(card)).to_have_count(0)
    expect(juans.locator(card)).to_contain_text("Corte de fibra")

    queue = open_page(supervisor, "/tickets/")
    row = queue.locator(f"#queue-ticket-{ticket.pk}")
    row.get_by_label(f"Assignee of ticket #{ticket.pk}").select_option(str(sofia.pk))
    row.get_by_role("button", name="Reassign").click()
    expect(queue.locator(".alert-success")).to_have_text(f"Ticket #{ticket.pk} assigned to Sofía.")
    expect(queue.locator(f"#assign-{ticket.pk}")).to_have_value(str(sofia.pk))

    # No reload: the list refetched itself on the `ticket:assigned` event.
    expect(sofias.locator(card)).to_contain_text("Corte de fibra")
    expect(sofias.locator(card)).to_contain_text("waiting")
    expect(juans.locator(card)).to_have_count(0)
    assert sofias.evaluate("window.notReloaded") is True
    assert juans.evaluate("window.notReloaded") is True

    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.REASSIGNED)
    assert (event.previous_operator, event.operator, event.actor) == (juan, sofia, supervisor)


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_the_ticket_page_shows_a_colleagues_comment_and_status_without_a_reload(
    live_asgi,  # noqa: F811
    browser,
):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    juan = make_operator("juan", "Juan")
    supervisor = make_user("silvia", Role.SUPERVISOR, first_name="Silvia")
    ticket, _ = do_create_ticket(None, NewTicket(subject="Sin señal"), auto_assign=False)
    do_assign_ticket(None, ticket, juan)

    page = page_as(browser, live_asgi, supervisor)
    page.goto(f"{live_asgi.url}/tickets/{ticket.pk}/")
    expect(page.locator("body")).to_have_attribute("data-realtime-state", "connected")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#ticket-headline")).to_contain_text("Assigned")

    # Juan works the ticket from his phone, as the API or another page would.
    do_change_status(juan.user, ticket, Status.IN_PROGRESS)
    do_comment_ticket(juan.user, ticket, "Reinicié la ONU")

    timeline = page.locator("#ticket-timeline")
    expect(timeline).to_contain_text("Reinicié la ONU")
    expect(timeline).to_contain_text("Status: Assigned → In progress")
    expect(page.locator("#ticket-headline")).to_contain_text("In progress")
    expect(page.locator("#ticket-status")).to_have_value("in_progress")
    assert page.evaluate("window.notReloaded") is True
