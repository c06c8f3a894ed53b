"""The tickets API: who may do what, filters, pages and query counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.operators.models import Area, Operator
from ispdesk.system.actions import do_set_config
from ispdesk.tickets.actions import (
    NewTicket,
    do_assign_ticket,
    do_create_ticket,
)
from ispdesk.tickets.models import EventKind, Source, Status, Ticket, TicketEvent
from ispdesk.tickets.tests.api_support import (
    ago,
    client_for,
    history_counts,
    make_ticket,
    post,
)

# --- permission boundaries ------------------------------------------------------------------

PEOPLE = ("anonymous", "outsider", "operator", "supervisor", "admin")
OWN_TICKETS = "operators on their own tickets"
SUPERVISORS = "supervisors and admins"


@dataclass(frozen=True)
class TicketEndpoint:
    method: str
    suffix: str
    body: Callable[[dict[str, Any]], Any] | None
    who: str

    def __str__(self) -> str:
        return f"{self.method} /api/tickets/{{id}}{self.suffix}"

    def call(self, client: Client, desk: dict[str, Any], ticket: Ticket):  # type: ignore[no-untyped-def]
        path = f"/api/tickets/{ticket.pk}{self.suffix}"
        if self.method == "GET":
            return client.get(path)
        return post(client, path, self.body(desk) if self.body else None)


TICKET_ENDPOINTS = [
    TicketEndpoint("GET", "", None, OWN_TICKETS),
    TicketEndpoint("POST", "/status", lambda d: {"status": "in_progress"}, OWN_TICKETS),
    TicketEndpoint("POST", "/comment", lambda d: {"text": "Reinicié la ONU"}, OWN_TICKETS),
    TicketEndpoint("POST", "/close", lambda d: {"note": "resuelto"}, OWN_TICKETS),
    TicketEndpoint("POST", "/reopen", None, OWN_TICKETS),
    TicketEndpoint("POST", "/assign", lambda d: {"operator": d["sofia"].pk}, SUPERVISORS),
    TicketEndpoint("POST", "/unassign", None, SUPERVISORS),
]


def expected_status(person: str, endpoint: TicketEndpoint, whose: str) -> int:
    if person == "anonymous":
        return 401
    if person in ("admin", "supervisor"):
        return 200
    if endpoint.who == SUPERVISORS:
        # Refused by role before any lookup: the answer says nothing about the ticket.
        return 403
    return 200 if person == "operator" and whose == "own" else 404


@pytest.mark.parametrize("whose", ["own", "other"])
@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("endpoint", TICKET_ENDPOINTS, ids=str)
def test_each_ticket_endpoint_admits_exactly_its_people(request, desk, endpoint, person, whose):
    ticket = desk["anas"] if whose == "own" else desk["juans"]
    before = history_counts()
    response = endpoint.call(client_for(request, person), desk, ticket)
    status = expected_status(person, endpoint, whose)
    assert response.status_code == status, response.content
    if status == 200:
        assert response.json()["id" if endpoint.suffix != "/assign" else "ticket"]
        return
    code = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}[status]
    assert response.json()["code"] == code
    assert history_counts() == before
    refreshed = Ticket.objects.get(pk=ticket.pk)
    assert (refreshed.status, refreshed.assignee_id) == (ticket.status, ticket.assignee_id)


COLLECTION_ENDPOINTS = [
    ("GET", "/api/tickets", None, {"outsider", "operator", "supervisor", "admin"}, 200),
    ("POST", "/api/tickets", {"subject": "Sin servicio"}, {"operator", "supervisor", "admin"}, 201),
    ("POST", "/api/tickets/assign_unassigned", None, {"supervisor", "admin"}, 200),
]


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "ok"),
    COLLECTION_ENDPOINTS,
    ids=[f"{method} {path}" for method, path, *_rest in COLLECTION_ENDPOINTS],
)
def test_each_collection_endpoint_admits_exactly_its_people(
    request, desk, person, method, path, body, allowed, ok
):
    client = client_for(request, person)
    before = history_counts()
    response = client.get(path) if method == "GET" else post(client, path, body)
    if person in allowed:
        assert response.status_code == ok, response.content
    elif person == "anonymous":
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    if response.status_code >= 400:
        assert history_counts() == before
        assert Ticket.objects.count() == 3


@pytest.mark.parametrize(
    ("person", "visible"),
    [
        ("outsider", set()),
        ("operator", {"anas"}),
        ("supervisor", {"anas", "juans", "queued"}),
        ("admin", {"anas", "juans", "queued"}),
    ],
)
def test_the_list_shows_each_person_what_they_may_see(request, desk, person, visible):
    body = client_for(request, person).get("/api/tickets").json()
    assert {item["id"] for item in body["items"]} == {desk[key].pk for key in visible}
    assert body["count"] == len(visible)


def test_an_operator_creates_a_ticket_that_the_engine_gives_to_someone_on_schedule(
    desk, operator_client
):
    response = post(operator_client, "/api/tickets", {"subject": "Cliente sin señal"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["assignee"]["name"] in ("Juan", "Sofía")
    created = TicketEvent.objects.get(ticket_id=body["id"], kind=EventKind.CREATED)
    assert created.actor.username == "ana"
    # The ticket went to someone else, so Ana cannot open it afterwards.
    assert operator_client.get(f"/api/tickets/{body['id']}").status_code == 404


def test_a_session_write_without_the_csrf_token_is_refused(desk, supervisor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor)
    before = history_counts()
    response = post(client, f"/api/tickets/{desk['juans'].pk}/comment", {"text": "hola"})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert history_counts() == before


# --- filters and pages ----------------------------------------------------------------------


@pytest.fixture
def board(team):
    soporte = Area.objects.create(name="Soporte")
    ventas = Area.objects.create(name="Ventas")
    juan, sofia = team["juan"], team["sofia"]
    tickets = {
        "villa_elisa": make_ticket(
            subject="Sin internet en Villa Elisa",
            source=Source.SPLYNX,
            external_id="SPX-1001",
            created_at=ago(hours=2),
        ),
        "onu": make_ticket(
            subject="Router",
            body="La ONU parpadea en rojo",
            source=Source.GESTIONREAL,
            status=Status.ASSIGNED,
            assignee=juan,
            assigned_at=ago(hours=3),
            area=soporte,
            created_at=ago(hours=3),
        ),
        "working": make_ticket(
            subject="Lentitud",
            status=Status.IN_PROGRESS,
            assignee=sofia,
            area=ventas,
            created_at=ago(hours=5),
            assigned_at=ago(hours=5),
            first_response_at=ago(hours=4),
        ),
        "closed": make_ticket(
            subject="Mudanza",
            status=Status.CLOSED,
            assignee=juan,
            created_at=ago(hours=10),
            closed_at=ago(hours=9),
        ),
        "marta": make_ticket(
            subject="Factura",
            source=Source.WEBHOOK,
            customer_name="Marta Gómez",
            created_at=ago(minutes=5),
        ),
        "waiting": make_ticket(
            subject="Visita técnica",
            status=Status.WAITING,
            assignee=sofia,
            area=soporte,
            created_at=ago(minutes=30),
            first_response_at=ago(minutes=20),
        ),
    }
    return {**tickets, "soporte": soporte, "ventas": ventas, **team}


FILTERS = [
    ({}, {"villa_elisa", "onu", "working", "closed", "marta", "waiting"}),
    ({"status": "new"}, {"villa_elisa", "marta"}),
    ({"status": ["new", "closed"]}, {"villa_elisa", "marta", "closed"}),
    ({"assignee": "none"}, {"villa_elisa", "marta"}),
    ({"assignee": "juan"}, {"onu", "closed"}),
    ({"assignee": "sofia", "status": "waiting"}, {"waiting"}),
    ({"area": "soporte"}, {"onu", "waiting"}),
    ({"source": "gestionreal"}, {"onu"}),
    ({"overdue": "true"}, {"villa_elisa", "onu"}),
    ({"overdue": "false"}, {"working", "closed", "marta", "waiting"}),
    ({"q": "onu"}, {"onu"}),
    ({"q": "villa elisa"}, {"villa_elisa"}),
    ({"q": "marta gó"}, {"marta"}),
    ({"q": "spx-1001"}, {"villa_elisa"}),
    ({"q": "   "}, {"villa_elisa", "onu", "working", "closed", "marta", "waiting"}),
    ({"q": "nada que ver"}, set()),
    ({"status": "new", "overdue": "true"}, {"villa_elisa"}),
    ({"assignee": "none", "q": "factura"}, {"marta"}),
]


def resolve(query: dict[str, Any], board: dict[str, Any]) -> dict[str, Any]:
    """Names of operators and areas in a filter become their ids."""
    resolved = dict(query)
    for key in ("assignee", "area"):
        if resolved.get(key) in board:
            resolved[key] = board[resolved[key]].pk
    return resolved


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=[str(q) for q, _e in FILTERS])
def test_the_list_filters(supervisor_client, board, query, expected):
    response = supervisor_client.get("/api/tickets", resolve(query, board))
    assert response.status_code == 200, response.content
    body = response.json()
    assert {item["id"] for item in body["items"]} == {board[key].pk for key in expected}
    assert body["count"] == len(expected)


def test_filters_never_widen_what_an_operator_sees(board, operator_client, operator):
    ana = Operator.objects.create(user=operator)
    mine = make_ticket(subject="Router de Ana", status=Status.ASSIGNED, assignee=ana)
    everything = operator_client.get("/api/tickets").json()
    assert [item["id"] for item in everything["items"]] == [mine.pk]
    juans = operator_client.get("/api/tickets", {"assignee": board["juan"].pk}).json()
    assert juans["items"] == []
    queue = operator_client.get("/api/tickets", {"assignee": "none"}).json()
    assert queue["items"] == []


def test_the_overdue_filter_and_the_metrics_follow_the_configured_threshold(
    supervisor_client, board, admin
):
    def overdue_ids():
        return {
            item["id"]
            for item in supervisor_client.get("/api/tickets", {"overdue": "true"}).json()["items"]
        }

    assert overdue_ids() == {board["villa_elisa"].pk, board["onu"].pk}
    do_set_config(admin, {"ticket_overdue_minutes": 150})
    assert overdue_ids() == {board["onu"].pk}
    items = supervisor_client.get("/api/tickets").json()["items"]
    flagged = {item["id"] for item in items if item["metrics"]["overdue"]}
    assert flagged == overdue_ids()
    onu = next(item for item in items if item["id"] == board["onu"].pk)
    assert 3 * 3600 <= onu["metrics"]["waiting_seconds"] < 3 * 3600 + 60


def test_list_items_carry_metrics(supervisor_client, board):
    items = {item["id"]: item for item in supervisor_client.get("/api/tickets").json()["items"]}
    working = items[board["working"].pk]["metrics"]
    assert working["seconds_to_assignment"] == 0
    assert 3599 <= working["seconds_to_first_response"] <= 3601
    assert working["waiting_seconds"] is None
    closed = items[board["closed"].pk]["metrics"]
    assert 3599 <= closed["seconds_to_close"] <= 3601
    assert items[board["marta"].pk]["assignee"] is None
    assert items[board["onu"].pk]["area"] == {"id": board["soporte"].pk, "name": "Soporte"}
    assert items[board["onu"].pk]["assignee"] == {"id": board["juan"].pk, "name": "Juan"}


@pytest.fixture
def seven(db):
    return [make_ticket(subject=f"Caso {n}", created_at=ago(minutes=70 - n)) for n in range(7)]


@pytest.mark.parametrize(
    ("query", "expected_page", "positions"),
    [
        ({"page_size": 3}, (7, 1, 3), [6, 5, 4]),
        ({"page_size": 3, "page": 2}, (7, 2, 3), [3, 2, 1]),
        ({"page_size": 3, "page": 3}, (7, 3, 3), [0]),
        ({"page_size": 3, "page": 4}, (7, 4, 3), []),
        ({"page_size": 3, "order": "oldest"}, (7, 1, 3), [0, 1, 2]),
        ({"page_size": 200}, (7, 1, 1), [6, 5, 4, 3, 2, 1, 0]),
        ({"status": "closed"}, (0, 1, 1), []),
    ],
)
def test_the_list_is_paginated(supervisor_client, seven, query, expected_page, positions):
    body = supervisor_client.get("/api/tickets", query).json()
    assert (body["count"], body["page"], body["pages"]) == expected_page
    assert [item["id"] for item in body["items"]] == [seven[n].pk for n in positions]


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"page": 10**30},
        {"page_size": 201},
        {"page_size": 0},
        {"status": "bogus"},
        {"status": ["new", "bogus"]},
        {"assignee": "juan"},
        {"assignee": "0"},
        {"assignee": "99999999999999999999"},
        {"assignee": "١٢"},
        {"area": "soporte"},
        {"area": 10**12},
        {"source": "fax"},
        {"overdue": "maybe"},
        {"q": "x" * 201},
        {"q": "nul\x00"},
        {"order": "random"},
    ],
    ids=str,
)
def test_a_bad_filter_is_a_422_naming_it(supervisor_client, query):
    response = supervisor_client.get("/api/tickets", query)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == set(query)


# --- query counts ---------------------------------------------------------------------------

LIST_QUERY_LIMIT = 6


@pytest.fixture
def many(team, operator):
    """120 assigned tickets over four operators and two areas, each with its history."""
    ana = Operator.objects.create(user=operator)
    owners = [team["juan"], team["sofia"], team["pedro"], ana]
    areas = [Area.objects.create(name="Soporte"), Area.objects.create(name="Ventas")]
    now = timezone.now()
    Ticket.objects.bulk_create(
        Ticket(
            source=Source.CSV,
            external_id=f"m-{n}",
            subject=f"Caso {n}",
            status=Status.ASSIGNED,
            assignee=owners[n % 4],
            area=areas[n % 2],
            created_at=now - timedelta(minutes=n),
            assigned_at=now - timedelta(minutes=n),
        )
        for n in range(120)
    )
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=ticket,
            kind=kind,
            created_at=ticket.created_at,
            operator=ticket.assignee if kind == EventKind.ASSIGNED else None,
        )
        for ticket in Ticket.objects.all()
        for kind in (EventKind.CREATED, EventKind.ASSIGNED)
    )
    return ana


def list_queries(client: Client, query: dict[str, Any]) -> tuple[int, int]:
    """How many queries the list took, and how many items it answered."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/tickets", query)
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["items"])


