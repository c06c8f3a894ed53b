"""Areas' working hours over the API: everyone logged in reads them, admins change them."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest

from ispdesk.operators.models import AreaHours
from ispdesk.operators.tests.conftest import post
from ispdesk.system.models import AuditEvent

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
URL = "/api/working-hours"


def patch(client, path: str, body: Any) -> Any:  # type: ignore[no-untyped-def]
    return client.patch(path, body, content_type="application/json")


def add(area, weekday: int, start: int, end: int, message: str = "") -> AreaHours:  # type: ignore[no-untyped-def]
    return AreaHours.objects.create(
        area=area, weekday=weekday, start=time(start), end=time(end), courtesy_message=message
    )


def stored(area) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    rows = AreaHours.objects.filter(area=area).order_by("weekday", "start")
    return [(row.weekday, f"{row.start:%H:%M}", f"{row.end:%H:%M}") for row in rows]


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, Any]]]:
    """The real-time events sent, as (groups, event)."""
    sent: list[tuple[list[str], dict[str, Any]]] = []
    monkeypatch.setattr(
        "ispdesk.realtime.events.publish_now",
        lambda groups, event: sent.append((list(groups), event)),
    )
    return sent


# Reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["operator_client", "supervisor_client", "admin_client"])
def test_it_lists_an_areas_hours_to_anyone_logged_in(request, fixture, soporte, ventas):
    client = request.getfixturevalue(fixture)
    night = add(soporte, FRI, 22, 6, "Volvemos el sábado")
    morning = add(soporte, MON, 8, 12)
    add(ventas, MON, 9, 18)

    response = client.get(f"{URL}?area={soporte.pk}")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": morning.pk,
            "area_id": soporte.pk,
            "weekday": MON,
            "start": "08:00",
            "end": "12:00",
            "crosses_midnight": False,
            "courtesy_message": "",
        },
        {
            "id": night.pk,
            "area_id": soporte.pk,
            "weekday": FRI,
            "start": "22:00",
            "end": "06:00",
            "crosses_midnight": True,
            "courtesy_message": "Volvemos el sábado",
        },
    ]


def test_it_lists_every_areas_hours_without_a_filter(operator_client, soporte, ventas):
    add(soporte, MON, 8, 12)
    add(ventas, MON, 9, 18)
    assert len(operator_client.get(URL).json()) == 2
    assert operator_client.get(f"{URL}?area=9999").json() == []


def test_it_lists_hours_in_a_fixed_number_of_queries(
    operator_client, soporte, django_assert_max_num_queries
):
    AreaHours.objects.bulk_create(
        AreaHours(area=soporte, weekday=day, start=time(hour), end=time(hour + 1))
        for day in range(7)
        for hour in range(0, 20, 2)
    )
    with django_assert_max_num_queries(3):
        assert len(operator_client.get(URL).json()) == 70


def test_anonymous_people_read_nothing(client, soporte):
    add(soporte, MON, 8, 12)
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_it_refuses_a_bad_area_filter(operator_client):
    response = operator_client.get(f"{URL}?area=soporte")
    assert response.status_code == 422
    assert "area" in response.json()["fields"]


# Adding ---------------------------------------------------------------------------------------


def test_an_admin_adds_a_window(
    admin_client, admin, soporte, published, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    body = {
        "area_id": soporte.pk,
        "weekday": MON,
        "start": "08:00",
        "end": "16:30",
        "courtesy_message": "  Abrimos a las 8  ",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_client, URL, body)

    assert response.status_code == 201, response.content
    row = AreaHours.objects.get()
    assert response.json() == {
        "id": row.pk,
        "area_id": soporte.pk,
        "weekday": MON,
        "start": "08:00",
        "end": "16:30",
        "crosses_midnight": False,
        "courtesy_message": "Abrimos a las 8",
    }
    event = AuditEvent.objects.get(action="area_hours.added")
    assert (event.actor, event.object_id) == (admin, str(row.pk))
    assert event.after == {
        "area": soporte.pk,
        "weekday": MON,
        "start": "08:00",
        "end": "16:30",
        "courtesy_message": "Abrimos a las 8",
    }
    assert published == [
        (
            ["role.admin", "role.supervisor", f"area.{soporte.pk}"],
            {"type": "area:update", "area": soporte.pk},
        )
    ]


def test_an_admin_adds_the_same_window_on_several_weekdays(admin_client, soporte):
    body = {
        "area_id": soporte.pk,
        "weekdays": [FRI, MON, WED, MON],
        "start": "22:00",
        "end": "06:00",
    }
    response = post(admin_client, URL, body)

    assert response.status_code == 201, response.content
    assert [(row["weekday"], row["crosses_midnight"]) for row in response.json()] == [
        (MON, True),
        (WED, True),
        (FRI, True),
    ]
    assert stored(soporte) == [
        (MON, "22:00", "06:00"),
        (WED, "22:00", "06:00"),
        (FRI, "22:00", "06:00"),
    ]
    assert AuditEvent.objects.filter(action="area_hours.added").count() == 3


def test_it_refuses_an_overlap_naming_both_windows(admin_client, soporte, ventas):
    add(soporte, MON, 8, 12)
    add(ventas, MON, 10, 14)  # another area's hours never clash

    response = post(
        admin_client, URL, {"area_id": soporte.pk, "weekday": MON, "start": "11:00", "end": "13:00"}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "hours_overlap"
    assert "08:00-12:00" in body["message"] and "11:00-13:00" in body["message"]
    assert "start" in body["fields"]
    assert stored(soporte) == [(MON, "08:00", "12:00")]
    assert not AuditEvent.objects.exists()


def test_several_weekdays_are_added_all_or_nothing(admin_client, soporte):
    add(soporte, THU, 9, 10)
    body = {"area_id": soporte.pk, "weekdays": [MON, TUE, THU], "start": "08:00", "end": "12:00"}
    response = post(admin_client, URL, body)
    assert response.status_code == 409
    assert "Thursday 09:00-10:00" in response.json()["message"]
    assert stored(soporte) == [(THU, "09:00", "10:00")]


def test_a_window_crossing_sunday_midnight_clashes_with_monday_morning(admin_client, soporte):
    add(soporte, MON, 0, 8)
    response = post(
        admin_client, URL, {"area_id": soporte.pk, "weekday": SUN, "start": "20:00", "end": "02:00"}
    )
    assert response.status_code == 409


def test_it_refuses_an_unknown_area(admin_client):
    response = post(
        admin_client, URL, {"area_id": 9999, "weekday": MON, "start": "08:00", "end": "12:00"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_area"
    assert "area_id" in response.json()["fields"]
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start": "8"}, "start"),
        ({"start": "24:00"}, "start"),
        ({"end": "12:60"}, "end"),
        ({"end": None}, "end"),
        ({"weekday": 7}, "weekday"),
        ({"weekday": -1}, "weekday"),
        ({"weekday": None, "weekdays": [MON, 9]}, "weekdays.1"),
        ({"weekday": None, "weekdays": []}, "weekdays"),
        ({"weekday": None}, "weekday"),  # neither weekday nor weekdays
        ({"weekdays": [TUE]}, "weekday"),  # both
        ({"courtesy_message": "x" * 1001}, "courtesy_message"),
        ({"courtesy_message": "Hola\x00"}, "courtesy_message"),
        ({"area_id": 0}, "area_id"),
    ],
)
def test_it_names_the_bad_field_of_a_window(admin_client, soporte, changes, field):
    body = {"area_id": soporte.pk, "weekday": MON, "start": "08:00", "end": "12:00"}
    body = {name: value for name, value in {**body, **changes}.items() if value is not None}
    response = post(admin_client, URL, body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert not AreaHours.objects.exists()


# Changing and deleting ------------------------------------------------------------------------


def test_an_admin_changes_a_window(
    admin_client, admin, soporte, published, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    row = add(soporte, MON, 8, 12)
    add(soporte, TUE, 8, 12)
    with django_capture_on_commit_callbacks(execute=True):
        response = patch(
            admin_client, f"{URL}/{row.pk}", {"end": "13:00", "courtesy_message": "Hasta luego"}
        )

    assert response.status_code == 200, response.content
    assert (response.json()["end"], response.json()["courtesy_message"]) == ("13:00", "Hasta luego")
    assert stored(soporte) == [(MON, "08:00", "13:00"), (TUE, "08:00", "12:00")]
    event = AuditEvent.objects.get(action="area_hours.updated")
    assert event.actor == admin
    assert (event.before["end"], event.after["end"]) == ("12:00", "13:00")
    assert (event.before["courtesy_message"], event.after["courtesy_message"]) == (
        "",
        "Hasta luego",
    )
    assert [event for _groups, event in published] == [{"type": "area:update", "area": soporte.pk}]


def test_a_change_that_overlaps_another_window_is_refused(admin_client, soporte):
    row = add(soporte, MON, 8, 12)
    add(soporte, MON, 14, 18)
    response = patch(admin_client, f"{URL}/{row.pk}", {"end": "15:00"})
    assert response.status_code == 409
    assert response.json()["code"] == "hours_overlap"
    assert "14:00-18:00" in response.json()["message"]
    assert stored(soporte) == [(MON, "08:00", "12:00"), (MON, "14:00", "18:00")]


def test_a_change_may_move_a_window_to_another_day(admin_client, soporte):
    row = add(soporte, MON, 8, 12)
    response = patch(admin_client, f"{URL}/{row.pk}", {"weekday": SAT})
    assert response.status_code == 200
    assert stored(soporte) == [(SAT, "08:00", "12:00")]


def test_a_change_to_nothing_new_is_not_audited(admin_client, soporte):
    row = add(soporte, MON, 8, 12)
    response = patch(admin_client, f"{URL}/{row.pk}", {"start": "08:00"})
    assert response.status_code == 200
    assert not AuditEvent.objects.exists()


def test_an_admin_deletes_a_window(
    admin_client, admin, soporte, published, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    row = add(soporte, MON, 8, 12, "Abrimos a las 8")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.delete(f"{URL}/{row.pk}")

    assert response.status_code == 204
    assert not AreaHours.objects.exists()
    event = AuditEvent.objects.get(action="area_hours.deleted")
    assert event.actor == admin
    assert event.before == {
        "area": soporte.pk,
        "weekday": MON,
        "start": "08:00",
        "end": "12:00",
        "courtesy_message": "Abrimos a las 8",
    }
    assert [event for _groups, event in published] == [{"type": "area:update", "area": soporte.pk}]


def test_unknown_windows_are_not_found(admin_client):
    assert admin_client.delete(f"{URL}/9999").json()["code"] == "not_found"
    assert patch(admin_client, f"{URL}/9999", {"end": "13:00"}).status_code == 404


@pytest.mark.parametrize("fixture", ["supervisor_client", "operator_client"])
def test_only_admins_change_working_hours(request, fixture, soporte):
    client = request.getfixturevalue(fixture)
    row = add(soporte, MON, 8, 12)
    body = {"area_id": soporte.pk, "weekday": TUE, "start": "08:00", "end": "12:00"}
    responses = [
        post(client, URL, body),
        patch(client, f"{URL}/{row.pk}", {"end": "13:00"}),
        client.delete(f"{URL}/{row.pk}"),
    ]
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert all(response.json()["code"] == "permission_denied" for response in responses)
    assert stored(soporte) == [(MON, "08:00", "12:00")]
    assert not AuditEvent.objects.exists()
