"""Schedule windows over the API: one at a time, or a whole week of one kind at once."""

from __future__ import annotations

from datetime import time

import pytest

from ispdesk.operators.models import Schedule, ScheduleKind
from ispdesk.operators.tests.conftest import make_operator, post, put
from ispdesk.system.models import AuditEvent

MONDAY, TUESDAY, SUNDAY = 0, 1, 6


def add(client, operator, kind="assignment", weekday=MONDAY, start="09:00", end="17:00"):  # type: ignore[no-untyped-def]
    body = {"operator": operator.pk, "kind": kind, "weekday": weekday, "start": start, "end": end}
    return post(client, "/api/admin/schedules", body)


def week(client, operator, kind, *windows):  # type: ignore[no-untyped-def]
    body = {
        "kind": kind,
        "windows": [{"weekday": d, "start": s, "end": e} for d, s, e in windows],
    }
    return put(client, f"/api/admin/operators/{operator.pk}/schedules", body)


def stored(operator, kind="assignment") -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    rows = Schedule.objects.filter(operator=operator, kind=kind).order_by("weekday", "start")
    return [(row.weekday, f"{row.start:%H:%M}", f"{row.end:%H:%M}") for row in rows]


def window(operator, kind, weekday, start, end) -> Schedule:  # type: ignore[no-untyped-def]
    return Schedule.objects.create(
        operator=operator, kind=kind, weekday=weekday, start=time(*start), end=time(*end)
    )


# Adding one window


def test_it_lets_an_admin_add_a_window(admin_client, admin, sofia):
    response = add(admin_client, sofia, weekday=TUESDAY, start="8:30", end="16:00")

    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": Schedule.objects.get().pk,
        "operator": sofia.pk,
        "kind": "assignment",
        "weekday": TUESDAY,
        "start": "08:30",
        "end": "16:00",
        "crosses_midnight": False,
    }
    event = AuditEvent.objects.get(action="schedule.added")
    assert event.actor == admin
    assert event.after == {
        "kind": "assignment",
        "weekday": 1,
        "start": "08:30:00",
        "end": "16:00:00",
    }


def test_it_accepts_a_window_crossing_midnight(admin_client, sofia):
    response = add(admin_client, sofia, weekday=MONDAY, start="22:00", end="06:00")
    assert response.status_code == 201
    assert response.json()["crosses_midnight"] is True
    assert stored(sofia) == [(MONDAY, "22:00", "06:00")]


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        # Monday night runs into Tuesday morning.
        ((MONDAY, (22, 0), (6, 0)), (TUESDAY, "05:00", "09:00")),
        # Sunday night runs into Monday morning: the week wraps.
        ((SUNDAY, (22, 0), (6, 0)), (MONDAY, "05:59", "07:00")),
        # Inside an existing window.
        ((MONDAY, (9, 0), (17, 0)), (MONDAY, "10:00", "11:00")),
        # Around an existing window.
        ((MONDAY, (10, 0), (11, 0)), (MONDAY, "09:00", "17:00")),
        # A whole day (start == end) leaves no room on it.
        ((MONDAY, (0, 0), (0, 0)), (MONDAY, "23:00", "23:30")),
        # The very same window twice.
        ((MONDAY, (9, 0), (17, 0)), (MONDAY, "09:00", "17:00")),
    ],
)
def test_it_refuses_an_overlapping_window_naming_both(admin_client, sofia, existing, new):
    weekday, start, end = existing
    window(sofia, "assignment", weekday, start, end)

    new_day, new_start, new_end = new
    response = add(admin_client, sofia, weekday=new_day, start=new_start, end=new_end)

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "schedule_overlap"
    message = response.json()["message"]
    assert f"{start[0]:02}:{start[1]:02}-{end[0]:02}:{end[1]:02}" in message
    assert f"{new_start}-{new_end}" in message
    assert Schedule.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        # Ends exactly when the next one starts.
        ((MONDAY, (22, 0), (6, 0)), (TUESDAY, "06:00", "09:00")),
        ((SUNDAY, (22, 0), (6, 0)), (MONDAY, "06:00", "14:00")),
        ((MONDAY, (9, 0), (13, 0)), (MONDAY, "13:00", "17:00")),
        # Sunday until midnight does not reach Monday.
        ((SUNDAY, (18, 0), (0, 0)), (MONDAY, "00:00", "08:00")),
    ],
)
def test_it_accepts_windows_that_only_touch(admin_client, sofia, existing, new):
    weekday, start, end = existing
    window(sofia, "assignment", weekday, start, end)
    new_day, new_start, new_end = new
    response = add(admin_client, sofia, weekday=new_day, start=new_start, end=new_end)
    assert response.status_code == 201, response.content
    assert Schedule.objects.count() == 2


