"""The operators API: the team list, creating and changing operators, pausing and resuming."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Area, Operator, Schedule, ScheduleKind
from ispdesk.operators.tests.conftest import always_on, make_operator, post, put
from ispdesk.system.models import AuditEvent


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    # Assertions read the English reasons, whatever the Spanish catalog says.
    settings.LANGUAGE_CODE = "en"


def create(client, **body):  # type: ignore[no-untyped-def]
    return post(client, "/api/admin/operators", body)


def by_username(response) -> dict:  # type: ignore[no-untyped-def]
    return {row["user"]["username"]: row for row in response.json()}


# The list


def test_it_lists_operators_with_their_state_areas_and_schedule(
    admin_client, juan, sofia, soporte, ventas
):
    juan.areas.set([ventas, soporte])
    Operator.objects.filter(pk=sofia.pk).update(is_paused=True, chat_capacity=2)

    response = admin_client.get("/api/admin/operators")

    assert response.status_code == 200
    rows = by_username(response)
    assert rows["juan"] == {
        "id": juan.pk,
        "user": {"id": juan.user_id, "username": "juan", "name": "Juan"},
        "person_id": 11,
        "whatsapp": "+5491112345678",
        "active": True,
        "is_paused": False,
        "assignment_paused": False,
        "notifications_enabled": True,
        "chat_capacity": 5,
        "areas": [{"id": soporte.pk, "name": "Soporte"}, {"id": ventas.pk, "name": "Ventas"}],
        "on_assignment_schedule": True,
    }
    assert rows["sofia"]["is_paused"] is True
    assert rows["sofia"]["chat_capacity"] == 2
    assert rows["sofia"]["on_assignment_schedule"] is False
    assert rows["sofia"]["areas"] == []


def test_it_says_off_schedule_when_only_work_windows_cover_now(admin_client, sofia):
    always_on(sofia, ScheduleKind.WORK)
    always_on(sofia, ScheduleKind.ALERT)
    assert (
        by_username(admin_client.get("/api/admin/operators"))["sofia"]["on_assignment_schedule"]
        is False
    )


def test_it_says_off_schedule_outside_the_window(admin_client, sofia):
    # A one-minute window that ended a minute ago (in the business time zone).
    local = timezone.localtime() - timezone.timedelta(minutes=2)
    ends = (local + timezone.timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    start = local.time().replace(second=0, microsecond=0)
    Schedule.objects.create(
        operator=sofia, kind=ScheduleKind.ASSIGNMENT, weekday=local.weekday(), start=start, end=ends
    )
    row = by_username(admin_client.get("/api/admin/operators"))["sofia"]
    assert row["on_assignment_schedule"] is False


def test_it_lets_a_supervisor_read_the_list(supervisor_client, juan):
    response = supervisor_client.get("/api/admin/operators")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [juan.pk]


def _grow_team(size: int, areas: list[Area], prefix: str = "op") -> None:
    for index in range(size):
        operator = make_operator(f"{prefix}{index}", f"Op {index}")
        operator.areas.set(areas)
        always_on(operator)


def test_it_lists_operators_in_a_fixed_number_of_queries(
    admin_client, soporte, ventas, django_assert_max_num_queries
):
    _grow_team(15, [soporte, ventas])
    with django_assert_max_num_queries(7):
        response = admin_client.get("/api/admin/operators")
    assert len(response.json()) == 15
    assert all(row["on_assignment_schedule"] for row in response.json())


def test_it_does_not_grow_the_queries_with_the_team(admin_client, soporte):
    _grow_team(1, [soporte])
    with CaptureQueriesContext(connection) as small:
        admin_client.get("/api/admin/operators")
    _grow_team(10, [soporte], prefix="more")
    with CaptureQueriesContext(connection) as large:
        assert len(admin_client.get("/api/admin/operators").json()) == 11
    assert len(large) == len(small)


# Creating


def test_it_lets_an_admin_make_a_user_an_operator(admin_client, admin, soporte):
    user = make_user("bea", Role.OPERATOR, first_name="Beatriz")

    response = create(
        admin_client,
        user_id=user.pk,
        person_id=42,
        whatsapp="011 15 1234-5678",
        chat_capacity=3,
        areas=[soporte.pk],
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["whatsapp"] == "+5491112345678"
    assert body["user"] == {"id": user.pk, "username": "bea", "name": "Beatriz"}
    assert body["areas"] == [{"id": soporte.pk, "name": "Soporte"}]
    assert body["on_assignment_schedule"] is False
    operator = Operator.objects.get(user=user)
    assert (operator.person_id, operator.chat_capacity) == (42, 3)
    event = AuditEvent.objects.get(action="operator.created")
    assert event.actor == admin
    assert event.object_id == str(operator.pk)
    assert event.before is None
    assert event.after["whatsapp"] == "+5491112345678"
    assert event.after["areas"] == [soporte.pk]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("011 15 1234-5678", "+5491112345678"),
        ("+54 9 11 1234-5678", "+5491112345678"),
        ("11 1234-5678", "+5491112345678"),
        ("5491112345678@s.whatsapp.net", "+5491112345678"),
        ("0351 15 612-3456", "+5493516123456"),
        ("", ""),
    ],
)
def test_it_stores_whatsapp_numbers_in_e164(admin_client, raw, e164):
    user = make_user("bea", Role.OPERATOR)
    response = create(admin_client, user_id=user.pk, whatsapp=raw)
    assert response.status_code == 201, response.content
    assert Operator.objects.get(user=user).whatsapp == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("llamame", "contains characters that are not part of a phone number"),
        ("+54 1", "too short"),
        ("+999 1234", "unknown country code"),
        ("+54 9 11 1234", "not a valid number for its country"),
    ],
)
def test_it_refuses_an_invalid_whatsapp_number_with_the_reason(admin_client, raw, reason):
    user = make_user("bea", Role.OPERATOR)
    response = create(admin_client, user_id=user.pk, whatsapp=raw)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_phone"
    assert response.json()["fields"]["whatsapp"] == reason
    assert reason in response.json()["message"]
    assert not Operator.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_splynx_id_linked_to_another_operator(admin_client, juan):
    user = make_user("bea", Role.OPERATOR)
    response = create(admin_client, user_id=user.pk, person_id=juan.person_id)
    assert response.status_code == 409
    assert response.json()["code"] == "person_id_taken"
    assert "person_id" in response.json()["fields"]
    assert not Operator.objects.filter(user=user).exists()


def test_it_refuses_a_second_operator_for_one_user(admin_client, juan):
    response = create(admin_client, user_id=juan.user_id)
    assert response.status_code == 409
    assert response.json()["code"] == "operator_exists"
    assert Operator.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"user_id": 987654}, "user_id", "unknown_user"),
        ({"areas": [987654]}, "areas", "unknown_area"),
        ({"chat_capacity": -1}, "chat_capacity", "validation_error"),
        ({"chat_capacity": 5000}, "chat_capacity", "validation_error"),
        ({"person_id": 0}, "person_id", "validation_error"),
        ({"person_id": 2**40}, "person_id", "validation_error"),
        ({"whatsapp": "1" * 41}, "whatsapp", "validation_error"),
        ({"active": "sometimes"}, "active", "validation_error"),
    ],
)
def test_it_names_the_bad_field_when_creating(admin_client, body, field, code):
    user = make_user("bea", Role.OPERATOR)
    response = create(admin_client, **{"user_id": user.pk, **body})
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    assert not Operator.objects.exists()


def test_it_needs_a_user_to_create_an_operator(admin_client):
    response = create(admin_client, whatsapp="011 15 1234-5678")
    assert response.status_code == 422
    assert "user_id" in response.json()["fields"]


# Changing


def test_it_lets_an_admin_change_an_operator(admin_client, admin, juan, soporte, ventas):
    juan.areas.set([soporte])

    response = put(
        admin_client,
        f"/api/admin/operators/{juan.pk}",
        {"whatsapp": "+54 9 351 612-3456", "areas": [ventas.pk], "active": False},
    )

    assert response.status_code == 200, response.content
    assert response.json()["areas"] == [{"id": ventas.pk, "name": "Ventas"}]
    juan.refresh_from_db()
    assert (juan.whatsapp, juan.active, juan.person_id) == ("+5493516123456", False, 11)
    event = AuditEvent.objects.get(action="operator.updated")
    assert event.actor == admin
    assert (event.before["areas"], event.after["areas"]) == ([soporte.pk], [ventas.pk])
    assert (event.before["active"], event.after["active"]) == (True, False)


def test_it_leaves_out_fields_as_they_are(admin_client, juan, soporte):
    juan.areas.set([soporte])
    response = put(admin_client, f"/api/admin/operators/{juan.pk}", {"chat_capacity": 9})
    assert response.status_code == 200
    juan.refresh_from_db()
    assert (juan.chat_capacity, juan.whatsapp, juan.person_id) == (9, "+5491112345678", 11)
    assert list(juan.areas.all()) == [soporte]


def test_it_unlinks_the_splynx_id_on_null_and_clears_the_whatsapp_on_empty(admin_client, juan):
    response = put(
        admin_client, f"/api/admin/operators/{juan.pk}", {"person_id": None, "whatsapp": ""}
    )
    assert response.status_code == 200
    juan.refresh_from_db()
    assert (juan.person_id, juan.whatsapp) == (None, "")


def test_it_refuses_to_take_another_operators_splynx_id(admin_client, juan, sofia):
    response = put(admin_client, f"/api/admin/operators/{sofia.pk}", {"person_id": 11})
    assert response.status_code == 409
    assert response.json()["code"] == "person_id_taken"
    sofia.refresh_from_db()
    assert sofia.person_id is None


def test_it_sees_no_conflict_in_keeping_its_own_splynx_id(admin_client, juan):
    response = put(admin_client, f"/api/admin/operators/{juan.pk}", {"person_id": 11})
    assert response.status_code == 200


def test_it_changes_nothing_for_an_invalid_number(admin_client, juan):
    response = put(
        admin_client,
        f"/api/admin/operators/{juan.pk}",
        {"whatsapp": "+54 1", "chat_capacity": 1},
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"whatsapp": "too short"}
    juan.refresh_from_db()
    assert (juan.whatsapp, juan.chat_capacity) == ("+5491112345678", 5)


# Pausing and resuming


@pytest.mark.parametrize(
    ("mode", "field", "paused_value"),
    [
        ("full", "is_paused", True),
        ("assignment", "assignment_paused", True),
        ("notifications", "notifications_enabled", False),
    ],
)
def test_it_lets_a_supervisor_pause_and_resume_each_way(
    supervisor_client, supervisor, juan, mode, field, paused_value
):
    path = f"/api/admin/operators/{juan.pk}"

    paused = post(supervisor_client, f"{path}/pause", {"mode": mode})
    assert paused.status_code == 200, paused.content
    assert paused.json()[field] is paused_value
    juan.refresh_from_db()
    assert getattr(juan, field) is paused_value

    resumed = post(supervisor_client, f"{path}/resume", {"mode": mode})
    assert resumed.json()[field] is (not paused_value)
    juan.refresh_from_db()
    assert getattr(juan, field) is (not paused_value)

    events = list(AuditEvent.objects.filter(object_id=str(juan.pk)).order_by("id"))
    assert [event.action for event in events] == ["operator.paused", "operator.resumed"]
    assert all(event.actor == supervisor for event in events)
    assert events[0].before[field] is (not paused_value)
    assert events[0].after[field] is paused_value


@pytest.mark.parametrize("body", [None, {}])
def test_it_pauses_fully_by_default(admin_client, juan, body):
    response = post(admin_client, f"/api/admin/operators/{juan.pk}/pause", body)
    assert response.status_code == 200, response.content
    juan.refresh_from_db()
    assert (juan.is_paused, juan.assignment_paused, juan.notifications_enabled) == (
        True,
        False,
        True,
    )


def test_it_refuses_an_unknown_pause_mode(admin_client, juan):
    response = post(admin_client, f"/api/admin/operators/{juan.pk}/pause", {"mode": "nap"})
    assert response.status_code == 422
    assert "mode" in response.json()["fields"]
    juan.refresh_from_db()
    assert not juan.is_paused


def test_it_makes_the_assignment_job_due_now_on_resume(admin_client, admin, juan, assign_job):
    Operator.objects.filter(pk=juan.pk).update(is_paused=True)

    response = post(admin_client, f"/api/admin/operators/{juan.pk}/resume", {"mode": "full"})

    assert response.status_code == 200
    assign_job.refresh_from_db()
    assert assign_job.run_requested_at is not None
    assert assign_job.next_run_at <= timezone.now()
    assert (
        AuditEvent.objects.get(
            action="job.run_requested", object_repr="tickets.assign_unassigned"
        ).actor
        == admin
    )


def test_it_wakes_the_job_when_an_assignment_pause_ends(supervisor_client, juan, assign_job):
    Operator.objects.filter(pk=juan.pk).update(assignment_paused=True)
    post(supervisor_client, f"/api/admin/operators/{juan.pk}/resume", {"mode": "assignment"})
    assign_job.refresh_from_db()
    assert assign_job.next_run_at <= timezone.now()


@pytest.mark.parametrize(
    ("state", "action", "mode"),
    [
        # Still assignment-paused after the full pause ends: nobody new to assign to.
        ({"is_paused": True, "assignment_paused": True}, "resume", "full"),
        # Notifications have nothing to do with assignment.
        ({"notifications_enabled": False}, "resume", "notifications"),
        # Already assignable: nothing changed for the waiting tickets.
        ({}, "resume", "full"),
        ({}, "pause", "full"),
        # An inactive operator gets no work, paused or not.
        ({"active": False, "is_paused": True}, "resume", "full"),
    ],
)
def test_it_leaves_the_job_as_it_was_when_nobody_became_assignable(
    admin_client, juan, assign_job, state, action, mode
):
    Operator.objects.filter(pk=juan.pk).update(**state)
    response = post(admin_client, f"/api/admin/operators/{juan.pk}/{action}", {"mode": mode})
    assert response.status_code == 200
    due_before = assign_job.next_run_at
    assign_job.refresh_from_db()
    assert assign_job.next_run_at == due_before
    assert assign_job.run_requested_at is None


def test_it_resumes_without_the_assignment_job(admin_client, juan, no_assign_job):
    Operator.objects.filter(pk=juan.pk).update(is_paused=True)
    response = post(admin_client, f"/api/admin/operators/{juan.pk}/resume", {"mode": "full"})
    assert response.status_code == 200
    assert response.json()["is_paused"] is False
    assert not AuditEvent.objects.filter(
        action="job.run_requested", object_repr="tickets.assign_unassigned"
    ).exists()


def test_it_answers_whether_the_operator_is_on_schedule(admin_client, juan, sofia):
    Schedule.objects.create(
        operator=sofia, kind=ScheduleKind.WORK, weekday=0, start=time(9), end=time(17)
    )
    on = post(admin_client, f"/api/admin/operators/{juan.pk}/pause", {"mode": "notifications"})
    off = post(admin_client, f"/api/admin/operators/{sofia.pk}/pause", {"mode": "full"})
    assert on.json()["on_assignment_schedule"] is True
    assert off.json()["on_assignment_schedule"] is False