@pytest.mark.parametrize("page_size", [5, 100])
def test_listing_takes_a_bounded_number_of_queries(
    supervisor_client, many, page_size, django_assert_max_num_queries
):
    with django_assert_max_num_queries(LIST_QUERY_LIMIT):
        response = supervisor_client.get("/api/tickets", {"page_size": page_size})
    assert len(response.json()["items"]) == page_size


@pytest.mark.parametrize(
    ("person", "filters", "matching"),
    [
        ("supervisor", {}, 120),
        ("supervisor", {"q": "caso", "status": ["assigned", "new"], "order": "oldest"}, 120),
        # Tickets an hour old or more (n >= 60 minutes) are overdue.
        ("supervisor", {"overdue": "true"}, 60),
        ("operator", {}, 30),
    ],
)
def test_the_number_of_queries_does_not_grow_with_the_page(
    request, many, person, filters, matching
):
    client = client_for(request, person)
    list_queries(client, {})  # the first request of the test reads the settings cache
    small, small_items = list_queries(client, {**filters, "page_size": 5})
    large, large_items = list_queries(client, {**filters, "page_size": 100})
    assert (small_items, large_items) == (5, min(100, matching))
    assert small == large <= LIST_QUERY_LIMIT


def test_the_detail_takes_the_same_queries_however_long_the_history(supervisor_client, team):
    ticket, _ = do_create_ticket(None, NewTicket(subject="Router"))

    def detail_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = supervisor_client.get(f"/api/tickets/{ticket.pk}")
        assert response.status_code == 200
        return len(captured)

    short = detail_queries()
    for n in range(30):
        do_assign_ticket(None, ticket, team["sofia"] if n % 2 else team["juan"])
    assert detail_queries() == short