def test_it_never_clashes_windows_of_other_kinds_and_people(admin_client, sofia, juan):
    window(sofia, "work", MONDAY, (9, 0), (17, 0))
    window(juan, "assignment", MONDAY, (9, 0), (17, 0))  # besides juan's own all-week ones
    response = add(admin_client, sofia, kind="assignment", weekday=MONDAY)
    assert response.status_code == 201
    assert add(admin_client, sofia, kind="alert", weekday=MONDAY).status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weekday": 7}, "weekday"),
        ({"weekday": -1}, "weekday"),
        ({"start": "24:00"}, "start"),
        ({"start": "12:60"}, "start"),
        ({"end": "noon"}, "end"),
        ({"end": "12:00:30"}, "end"),
        ({"end": 1200}, "end"),
        ({"kind": "night"}, "kind"),
        ({"operator": 987654}, "operator"),
        ({"operator": 0}, "operator"),
    ],
)
def test_it_names_the_bad_field_of_a_window(admin_client, sofia, changes, field):
    body = {"operator": sofia.pk, "kind": "work", "weekday": 0, "start": "09:00", "end": "17:00"}
    response = post(admin_client, "/api/admin/schedules", {**body, **changes})
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert not Schedule.objects.exists()


# Listing and deleting


def test_it_lists_windows_filtered_by_operator_and_kind(admin_client, juan, sofia):
    night = window(sofia, "alert", MONDAY, (22, 0), (6, 0))
    window(sofia, "work", MONDAY, (22, 0), (6, 0))

    response = admin_client.get(f"/api/admin/schedules?operator={sofia.pk}&kind=alert")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": night.pk,
            "operator": sofia.pk,
            "kind": "alert",
            "weekday": MONDAY,
            "start": "22:00",
            "end": "06:00",
            "crosses_midnight": True,
        }
    ]
    everything = admin_client.get("/api/admin/schedules").json()
    assert len(everything) == 7 + 2  # juan's all-week windows and sofia's two
    assert len(admin_client.get(f"/api/admin/schedules?operator={juan.pk}").json()) == 7


def test_it_refuses_an_unknown_kind_filter(admin_client):
    response = admin_client.get("/api/admin/schedules?kind=night")
    assert response.status_code == 422
    assert "kind" in response.json()["fields"]


def test_it_lists_windows_in_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    for index in range(12):
        operator = make_operator(f"op{index}")
        for day in range(7):
            window(operator, "work", day, (8, 0), (16, 0))
    with django_assert_max_num_queries(3):
        assert len(admin_client.get("/api/admin/schedules").json()) == 84


def test_it_lets_an_admin_delete_a_window(admin_client, admin, sofia):
    night = window(sofia, "alert", MONDAY, (22, 0), (6, 0))

    response = admin_client.delete(f"/api/admin/schedules/{night.pk}")

    assert response.status_code == 204
    assert not Schedule.objects.exists()
    event = AuditEvent.objects.get(action="schedule.deleted")
    assert (event.actor, event.object_id) == (admin, str(night.pk))
    assert event.before["start"] == "22:00:00"
    assert admin_client.delete(f"/api/admin/schedules/{night.pk}").status_code == 404


# A whole week at once


