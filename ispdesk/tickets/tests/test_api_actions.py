"""The tickets API: one ticket, its history, the actions and their errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import translation

from ispdesk.accounts.models import User
from ispdesk.operators.actions import PauseChange, do_set_pause
from ispdesk.operators.models import Area
from ispdesk.system.models import AuditEvent
from ispdesk.tickets.actions import (
    NewTicket,
    do_close_ticket,
    do_create_ticket,
)
from ispdesk.tickets.models import EventKind, Priority, Source, Status, Ticket, TicketEvent
from ispdesk.tickets.tests.api_support import (
    ENGLISH,
    client_for,
    history_counts,
    post,
)

# --- one ticket and its history -------------------------------------------------------------


def test_the_detail_shows_the_history_with_the_engines_reason_in_words(supervisor_client, team):
    with translation.override("en"):
        ticket, _ = do_create_ticket(
            None, NewTicket(subject="Router", body="Luz roja", customer_name="Marta")
        )
    response = supervisor_client.get(f"/api/tickets/{ticket.pk}")
    assert response.status_code == 200
    body = response.json()
    assert (body["subject"], body["body"], body["customer_name"]) == ("Router", "Luz roja", "Marta")
    created, assigned = body["history"]
    assert (created["kind"], created["actor"], created["to_status"]) == (
        "created",
        "ispdesk",
        "new",
    )
    assert assigned["kind"] == "assigned"
    assert assigned["actor"] == "ispdesk"
    assert assigned["actor_id"] is None
    assert assigned["operator"] == {"id": team["juan"].pk, "name": "Juan"}
    assert (assigned["from_status"], assigned["to_status"]) == ("new", "assigned")
    assert assigned["text"] == (
        "Juan: 0 open tickets, fewest among Juan, Sofía on the assignment schedule, "
        "least recently assigned among the tied"
    )
    assert body["metrics"]["seconds_to_assignment"] == 0
    assert body["metrics"]["waiting_seconds"] is not None


def test_the_detail_names_people_and_keeps_the_first_assignment_time(supervisor_client, desk):
    ticket = desk["juans"]
    assigned = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED).created_at
    Ticket.objects.filter(pk=ticket.pk).update(created_at=assigned - timedelta(minutes=7))
    post(supervisor_client, f"/api/tickets/{ticket.pk}/assign", {"operator": desk["sofia"].pk})
    body = supervisor_client.get(f"/api/tickets/{ticket.pk}").json()
    reassigned = body["history"][-1]
    assert reassigned["kind"] == "reassigned"
    assert reassigned["actor"] == "Silvia"
    assert reassigned["previous_operator"]["name"] == "Juan"
    assert reassigned["operator"]["name"] == "Sofía"
    # Reassigning later does not restart the time to assignment.
    assert body["metrics"]["seconds_to_assignment"] == 420


# --- actions through HTTP write history -----------------------------------------------------


@dataclass(frozen=True)
class Action:
    person: str
    suffix: str
    body: Any
    kind: str
    expect: dict[str, Any]


ACTIONS = [
    Action(
        "supervisor",
        "/assign",
        {"operator": "sofia"},
        EventKind.REASSIGNED,
        {"operator": "sofia", "previous_operator": "ana", "text": "Assigned by Silvia"},
    ),
    Action(
        "admin",
        "/unassign",
        {"note": "fin de turno"},
        EventKind.UNASSIGNED,
        {"previous_operator": "ana", "to_status": Status.NEW, "text": "fin de turno"},
    ),
    Action(
        "operator",
        "/status",
        {"status": "in_progress"},
        EventKind.STATUS_CHANGED,
        {"from_status": Status.ASSIGNED, "to_status": Status.IN_PROGRESS},
    ),
    Action(
        "operator",
        "/status",
        {"status": "closed"},
        EventKind.CLOSED,
        {"from_status": Status.ASSIGNED, "to_status": Status.CLOSED},
    ),
    Action(
        "operator",
        "/comment",
        {"text": " Reinicié la ONU "},
        EventKind.COMMENTED,
        {"text": "Reinicié la ONU"},
    ),
    Action(
        "operator",
        "/close",
        {"note": "resuelto"},
        EventKind.CLOSED,
        {"to_status": Status.CLOSED, "text": "resuelto"},
    ),
    Action("supervisor", "/close", None, EventKind.CLOSED, {"text": ""}),
]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: f"{a.person} {a.suffix} {a.body}")
def test_each_action_writes_its_history_row(request, desk, action):
    ticket = desk["anas"]
    body = action.body
    if isinstance(body, dict) and body.get("operator") in desk:
        body = {"operator": desk[body["operator"]].pk}
    client = client_for(request, action.person)
    with translation.override("en"):
        response = post(client, f"/api/tickets/{ticket.pk}{action.suffix}", body, **ENGLISH)
    assert response.status_code == 200, response.content
    event = TicketEvent.objects.filter(ticket=ticket).latest("created_at", "pk")
    assert event.kind == action.kind
    actor = (
        desk["ana"].user
        if action.person == "operator"
        else User.objects.get(username=action.person)
    )
    assert event.actor == actor
    for field, value in action.expect.items():
        if field in ("operator", "previous_operator"):
            assert getattr(event, field) == desk[value]
        else:
            assert getattr(event, field) == value
    assert AuditEvent.objects.filter(object_id=str(ticket.pk), actor=actor).exists()
    shown = response.json()
    shown = shown.get("ticket", shown)
    assert shown["history"][-1]["id"] == event.pk
    assert shown["history"][-1]["kind"] == action.kind


def test_a_status_change_by_the_operator_is_her_first_response(desk, operator_client):
    ticket = desk["anas"]
    response = post(operator_client, f"/api/tickets/{ticket.pk}/status", {"status": "waiting"})
    body = response.json()
    assert body["status"] == "waiting"
    assert body["first_response_at"] is not None
    assert body["metrics"]["seconds_to_first_response"] is not None
    assert body["metrics"]["waiting_seconds"] is None


def test_close_then_reopen_through_the_api(desk, operator_client):
    path = f"/api/tickets/{desk['anas'].pk}"
    closed = post(operator_client, f"{path}/close").json()
    assert closed["status"] == "closed"
    assert closed["metrics"]["seconds_to_close"] is not None
    reopened = post(operator_client, f"{path}/reopen", {"note": "volvió a fallar"}).json()
    assert reopened["status"] == "assigned"
    assert reopened["metrics"]["seconds_to_close"] is None
    kinds = list(TicketEvent.objects.filter(ticket=desk["anas"]).values_list("kind", "text"))
    assert kinds[-2:] == [(EventKind.CLOSED, ""), (EventKind.REOPENED, "volvió a fallar")]


@pytest.mark.parametrize("body", [None, {}, {"operator": None}], ids=str)
def test_assign_without_an_operator_lets_the_engine_choose(supervisor_client, desk, body):
    with translation.override("en"):
        response = post(
            supervisor_client, f"/api/tickets/{desk['queued'].pk}/assign", body, **ENGLISH
        )
    assert response.status_code == 200, response.content
    answer = response.json()
    # Juan already has a ticket, Sofía none; Ana and Pedro are off the assignment schedule.
    reason = "Sofía: 0 open tickets, fewest among Juan, Sofía on the assignment schedule"
    assert answer["decision"] == {
        "operator": {"id": desk["sofia"].pk, "name": "Sofía"},
        "rule": "schedule",
        "reason": reason,
    }
    assert answer["ticket"]["assignee"]["name"] == "Sofía"
    event = TicketEvent.objects.get(ticket=desk["queued"], kind=EventKind.ASSIGNED)
    assert (event.text, event.operator, event.actor.username) == (
        reason,
        desk["sofia"],
        "supervisor",
    )
    assert answer["ticket"]["history"][-1]["text"] == reason


def test_a_manual_assignment_answers_without_a_decision(supervisor_client, desk):
    response = post(
        supervisor_client, f"/api/tickets/{desk['queued'].pk}/assign", {"operator": desk["ana"].pk}
    )
    assert response.json()["decision"] is None
    assert response.json()["ticket"]["assignee"]["name"] == "Ana"
    # Off schedule does not stop a person's choice.
    assert Ticket.objects.get(pk=desk["queued"].pk).assignee == desk["ana"]


def test_auto_assign_with_nobody_available_leaves_the_ticket_waiting(supervisor_client, desk):
    for name in ("juan", "sofia", "pedro", "ana"):
        do_set_pause(None, desk[name], PauseChange("full", True))
    response = post(supervisor_client, f"/api/tickets/{desk['queued'].pk}/assign")
    assert response.status_code == 200
    decision = response.json()["decision"]
    assert (decision["operator"], decision["rule"]) == (None, "none")
    assert response.json()["ticket"]["assignee"] is None
    assert not TicketEvent.objects.filter(ticket=desk["queued"], kind=EventKind.ASSIGNED).exists()


def test_creating_a_ticket_by_api_stores_it_and_records_who_and_why(supervisor_client, team):
    area = Area.objects.create(name="Soporte")
    payload = {
        "subject": "  Sin internet [TT] ",
        "body": "Desde ayer",
        "priority": "urgent",
        "customer_name": "Marta Gómez",
        "customer_splynx_id": 4521,
        "area": area.pk,
    }
    with translation.override("en"):
        response = post(supervisor_client, "/api/tickets", payload, **ENGLISH)
    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get(pk=body["id"])
    assert (ticket.subject, ticket.source, ticket.priority) == (
        "Sin internet [TT]",
        Source.MANUAL,
        Priority.URGENT,
    )
    assert (ticket.customer_name, ticket.customer_splynx_id, ticket.area) == (
        "Marta Gómez",
        4521,
        area,
    )
    assert ticket.assignee in (team["juan"], team["sofia"])
    kinds = [(e["kind"], e["actor"]) for e in body["history"]]
    assert kinds == [("created", "Silvia"), ("assigned", "Silvia")]
    assert "fewest among Juan, Sofía" in body["history"][1]["text"]
    assert body["area"] == {"id": area.pk, "name": "Soporte"}


def test_assign_unassigned_reports_how_many_and_to_whom(supervisor_client, desk):
    for name in ("juan", "sofia", "pedro", "ana"):
        do_set_pause(None, desk[name], PauseChange("full", True))
    extra = [do_create_ticket(None, NewTicket(subject=f"Caso {n}"))[0] for n in range(2)]
    waiting = [desk["queued"], *extra]
    nobody = post(supervisor_client, "/api/tickets/assign_unassigned").json()
    assert nobody == {"assigned": 0, "waiting": 3, "assignments": []}

    do_set_pause(None, desk["sofia"], PauseChange("full", False))
    with translation.override("en"):
        answer = post(supervisor_client, "/api/tickets/assign_unassigned", **ENGLISH).json()
    assert (answer["assigned"], answer["waiting"]) == (3, 0)
    assert [a["ticket"] for a in answer["assignments"]] == [t.pk for t in waiting]
    assert {a["operator"]["name"] for a in answer["assignments"]} == {"Sofía"}
    assert answer["assignments"][0]["reason"] == (
        "Sofía: 0 open tickets, the only one on the assignment schedule"
    )
    events = TicketEvent.objects.filter(kind=EventKind.ASSIGNED, ticket__in=waiting)
    assert sorted(events.values_list("ticket_id", flat=True)) == sorted(t.pk for t in waiting)
    assert {event.actor.username for event in events} == {"supervisor"}


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    suffix: str
    body: Any
    status: int
    code: str
    field: str | None = None
    closed: bool = False


REFUSALS = [
    Refusal("/status", {"status": "assigned"}, 409, "no_assignee"),
    Refusal("/status", {"status": "new"}, 409, "ticket_assigned", closed=False),
    Refusal("/status", {"status": "waiting"}, 409, "ticket_closed", closed=True),
    Refusal("/status", {"status": "stuck"}, 422, "validation_error", "status"),
    Refusal("/status", {}, 422, "validation_error", "status"),
    Refusal("/comment", {"text": "   "}, 422, "validation_error", "text"),
    Refusal("/comment", {"text": ""}, 422, "validation_error", "text"),
    Refusal("/comment", {"text": "x" * 5001}, 422, "validation_error", "text"),
    Refusal("/comment", {"text": "a\x00b"}, 422, "validation_error", "text"),
    Refusal("/close", {"note": 5}, 422, "validation_error", "note"),
    Refusal("/assign", {"operator": 10**6}, 422, "validation_error", "operator"),
    Refusal("/assign", {"operator": 10**12}, 422, "validation_error", "operator"),
    Refusal("/assign", {"operator": "Juan"}, 422, "validation_error", "operator"),
    Refusal("/assign", {"operator": "pedro-inactive"}, 409, "operator_inactive"),
    Refusal("/assign", {"operator": "sofia"}, 409, "ticket_closed", closed=True),
    Refusal("/assign", {}, 409, "already_assigned"),
    Refusal("/assign", {}, 409, "ticket_closed", closed=True),
    Refusal("/assign", "{", 400, "malformed_json"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: f"{r.suffix} {r.body!r:.30} {r.code}")
def test_a_refused_action_answers_its_code_and_changes_nothing(supervisor_client, desk, refusal):
    # Juan's ticket is assigned; the "no_assignee" case needs the queued one.
    ticket = desk["queued"] if refusal.code == "no_assignee" else desk["juans"]
    if refusal.closed:
        do_close_ticket(None, ticket)
    if refusal.body == {"operator": "pedro-inactive"}:
        desk["pedro"].active = False
        desk["pedro"].save()
        body: Any = {"operator": desk["pedro"].pk}
    elif isinstance(refusal.body, dict) and refusal.body.get("operator") in desk:
        body = {"operator": desk[refusal.body["operator"]].pk}
    else:
        body = refusal.body
    ticket.refresh_from_db()
    before = history_counts()
    response = post(supervisor_client, f"/api/tickets/{ticket.pk}{refusal.suffix}", body)
    assert response.status_code == refusal.status, response.content
    answer = response.json()
    assert answer["code"] == refusal.code
    assert answer["message"]
    if refusal.field:
        assert refusal.field in answer["fields"]
    assert history_counts() == before
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.status, after.assignee_id) == (ticket.status, ticket.assignee_id)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 251}, "subject"),
        ({"subject": "Corte", "priority": "whenever"}, "priority"),
        ({"subject": "Corte", "area": 10**6}, "area"),
        ({"subject": "Corte", "area": 10**12}, "area"),
        ({"subject": "Corte", "customer_splynx_id": -1}, "customer_splynx_id"),
        ({"subject": "Corte", "customer_splynx_id": 2**31}, "customer_splynx_id"),
        ({"subject": "Corte\x00"}, "subject"),
    ],
    ids=str,
)
def test_a_bad_new_ticket_is_a_422_naming_the_field(supervisor_client, team, payload, field):
    response = post(supervisor_client, "/api/tickets", payload)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert Ticket.objects.count() == 0


def test_an_inactive_area_is_refused(supervisor_client, team):
    area = Area.objects.create(name="Obsoleta", active=False)
    body = {"subject": "Corte", "area": area.pk}
    response = post(supervisor_client, "/api/tickets", body, **ENGLISH)
    assert (response.status_code, response.json()["fields"]) == (422, {"area": "unknown"})


@pytest.mark.parametrize("ticket_id", ["0", "999999", str(2**63), "9" * 30])
@pytest.mark.parametrize("suffix", ["", "/comment", "/assign"])
def test_unknown_or_huge_ticket_ids_are_404(admin_client, desk, ticket_id, suffix):
    path = f"/api/tickets/{ticket_id}{suffix}"
    if suffix:
        response = post(admin_client, path, {"text": "hola"} if suffix == "/comment" else None)
    else:
        response = admin_client.get(path)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
