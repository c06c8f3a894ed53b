"""The ticket pages: my tickets, the queue, one ticket, a new ticket; who may do what."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.operators.models import Area, Operator
from ispdesk.tickets.actions import (
    NewTicket,
    do_assign_ticket,
    do_change_status,
    do_close_ticket,
    do_comment_ticket,
    do_create_ticket,
    do_unassign_ticket,
)
from ispdesk.tickets.models import EventKind, Priority, Source, Status, Ticket, TicketEvent
from ispdesk.tickets.views import PAGE_SIZE, format_duration


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def flashed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(message) for message in get_messages(response.wsgi_request)]


def new_ticket(
    subject: str, owner: Operator | None = None, *, hours_ago: float = 0, **fields: Any
) -> Ticket:
    created, _ = do_create_ticket(
        None,
        NewTicket(
            subject=subject,
            external_id=uuid.uuid4().hex,
            created_at=timezone.now() - timedelta(hours=hours_ago),
            **fields,
        ),
        auto_assign=False,
    )
    if owner is not None:
        do_assign_ticket(None, created, owner)
    created.refresh_from_db()
    return created


@pytest.fixture
def desk(team, operator):
    """Ana (the `operator` user) has a profile, off the assignment schedule so the engine never
    picks her; she has one ticket, Juan has one, one waits in the queue."""
    ana = Operator.objects.create(user=operator)
    return {
        **team,
        "ana": ana,
        "anas": new_ticket("Sin señal", ana, hours_ago=3, customer_name="Laura Medina"),
        "juans": new_ticket("Corte de fibra", team["juan"], hours_ago=2),
        "queued": new_ticket("Cambio de plan", hours_ago=1),
    }


def client_for(request, person: str) -> Client:  # type: ignore[no-untyped-def]
    if person == "anonymous":
        return Client()
    return request.getfixturevalue(f"{person}_client")


def history_count(ticket: Ticket) -> int:
    return TicketEvent.objects.filter(ticket=ticket).count()


# --- who may open what ----------------------------------------------------------------------

PAGES = ["/tickets/", "/tickets/mine/", "/tickets/new/", "/tickets/{anas}/"]
ACTIONS = [
    ("comment", {"text": "Hola"}),
    ("status", {"status": "in_progress"}),
    ("close", {}),
    ("reopen", {}),
    ("assign", {"operator": ""}),
    ("unassign", {}),
]


@pytest.mark.parametrize("path", PAGES)
def test_it_sends_anonymous_people_to_the_login_page(client, desk, path):
    response = client.get(path.format(anas=desk["anas"].pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(("action", "form"), ACTIONS)
def test_it_sends_anonymous_posts_to_the_login_page_and_changes_nothing(client, desk, action, form):
    ticket = desk["anas"]
    before = history_count(ticket)
    response = client.post(f"/tickets/{ticket.pk}/{action}/", form)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert history_count(ticket) == before


@pytest.mark.parametrize("person", ["operator", "outsider"])
@pytest.mark.parametrize("path", ["/tickets/", "/tickets/new/"])
def test_it_forbids_the_queue_and_the_new_ticket_form_to_operators(request, desk, person, path):
    assert client_for(request, person).get(path).status_code == 403


@pytest.mark.parametrize("person", ["operator", "outsider"])
def test_operators_can_neither_assign_nor_unassign_nor_assign_the_queue(request, desk, person):
    client = client_for(request, person)
    ticket = desk["anas"]
    before = history_count(ticket)
    assert client.post(f"/tickets/{ticket.pk}/assign/", {"operator": ""}).status_code == 403
    assert client.post(f"/tickets/{ticket.pk}/unassign/").status_code == 403
    assert client.post("/tickets/assign-unassigned/").status_code == 403
    assert client.post("/tickets/new/", {"subject": "x", "priority": "low"}).status_code == 403
    assert history_count(ticket) == before
    assert Ticket.objects.unassigned().count() == 1


@pytest.mark.parametrize("person", ["operator", "outsider"])
@pytest.mark.parametrize("whose", ["juans", "queued"])
def test_an_operator_gets_404_for_a_ticket_that_is_not_hers(request, desk, person, whose):
    client = client_for(request, person)
    ticket = desk[whose]
    before = history_count(ticket)
    assert client.get(f"/tickets/{ticket.pk}/").status_code == 404
    for action, form in ACTIONS[:4]:
        assert client.post(f"/tickets/{ticket.pk}/{action}/", form).status_code == 404
    assert history_count(ticket) == before
    assert Ticket.objects.get(pk=ticket.pk).status == ticket.status


def test_an_operator_opens_her_own_ticket(operator_client, desk):
    response = operator_client.get(f"/tickets/{desk['anas'].pk}/")
    assert response.status_code == 200
    assert "Sin señal" in html(response)
    # Assigning is for supervisors: no assign form on her page.
    assert f'action="/tickets/{desk["anas"].pk}/assign/"' not in html(response)


@pytest.mark.parametrize("person", ["supervisor", "admin"])
def test_supervisors_and_admins_open_every_ticket_and_the_queue(request, desk, person):
    client = client_for(request, person)
    for key in ("anas", "juans", "queued"):
        page = html(client.get(f"/tickets/{desk[key].pk}/"))
        assert desk[key].subject in page
        assert f'action="/tickets/{desk[key].pk}/assign/"' in page
    queue = html(client.get("/tickets/"))
    for key in ("anas", "juans", "queued"):
        assert f'id="queue-ticket-{desk[key].pk}"' in queue


@pytest.mark.parametrize("action", ["comment", "status", "close", "assign"])
def test_actions_take_a_post_only(supervisor_client, desk, action):
    assert supervisor_client.get(f"/tickets/{desk['anas'].pk}/{action}/").status_code == 405


def test_a_post_without_the_csrf_token_is_refused(operator, desk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(f"/tickets/{desk['anas'].pk}/comment/", {"text": "Hola"})
    assert response.status_code == 403
    assert not TicketEvent.objects.filter(kind=EventKind.COMMENTED).exists()


def test_the_navigation_offers_each_person_their_ticket_pages(
    operator_client, outsider_client, supervisor_client, desk
):
    ana = html(operator_client.get("/"))
    assert 'href="/tickets/mine/"' in ana
    assert 'href="/tickets/"' not in ana
    omar = html(outsider_client.get("/"))  # no operator profile
    assert 'href="/tickets/mine/"' not in omar
    assert 'href="/tickets/"' not in omar
    silvia = html(supervisor_client.get("/"))
    assert 'href="/tickets/"' in silvia
    assert 'href="/tickets/mine/"' not in silvia


# --- my tickets -----------------------------------------------------------------------------


def test_my_tickets_lists_her_open_tickets_oldest_first(operator_client, desk):
    ana = desk["ana"]
    newer = new_ticket("Router reinicia solo", ana, hours_ago=0.1)
    older = new_ticket("Microcortes", ana, hours_ago=30)
    closed = new_ticket("Factura duplicada", ana, hours_ago=50)
    do_close_ticket(None, closed)
    response = operator_client.get("/tickets/mine/")
    rows = [row.ticket.pk for row in response.context["rows"]]
    assert rows == [older.pk, desk["anas"].pk, newer.pk]
    page = html(response)
    assert "Corte de fibra" not in page  # Juan's
    assert "Factura duplicada" not in page  # closed
    assert "3 open tickets" in page


def test_my_tickets_highlights_overdue_tickets_with_their_wait(operator_client, desk):
    ana = desk["ana"]
    fresh = new_ticket("Reciente", ana, hours_ago=0.25)
    answered = new_ticket("Respondido", ana, hours_ago=5)
    do_change_status(ana.user, answered, Status.IN_PROGRESS)  # a first response
    page = html(operator_client.get("/tickets/mine/"))
    card = re.search(rf'id="ticket-{desk["anas"].pk}".*?</li>', page, re.S)
    assert card is not None
    assert "is-overdue" in page[card.start() - 80 : card.start()]
    assert "waiting 3 h for a first response" in card.group()
    assert "Overdue" in card.group()
    fresh_card = re.search(rf'<li class="([^"]*)" id="ticket-{fresh.pk}"', page)
    answered_card = re.search(rf'<li class="([^"]*)" id="ticket-{answered.pk}"', page)
    assert fresh_card and "is-overdue" not in fresh_card.group(1)
    assert answered_card and "is-overdue" not in answered_card.group(1)
    assert "1 overdue" in page


def test_the_overdue_threshold_comes_from_the_settings(operator_client, admin, desk):
    from ispdesk.system.actions import do_set_config

    do_set_config(admin, {"ticket_overdue_minutes": 600})
    response = operator_client.get("/tickets/mine/")
    assert not any(row.metrics.overdue for row in response.context["rows"])
    assert "overdue after 600 minutes" in html(response)


def test_my_tickets_explains_itself_to_a_user_without_an_operator_profile(outsider_client):
    response = outsider_client.get("/tickets/mine/")
    assert response.status_code == 200
    assert "You have no operator profile" in html(response)
    assert 'id="my-tickets"' not in html(response)


def test_my_tickets_refetches_its_list_on_ticket_events_and_after_a_reconnect(
    operator_client, desk
):
    page = html(operator_client.get("/tickets/mine/"))
    live = re.search(r'<div id="my-tickets"[^>]*>', page, re.S)
    assert live is not None
    assert 'hx-get="/tickets/mine/"' in live.group()
    for event in ("ispdesk:ticket:update", "ispdesk:ticket:assigned", "ispdesk:resync"):
        assert f"{event} from:body" in live.group()
    fragment = operator_client.get("/tickets/mine/", headers={"HX-Request": "true"})
    assert "<html" not in html(fragment)
    assert f'id="ticket-{desk["anas"].pk}"' in html(fragment)
    assert "HX-Request" in fragment["Vary"]


def test_the_quick_status_change_saves_and_returns_to_my_tickets(operator_client, operator, desk):
    ticket = desk["anas"]
    response = operator_client.post(
        f"/tickets/{ticket.pk}/status/", {"status": "in_progress", "next": "/tickets/mine/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/mine/"
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.first_response_at is not None
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.STATUS_CHANGED)
    assert (event.from_status, event.to_status, event.actor) == (
        "assigned",
        "in_progress",
        operator,
    )
    assert f"Ticket #{ticket.pk}: status In progress." in flashed(response)


def test_the_quick_close_closes_the_ticket(operator_client, operator, desk):
    ticket = desk["anas"]
    response = operator_client.post(f"/tickets/{ticket.pk}/close/", {"next": "/tickets/mine/"})
    assert response["Location"] == "/tickets/mine/"
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    assert TicketEvent.objects.get(ticket=ticket, kind=EventKind.CLOSED).actor == operator
    page = html(operator_client.get("/tickets/mine/"))
    assert f"Ticket #{ticket.pk} closed." in page
    assert f'id="ticket-{ticket.pk}"' not in page


def test_it_never_redirects_off_site(operator_client, desk):
    ticket = desk["anas"]
    response = operator_client.post(
        f"/tickets/{ticket.pk}/status/", {"status": "waiting", "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/tickets/{ticket.pk}/"


# --- the ticket page: actions ---------------------------------------------------------------


def test_a_comment_is_saved_with_its_author(operator_client, operator, desk):
    ticket = desk["anas"]
    response = operator_client.post(f"/tickets/{ticket.pk}/comment/", {"text": " Reinicié la ONU "})
    assert response.status_code == 302
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.COMMENTED)
    assert (event.text, event.actor) == ("Reinicié la ONU", operator)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    page = html(operator_client.get(f"/tickets/{ticket.pk}/"))
    assert "Comment added." in page
    assert "Reinicié la ONU" in page


@pytest.mark.parametrize("text", ["", "   ", "x" * 5001])
def test_a_bad_comment_shows_why_keeps_the_text_and_stores_nothing(operator_client, desk, text):
    ticket = desk["anas"]
    before = history_count(ticket)
    response = operator_client.post(f"/tickets/{ticket.pk}/comment/", {"text": text})
    assert response.status_code == 422
    page = html(response)
    assert 'class="alert alert-error"' in page
    assert ("Write a comment." in page) if not text.strip() else ("at most 5000" in page)
    if text.strip():
        assert text in page  # what was typed is not lost
    assert history_count(ticket) == before


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("new", "Unassign the ticket to put it back in the queue."),
        ("done", "Select a valid choice. done is not one of the available choices."),
    ],
)
def test_a_refused_status_change_shows_the_reason_and_stores_nothing(
    operator_client, desk, status, message
):
    ticket = desk["anas"]
    before = history_count(ticket)
    response = operator_client.post(f"/tickets/{ticket.pk}/status/", {"status": status})
    assert message in flashed(response)
    assert history_count(ticket) == before
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


def test_a_status_change_on_a_closed_ticket_is_refused(operator_client, desk):
    ticket = desk["anas"]
    do_close_ticket(None, ticket)
    before = history_count(ticket)
    response = operator_client.post(f"/tickets/{ticket.pk}/status/", {"status": "waiting"})
    assert "Reopen the ticket to change its status." in flashed(response)
    assert history_count(ticket) == before


def test_close_and_reopen_with_notes(operator_client, operator, desk):
    ticket = desk["anas"]
    operator_client.post(f"/tickets/{ticket.pk}/close/", {"note": "Quedó andando"})
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    closed = TicketEvent.objects.get(ticket=ticket, kind=EventKind.CLOSED)
    assert (closed.text, closed.actor) == ("Quedó andando", operator)
    response = operator_client.post(f"/tickets/{ticket.pk}/reopen/", {"note": "Volvió a fallar"})
    assert f"Ticket #{ticket.pk} reopened." in flashed(response)
    ticket.refresh_from_db()
    assert ticket.status == Status.ASSIGNED and ticket.closed_at is None
    reopened = TicketEvent.objects.get(ticket=ticket, kind=EventKind.REOPENED)
    assert reopened.text == "Volvió a fallar"


def test_an_overlong_note_is_refused(operator_client, desk):
    ticket = desk["anas"]
    response = operator_client.post(f"/tickets/{ticket.pk}/close/", {"note": "x" * 1001})
    assert any("at most 1000" in message for message in flashed(response))
    assert Ticket.objects.get(pk=ticket.pk).status == Status.ASSIGNED


def test_a_supervisor_reassigns_a_ticket(supervisor_client, supervisor, desk):
    ticket = desk["juans"]
    response = supervisor_client.post(
        f"/tickets/{ticket.pk}/assign/", {"operator": desk["sofia"].pk, "next": "/tickets/?q=x"}
    )
    assert response["Location"] == "/tickets/?q=x"
    ticket.refresh_from_db()
    assert ticket.assignee == desk["sofia"]
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.REASSIGNED)
    assert (event.previous_operator, event.operator, event.actor) == (
        desk["juan"],
        desk["sofia"],
        supervisor,
    )
    assert f"Ticket #{ticket.pk} assigned to Sofía." in flashed(response)


def test_an_empty_choice_lets_the_engine_choose_and_says_why(supervisor_client, desk):
    ticket = desk["queued"]
    response = supervisor_client.post(f"/tickets/{ticket.pk}/assign/", {"operator": ""})
    ticket.refresh_from_db()
    assert ticket.assignee in (desk["juan"], desk["sofia"])
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED)
    assert "fewest among" in event.text
    (message,) = flashed(response)
    assert message == f"Ticket #{ticket.pk} assigned by ispdesk: {event.text}"


def test_the_engine_leaves_an_assigned_ticket_alone(supervisor_client, desk):
    ticket = desk["juans"]
    before = history_count(ticket)
    response = supervisor_client.post(f"/tickets/{ticket.pk}/assign/", {"operator": ""})
    assert any("already has an assignee" in message for message in flashed(response))
    assert history_count(ticket) == before
    assert Ticket.objects.get(pk=ticket.pk).assignee == desk["juan"]


def test_the_engine_says_so_when_nobody_can_take_the_ticket(supervisor_client, desk):
    Operator.objects.update(is_paused=True)
    ticket = desk["queued"]
    response = supervisor_client.post(f"/tickets/{ticket.pk}/assign/", {"operator": ""})
    assert "Nobody can take tickets now; it waits in the queue" in flashed(response)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


@pytest.mark.parametrize("choice", ["inactive", "unknown", "nonsense"])
def test_it_refuses_an_operator_who_cannot_be_chosen(supervisor_client, desk, choice):
    desk["pedro"].active = False
    desk["pedro"].save()
    value = {"inactive": desk["pedro"].pk, "unknown": 999_999, "nonsense": "juan"}[choice]
    ticket = desk["juans"]
    before = history_count(ticket)
    response = supervisor_client.post(f"/tickets/{ticket.pk}/assign/", {"operator": value})
    assert "Choose an active operator." in flashed(response)
    assert history_count(ticket) == before
    assert Ticket.objects.get(pk=ticket.pk).assignee == desk["juan"]


def test_a_closed_ticket_cannot_be_assigned(supervisor_client, desk):
    ticket = desk["juans"]
    do_close_ticket(None, ticket)
    response = supervisor_client.post(
        f"/tickets/{ticket.pk}/assign/", {"operator": desk["sofia"].pk}
    )
    assert "Reopen the ticket before assigning it." in flashed(response)
    assert Ticket.objects.get(pk=ticket.pk).assignee == desk["juan"]


def test_a_supervisor_unassigns_a_ticket(supervisor_client, supervisor, desk):
    ticket = desk["juans"]
    response = supervisor_client.post(f"/tickets/{ticket.pk}/unassign/")
    assert f"Ticket #{ticket.pk} is back in the unassigned queue." in flashed(response)
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (None, Status.NEW)
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.UNASSIGNED)
    assert (event.previous_operator, event.actor) == (desk["juan"], supervisor)


# --- the ticket page: what it shows ---------------------------------------------------------


def test_the_ticket_page_shows_the_engines_reason(supervisor_client, desk):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Sin servicio", external_id="r-1"))
    assert ticket.assignee is not None
    reason = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED).text
    assert reason.startswith(ticket.assignee.name + ":")
    page = html(supervisor_client.get(f"/tickets/{ticket.pk}/"))
    assert f"Assigned to {ticket.assignee.name}" in page
    assert reason in page


def test_the_history_reads_as_sentences_with_actors(supervisor_client, supervisor, desk):
    ticket = desk["juans"]
    do_assign_ticket(supervisor, ticket, desk["sofia"])
    do_change_status(supervisor, ticket, Status.WAITING)
    do_comment_ticket(supervisor, ticket, "Llamar a la tarde")
    do_unassign_ticket(supervisor, ticket, "Sofía se fue")
    do_close_ticket(None, ticket, "Resuelto por sync")
    response = supervisor_client.get(f"/tickets/{ticket.pk}/")
    items = [(item.title, item.actor) for item in response.context["timeline"]]
    assert items == [
        ("Created from Manual", "ispdesk"),
        ("Assigned to Juan", "ispdesk"),
        ("Reassigned from Juan to Sofía", "Silvia"),
        ("Status: Assigned → Waiting", "Silvia"),
        ("Comment", "Silvia"),
        ("Unassigned from Sofía", "Silvia"),
        ("Closed", "ispdesk"),
    ]
    page = html(response)
    for text in ("Assigned by Silvia", "Llamar a la tarde", "Sofía se fue", "Resuelto por sync"):
        assert text in page


def test_the_ticket_page_shows_facts_times_and_metrics(operator_client, desk):
    Ticket.objects.filter(pk=desk["anas"].pk).update(
        customer_splynx_id=1035, splynx_ticket_id=778, alerts_sent=2
    )
    response = operator_client.get(f"/tickets/{desk['anas'].pk}/")
    page = html(response)
    for text in ("Laura Medina", "Splynx customer 1035", "778", "Manual", "Ana"):
        assert text in page
    assert desk["anas"].external_id in page
    assert response.context["metrics"].alerts_sent == 2
    assert response.context["metrics"].overdue
    assert "Overdue: waiting 3 h" in page
    assert "Time to first response" in page


def test_the_ticket_page_refetches_its_parts_on_its_own_events(operator_client, desk):
    ticket = desk["anas"]
    page = html(operator_client.get(f"/tickets/{ticket.pk}/"))
    assert f"ispdesk:ticket:update[detail.ticket=={ticket.pk}] from:body" in page
    assert f"ispdesk:ticket:assigned[detail.ticket=={ticket.pk}] from:body" in page
    assert "ispdesk:resync from:body" in page
    fragment = html(operator_client.get(f"/tickets/{ticket.pk}/", headers={"HX-Request": "true"}))
    assert "<html" not in fragment
    for part in ("ticket-headline", "ticket-facts", "ticket-actions", "ticket-timeline"):
        assert f'id="{part}"' in fragment
    assert fragment.count('hx-swap-oob="true"') == 4


def test_a_refetch_of_a_ticket_that_is_no_longer_hers_leaves_for_my_tickets(operator_client, desk):
    ticket = desk["anas"]
    do_assign_ticket(None, ticket, desk["juan"])
    response = operator_client.get(f"/tickets/{ticket.pk}/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/tickets/mine/"
    assert operator_client.get(f"/tickets/{ticket.pk}/").status_code == 404


# --- the queue ------------------------------------------------------------------------------


def queue_ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [row.ticket.pk for row in response.context["rows"]]


def test_the_queue_shows_open_tickets_oldest_first_by_default(supervisor_client, desk):
    do_close_ticket(None, new_ticket("Cerrado", desk["juan"], hours_ago=9))
    response = supervisor_client.get("/tickets/")
    assert queue_ids(response) == [desk["anas"].pk, desk["juans"].pk, desk["queued"].pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=all", {"anas", "juans", "queued", "closed"}),
        ("status=closed", {"closed"}),
        ("assignee=none", {"queued"}),
        ("assignee={juan}", {"juans"}),
        ("area={area}", {"juans"}),
        ("source=splynx", {"anas"}),
        ("overdue=yes", {"anas", "juans"}),
        ("overdue=no", {"queued"}),
        ("q=fibra", {"juans"}),
        ("q=laura", {"anas"}),
        ("q=fibra&assignee=none", set()),
    ],
)
def test_the_queue_filters(supervisor_client, desk, query, expected):
    area = Area.objects.create(name="Soporte")
    Ticket.objects.filter(pk=desk["juans"].pk).update(area=area)
    Ticket.objects.filter(pk=desk["anas"].pk).update(source=Source.SPLYNX)
    Ticket.objects.filter(pk=desk["queued"].pk).update(created_at=timezone.now())
    closed = new_ticket("Cerrado", desk["juan"])
    do_close_ticket(None, closed)
    tickets = {**desk, "closed": closed}
    url = "/tickets/?" + query.format(juan=desk["juan"].pk, area=area.pk)
    response = supervisor_client.get(url)
    assert response.status_code == 200
    assert set(queue_ids(response)) == {tickets[key].pk for key in expected}


@pytest.mark.parametrize(
    "query", ["status=done", "assignee=999999", "area=abc", "source=fax", "q=a%00b"]
)
def test_a_filter_that_cannot_be_applied_shows_its_error_and_no_rows(
    supervisor_client, desk, query
):
    response = supervisor_client.get(f"/tickets/?{query}")
    assert response.status_code == 200
    assert queue_ids(response) == []
    page = html(response)
    assert "These filters cannot be applied" in page
    assert 'class="field-error"' in page


def test_the_queue_pages_and_keeps_the_filters(supervisor_client, desk):
    for number in range(PAGE_SIZE + 2):
        new_ticket(f"Caso {number}", desk["juan"], hours_ago=100 - number)
    first = supervisor_client.get(f"/tickets/?assignee={desk['juan'].pk}")
    assert len(queue_ids(first)) == PAGE_SIZE
    assert f"?assignee={desk['juan'].pk}&amp;page=2" in html(first)
    second = supervisor_client.get(f"/tickets/?assignee={desk['juan'].pk}&page=2")
    assert len(queue_ids(second)) == 3  # 27 new ones plus "Corte de fibra"
    assert not set(queue_ids(first)) & set(queue_ids(second))


def test_the_queue_offers_active_operators_and_the_engine_in_each_row(supervisor_client, desk):
    desk["pedro"].active = False
    desk["pedro"].save()
    desk["sofia"].assignment_paused = True
    desk["sofia"].save()
    page = html(supervisor_client.get("/tickets/"))
    queued = re.search(rf'<select id="assign-{desk["queued"].pk}".*?</select>', page, re.S)
    juans = re.search(rf'<select id="assign-{desk["juans"].pk}".*?</select>', page, re.S)
    assert queued and juans
    assert '<option value="" selected>ispdesk chooses</option>' in queued.group()
    assert "ispdesk chooses" not in juans.group()  # already assigned: choose someone
    assert f'<option value="{desk["juan"].pk}" selected>Juan</option>' in juans.group()
    assert "Sofía (no new work)" in juans.group()
    assert "Pedro" not in juans.group()


def test_the_queue_shows_the_unassigned_tickets_and_the_load_right_now(supervisor_client, desk):
    desk["sofia"].is_paused = True
    desk["sofia"].save()
    response = supervisor_client.get("/tickets/")
    assert response.context["waiting_count"] == 1
    assert [row.ticket.pk for row in response.context["waiting_rows"]] == [desk["queued"].pk]
    load = {row.name: row for row in response.context["load"]}
    assert (load["Juan"].open_tickets, load["Juan"].on_schedule) == (1, True)
    assert (load["Ana"].open_tickets, load["Ana"].on_schedule) == (1, False)
    assert load["Sofía"].paused
    page = html(response)
    assert "Assign all now" in page
    assert "Load right now" in page


def test_assign_all_now_says_how_many_went_to_whom(supervisor_client, desk):
    new_ticket("Otro más", hours_ago=0.5)
    response = supervisor_client.post("/tickets/assign-unassigned/", {"next": "/tickets/"})
    assert response["Location"] == "/tickets/"
    assert Ticket.objects.unassigned().count() == 0
    (message,) = flashed(response)
    assert message.startswith("2 tickets assigned: ")
    # Both had 1 open ticket, so the engine gave one to each.
    assert sorted(message.removeprefix("2 tickets assigned: ").rstrip(".").split(", ")) == [
        "Juan 1",
        "Sofía 1",
    ]
    assert TicketEvent.objects.filter(kind=EventKind.ASSIGNED, actor__isnull=False).count() == 2


def test_assign_all_now_when_nobody_can_take_work(supervisor_client, desk):
    Operator.objects.update(assignment_paused=True)
    response = supervisor_client.post("/tickets/assign-unassigned/")
    assert flashed(response) == ["Nobody can take tickets now; it waits in the queue"]
    assert Ticket.objects.unassigned().count() == 1


def test_assign_all_now_with_nothing_waiting(supervisor_client, desk):
    do_close_ticket(None, desk["queued"])
    response = supervisor_client.post("/tickets/assign-unassigned/")
    assert flashed(response) == ["No ticket was waiting for an assignee."]


def test_the_queue_refetches_its_parts_on_ticket_events(supervisor_client, desk):
    page = html(supervisor_client.get("/tickets/?assignee=none"))
    assert 'hx-get="/tickets/?assignee=none"' in page
    for event in ("ispdesk:ticket:update", "ispdesk:ticket:assigned", "ispdesk:resync"):
        assert f"{event} from:body" in page
    fragment = html(
        supervisor_client.get("/tickets/?assignee=none", headers={"HX-Request": "true"})
    )
    assert "<html" not in fragment
    assert '<div class="queue-summary" id="queue-summary" hx-swap-oob="true">' in fragment
    assert '<div id="queue-results" hx-swap-oob="true">' in fragment
    assert f'id="queue-ticket-{desk["queued"].pk}"' in fragment
    assert f'id="queue-ticket-{desk["juans"].pk}"' not in fragment


# --- a new ticket ---------------------------------------------------------------------------


def test_a_supervisor_creates_a_ticket_and_sees_the_engines_decision(
    supervisor_client, supervisor, desk
):
    area = Area.objects.create(name="Soporte")
    form = {
        "subject": "  Sin servicio en Bº Norte ",
        "body": "Desde las 9",
        "priority": "urgent",
        "customer_name": "Vecinos Bº Norte",
        "customer_splynx_id": "1042",
        "area": area.pk,
    }
    response = supervisor_client.post("/tickets/new/", form)
    ticket = Ticket.objects.get(subject="Sin servicio en Bº Norte")
    assert response["Location"] == f"/tickets/{ticket.pk}/"
    assert (ticket.source, ticket.priority, ticket.area, ticket.customer_splynx_id) == (
        Source.MANUAL,
        Priority.URGENT,
        area,
        1042,
    )
    assert (ticket.body, ticket.customer_name) == ("Desde las 9", "Vecinos Bº Norte")
    assert ticket.assignee in (desk["juan"], desk["sofia"])
    created = TicketEvent.objects.get(ticket=ticket, kind=EventKind.CREATED)
    assigned = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED)
    assert created.actor == supervisor == assigned.actor
    page = html(supervisor_client.get(response["Location"]))
    assert f"Ticket #{ticket.pk} created." in page
    assert assigned.text in page


def test_a_new_ticket_nobody_can_take_waits_in_the_queue_and_says_so(supervisor_client, desk):
    Operator.objects.update(is_paused=True)
    response = supervisor_client.post("/tickets/new/", {"subject": "Sin luz", "priority": "low"})
    ticket = Ticket.objects.get(subject="Sin luz")
    assert ticket.assignee is None
    page = html(supervisor_client.get(response["Location"]))
    assert "Nobody can take tickets now; it waits in the queue" in page


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("subject", "", "This field is required."),
        ("subject", "   ", "This field is required."),
        ("customer_splynx_id", "abc", "Enter a whole number."),
        ("customer_splynx_id", "0", "greater than or equal to 1"),
        ("priority", "whenever", "Select a valid choice."),
        ("area", "999999", "Select a valid choice."),
    ],
)
def test_a_bad_new_ticket_shows_why_and_stores_nothing(
    supervisor_client, desk, field, value, error
):
    form = {"subject": "Sin servicio", "priority": "medium", field: value}
    before = Ticket.objects.count(), TicketEvent.objects.count()
    response = supervisor_client.post("/tickets/new/", form)
    assert response.status_code == 422
    assert error in html(response)
    assert "Please correct the marked fields." in html(response)
    assert (Ticket.objects.count(), TicketEvent.objects.count()) == before


def test_an_inactive_area_cannot_be_chosen(supervisor_client, desk):
    area = Area.objects.create(name="Ventas", active=False)
    response = supervisor_client.post(
        "/tickets/new/", {"subject": "Alta", "priority": "low", "area": area.pk}
    )
    assert response.status_code == 422
    assert not Ticket.objects.filter(subject="Alta").exists()


# --- query counts ---------------------------------------------------------------------------


def count_queries(client: Client, path: str) -> int:
    client.get(path)  # warms the per-process caches (settings), which are not per request
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_queue_takes_the_same_queries_whatever_the_page_size(supervisor_client, desk):
    small = count_queries(supervisor_client, "/tickets/?status=all")
    area = Area.objects.create(name="Soporte")
    for number in range(PAGE_SIZE + 5):
        owner = (desk["juan"], desk["sofia"], None)[number % 3]
        ticket = new_ticket(f"Caso {number}", owner, area_id=area.pk)
        if number % 4 == 0:
            do_close_ticket(None, ticket)
    large = count_queries(supervisor_client, "/tickets/?status=all")
    assert large == small
    fragment_small = count_queries(supervisor_client, "/tickets/?status=all&page=2")
    assert fragment_small == small


def test_my_tickets_and_the_ticket_page_take_constant_queries(operator_client, desk):
    ticket = desk["anas"]
    mine = count_queries(operator_client, "/tickets/mine/")
    detail = count_queries(operator_client, f"/tickets/{ticket.pk}/")
    area = Area.objects.create(name="Soporte")
    for number in range(10):
        new_ticket(f"Caso {number}", desk["ana"], area_id=area.pk)
        do_comment_ticket(desk["ana"].user, ticket, f"Nota {number}")
        do_assign_ticket(None, ticket, (desk["juan"], desk["ana"])[number % 2])
    assert count_queries(operator_client, "/tickets/mine/") == mine
    assert count_queries(operator_client, f"/tickets/{ticket.pk}/") == detail


def test_format_duration_reads_at_a_glance():
    assert format_duration(None) == "—"
    assert format_duration(42) == "42 s"
    assert format_duration(12 * 60 + 5) == "12 min"
    assert format_duration(3 * 3600 + 20 * 60) == "3 h 20 min"
    assert format_duration(2 * 86400 + 4 * 3600 + 59) == "2 d 4 h"