def test_it_replaces_every_window_of_one_kind(admin_client, admin, sofia):
    window(sofia, "work", MONDAY, (9, 0), (17, 0))
    window(sofia, "work", TUESDAY, (9, 0), (17, 0))
    alert = window(sofia, "alert", MONDAY, (9, 0), (17, 0))

    response = week(
        admin_client,
        sofia,
        "work",
        (TUESDAY, "14:00", "22:00"),
        (MONDAY, "22:00", "06:00"),
        (SUNDAY, "10:00", "14:00"),
    )

    assert response.status_code == 200, response.content
    assert [(row["weekday"], row["start"], row["end"]) for row in response.json()] == [
        (MONDAY, "22:00", "06:00"),
        (TUESDAY, "14:00", "22:00"),
        (SUNDAY, "10:00", "14:00"),
    ]
    assert all(isinstance(row["id"], int) for row in response.json())
    assert stored(sofia, "work") == [
        (MONDAY, "22:00", "06:00"),
        (TUESDAY, "14:00", "22:00"),
        (SUNDAY, "10:00", "14:00"),
    ]
    assert list(Schedule.objects.filter(kind="alert")) == [alert]
    event = AuditEvent.objects.get(action="schedule.replaced")
    assert event.actor == admin
    assert event.object_id == str(sofia.pk)
    assert [w["weekday"] for w in event.before["windows"]] == [MONDAY, TUESDAY]
    assert [w["weekday"] for w in event.after["windows"]] == [MONDAY, TUESDAY, SUNDAY]


@pytest.mark.parametrize(
    "windows",
    [
        [(MONDAY, "22:00", "06:00"), (TUESDAY, "05:00", "09:00")],
        [(MONDAY, "09:00", "13:00"), (MONDAY, "12:00", "17:00")],
        [(SUNDAY, "20:00", "02:00"), (MONDAY, "01:00", "03:00")],
        [(MONDAY, "09:00", "13:00"), (MONDAY, "09:00", "13:00")],
    ],
)
def test_it_changes_nothing_for_an_overlapping_week(admin_client, sofia, windows):
    window(sofia, "work", MONDAY, (8, 0), (12, 0))

    response = week(admin_client, sofia, "work", (TUESDAY, "10:00", "12:00"), *windows)

    assert response.status_code == 409
    assert response.json()["code"] == "schedule_overlap"
    message = response.json()["message"]
    for _day, start, end in windows:
        assert f"{start}-{end}" in message
    assert stored(sofia, "work") == [(MONDAY, "08:00", "12:00")]
    assert not AuditEvent.objects.exists()


def test_it_names_a_bad_window_in_the_week_and_changes_nothing(admin_client, sofia):
    window(sofia, "work", MONDAY, (8, 0), (12, 0))
    body = {
        "kind": "work",
        "windows": [
            {"weekday": 0, "start": "09:00", "end": "10:00"},
            {"weekday": 9, "start": "09:00", "end": "10:00"},
        ],
    }
    response = put(admin_client, f"/api/admin/operators/{sofia.pk}/schedules", body)
    assert response.status_code == 422
    assert "windows.1.weekday" in response.json()["fields"]
    assert stored(sofia, "work") == [(MONDAY, "08:00", "12:00")]


def test_it_clears_one_kind_with_an_empty_week(admin_client, juan):
    window(juan, "work", MONDAY, (8, 0), (12, 0))
    response = week(admin_client, juan, ScheduleKind.ASSIGNMENT)
    assert response.status_code == 200
    assert response.json() == []
    assert stored(juan, "assignment") == []
    assert stored(juan, "work") == [(MONDAY, "08:00", "12:00")]


def test_it_changes_the_on_schedule_answer_with_the_week(admin_client, juan):
    assert admin_client.get("/api/admin/operators").json()[0]["on_assignment_schedule"] is True
    week(admin_client, juan, "assignment")
    assert admin_client.get("/api/admin/operators").json()[0]["on_assignment_schedule"] is False
