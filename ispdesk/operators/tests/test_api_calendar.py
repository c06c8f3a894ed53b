"""The business calendar over the API: exceptions, national holidays and on-duty cover."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from ispdesk.operators.calendars import on_duty_ids
from ispdesk.operators.models import CalendarException, OnDuty
from ispdesk.operators.tests.conftest import make_operator, post, put
from ispdesk.system.models import AuditEvent

EXCEPTIONS = "/api/admin/calendar/exceptions"
NEW_YEAR = date(2026, 1, 1)  # a Thursday and a holiday
FIRST_SATURDAY = date(2026, 1, 3)
A_WORKING_FRIDAY = date(2026, 1, 9)
INDEPENDENCE_DAY = date(2026, 7, 9)


def add_exception(client, **body):  # type: ignore[no-untyped-def]
    return post(client, EXCEPTIONS, body)


def set_cover(client, day, operators, **extra):  # type: ignore[no-untyped-def]
    body = {"operators": [operator.pk for operator in operators], **extra}
    return put(client, f"/api/admin/on-duty/{day.isoformat()}", body)


# Exceptions


def test_it_lets_an_admin_close_a_day(admin_client, admin):
    response = add_exception(admin_client, day="2026-12-24", note="Nochebuena")

    assert response.status_code == 201, response.content
    row = CalendarException.objects.get()
    assert response.json() == {
        "id": row.pk,
        "day": "2026-12-24",
        "closed": True,
        "start": None,
        "end": None,
        "note": "Nochebuena",
    }
    event = AuditEvent.objects.get(action="calendar_exception.added")
    assert event.actor == admin
    assert event.after["day"] == "2026-12-24"
    assert event.after["closed"] is True


def test_it_lets_an_admin_open_a_day_with_special_hours(admin_client):
    response = add_exception(
        admin_client, day="2026-12-31", closed=False, start="09:00", end="13:00"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["start"], response.json()["end"]) == ("09:00", "13:00")
    row = CalendarException.objects.get()
    assert (row.closed, row.start, row.end) == (False, time(9), time(13))


def test_it_opens_a_day_twice_in_hours_that_do_not_overlap(admin_client):
    add_exception(admin_client, day="2026-12-31", closed=False, start="09:00", end="13:00")
    response = add_exception(
        admin_client, day="2026-12-31", closed=False, start="16:00", end="20:00"
    )
    assert response.status_code == 201
    assert CalendarException.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"closed": True, "start": "09:00"}, {"start"}),
        ({"closed": True, "end": "13:00"}, {"end"}),
        ({"closed": False}, {"start", "end"}),
        ({"closed": False, "start": "09:00"}, {"end"}),
        ({"closed": False, "start": "09:00", "end": "25:00"}, {"end"}),
        ({"day": "2026-02-30"}, {"day"}),
        ({"day": None}, {"day"}),
        ({"day": "1999-12-31"}, {"day"}),
        ({"note": "x" * 201}, {"note"}),
        ({"note": "nul\x00"}, {"note"}),
    ],
)
def test_it_names_the_bad_field_of_an_exception(admin_client, body, fields):
    response = add_exception(admin_client, **{"day": "2026-12-24", **body})
    assert response.status_code == 422, response.content
    assert set(response.json()["fields"]) == fields
    assert not CalendarException.objects.exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"closed": True}, {"closed": True}),
        ({"closed": True}, {"closed": False, "start": "09:00", "end": "12:00"}),
        ({"closed": False, "start": "09:00", "end": "12:00"}, {"closed": True}),
        (
            {"closed": False, "start": "09:00", "end": "12:00"},
            {"closed": False, "start": "11:00", "end": "14:00"},
        ),
    ],
)
def test_it_refuses_a_second_exception_that_contradicts_the_first(admin_client, first, second):
    assert add_exception(admin_client, day="2026-12-24", **first).status_code == 201
    response = add_exception(admin_client, day="2026-12-24", **second)
    assert response.status_code == 409
    assert response.json()["code"] == "calendar_exception_conflict"
    assert "2026-12-24" in response.json()["message"] or "12:00" in response.json()["message"]
    assert CalendarException.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_it_lists_exceptions_in_a_date_range(admin_client):
    for day in ("2026-05-02", "2026-06-01", "2026-07-01"):
        add_exception(admin_client, day=day)
    response = admin_client.get(f"{EXCEPTIONS}?from=2026-05-03&to=2026-07-01")
    assert [row["day"] for row in response.json()] == ["2026-06-01", "2026-07-01"]
    assert len(admin_client.get(EXCEPTIONS).json()) == 3


def test_it_lets_an_admin_delete_an_exception(admin_client, admin):
    row = CalendarException.objects.create(day=date(2026, 12, 24))
    response = admin_client.delete(f"{EXCEPTIONS}/{row.pk}")
    assert response.status_code == 204
    assert not CalendarException.objects.exists()
    event = AuditEvent.objects.get(action="calendar_exception.deleted")
    assert (event.actor, event.before["day"]) == (admin, "2026-12-24")
    assert admin_client.delete(f"{EXCEPTIONS}/{row.pk}").status_code == 404


def test_it_takes_everyone_off_schedule_on_a_day_closed_today(admin_client, juan):
    assert admin_client.get("/api/admin/operators").json()[0]["on_assignment_schedule"] is True
    add_exception(admin_client, day=timezone.localdate().isoformat())
    assert admin_client.get("/api/admin/operators").json()[0]["on_assignment_schedule"] is False


# National holidays


def test_it_lists_a_years_national_holidays_by_name(admin_client):
    response = admin_client.get("/api/admin/calendar/holidays?year=2026")

    assert response.status_code == 200
    rows = response.json()
    assert {"day": "2026-07-09", "weekday": 3, "name": "Día de la Independencia"} in rows
    assert rows[0] == {"day": "2026-01-01", "weekday": 3, "name": "Año Nuevo"}
    assert [row["day"] for row in rows] == sorted(row["day"] for row in rows)
    assert all(row["day"].startswith("2026-") and row["name"] for row in rows)


def test_it_lists_this_years_holidays_by_default(admin_client):
    rows = admin_client.get("/api/admin/calendar/holidays").json()
    assert rows
    assert {row["day"][:4] for row in rows} == {str(timezone.localdate().year)}


@pytest.mark.parametrize("year", ["1800", "3000", "next"])
def test_it_refuses_a_year_out_of_range(admin_client, year):
    response = admin_client.get(f"/api/admin/calendar/holidays?year={year}")
    assert response.status_code == 422
    assert "year" in response.json()["fields"]


# On-duty cover


def test_it_lists_weekends_and_holidays_with_their_cover(admin_client, juan, sofia):
    OnDuty.objects.create(day=FIRST_SATURDAY, operator=sofia)
    OnDuty.objects.create(day=FIRST_SATURDAY, operator=juan)

    response = admin_client.get("/api/admin/on-duty?from=2026-01-01&to=2026-01-11")

    assert response.status_code == 200
    days = response.json()
    assert [row["day"] for row in days] == [
        "2026-01-01",
        "2026-01-03",
        "2026-01-04",
        "2026-01-10",
        "2026-01-11",
    ]
    assert days[0] == {
        "day": "2026-01-01",
        "weekday": 3,
        "weekend": False,
        "holiday": "Año Nuevo",
        "operators": [],
    }
    assert days[1]["weekend"] is True
    assert days[1]["holiday"] is None
    assert days[1]["operators"] == [
        {"id": juan.pk, "name": "Juan"},
        {"id": sofia.pk, "name": "Sofía"},
    ]


def test_it_lists_across_the_turn_of_a_year(admin_client):
    days = admin_client.get("/api/admin/on-duty?from=2025-12-24&to=2026-01-02").json()
    holidays = {row["day"]: row["holiday"] for row in days if row["holiday"]}
    assert holidays == {"2025-12-25": "Navidad", "2026-01-01": "Año Nuevo"}


def test_it_lists_cover_in_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    team = [make_operator(f"op{index}") for index in range(6)]
    for offset in range(0, 60, 7):
        for operator in team:
            OnDuty.objects.create(day=FIRST_SATURDAY + timedelta(days=offset), operator=operator)
    with django_assert_max_num_queries(3):
        days = admin_client.get("/api/admin/on-duty?from=2026-01-01&to=2026-03-31").json()
    assert sum(len(row["operators"]) for row in days) == 9 * 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("from=2026-01-01&to=2027-01-02", "to"),
        ("from=2026-13-01", "from"),
        ("from=9999-12-31", "from"),
        ("from=0001-01-01&to=0001-01-31", "from"),
    ],
)
def test_it_refuses_a_bad_range(admin_client, query, field):
    response = admin_client.get(f"/api/admin/on-duty?{query}")
    assert response.status_code == 422
    assert field in response.json()["fields"]


def test_it_lists_the_coming_month_by_default(admin_client):
    days = admin_client.get("/api/admin/on-duty").json()
    today = timezone.localdate()
    assert days
    assert all(
        today.isoformat() <= row["day"] <= (today + timedelta(days=30)).isoformat() for row in days
    )
    assert sum(row["weekend"] for row in days) >= 8


def test_it_lets_an_admin_set_a_weekend_days_cover(admin_client, admin, juan, sofia):
    response = set_cover(admin_client, FIRST_SATURDAY, [sofia, juan])

    assert response.status_code == 200, response.content
    assert response.json()["operators"] == [
        {"id": juan.pk, "name": "Juan"},
        {"id": sofia.pk, "name": "Sofía"},
    ]
    assert on_duty_ids(FIRST_SATURDAY) == {juan.pk, sofia.pk}
    event = AuditEvent.objects.get(action="on_duty.updated")
    assert event.actor == admin
    assert event.object_id == "2026-01-03"
    assert event.before == {"operators": []}
    assert event.after == {"operators": sorted([juan.pk, sofia.pk])}


def test_it_replaces_the_days_cover(admin_client, juan, sofia):
    OnDuty.objects.create(day=FIRST_SATURDAY, operator=juan)
    OnDuty.objects.create(day=FIRST_SATURDAY + timedelta(days=1), operator=juan)

    response = set_cover(admin_client, FIRST_SATURDAY, [sofia])

    assert response.status_code == 200
    assert on_duty_ids(FIRST_SATURDAY) == {sofia.pk}
    assert on_duty_ids(FIRST_SATURDAY + timedelta(days=1)) == {juan.pk}
    event = AuditEvent.objects.get(action="on_duty.updated")
    assert (event.before, event.after) == ({"operators": [juan.pk]}, {"operators": [sofia.pk]})


def test_it_takes_cover_on_a_holiday_like_on_a_weekend(admin_client, juan):
    response = set_cover(admin_client, INDEPENDENCE_DAY, [juan])
    assert response.status_code == 200
    assert response.json()["holiday"] == "Día de la Independencia"
    assert on_duty_ids(INDEPENDENCE_DAY) == {juan.pk}


def test_it_needs_force_to_cover_a_working_day(admin_client, juan):
    refused = set_cover(admin_client, A_WORKING_FRIDAY, [juan])
    assert refused.status_code == 422
    assert refused.json()["code"] == "not_a_day_off"
    assert "2026-01-09" in refused.json()["message"]
    assert on_duty_ids(A_WORKING_FRIDAY) == frozenset()
    assert not AuditEvent.objects.exists()

    forced = set_cover(admin_client, A_WORKING_FRIDAY, [juan], force=True)
    assert forced.status_code == 200
    assert forced.json()["weekend"] is False
    assert on_duty_ids(A_WORKING_FRIDAY) == {juan.pk}
    # The forced day now shows in the list, so it can be seen and undone.
    days = admin_client.get("/api/admin/on-duty?from=2026-01-09&to=2026-01-09").json()
    assert [row["day"] for row in days] == ["2026-01-09"]


def test_it_clears_a_working_days_cover_without_force(admin_client, juan):
    OnDuty.objects.create(day=A_WORKING_FRIDAY, operator=juan)
    response = set_cover(admin_client, A_WORKING_FRIDAY, [])
    assert response.status_code == 200
    assert response.json()["operators"] == []
    assert on_duty_ids(A_WORKING_FRIDAY) == frozenset()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("2026-01-03", {"operators": [987654]}, "operators"),
        ("2026-01-03", {"operators": "juan"}, "operators"),
        ("2026-01-03", {}, "operators"),
        ("2026-02-30", {"operators": []}, "day"),
        ("saturday", {"operators": []}, "day"),
        ("9999-12-31", {"operators": []}, "day"),
    ],
)
def test_it_names_the_bad_value_of_a_cover_change(admin_client, juan, path, body, field):
    OnDuty.objects.create(day=FIRST_SATURDAY, operator=juan)
    response = put(admin_client, f"/api/admin/on-duty/{path}", body)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert on_duty_ids(FIRST_SATURDAY) == {juan.pk}
