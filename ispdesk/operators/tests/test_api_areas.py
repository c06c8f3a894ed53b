"""Areas over the API: everyone reads them, admins create and change them."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from django.utils import timezone

from ispdesk.operators.models import Area, AreaHours, CalendarException
from ispdesk.operators.tests.conftest import make_operator, post, put
from ispdesk.system.models import AuditEvent


def test_it_lists_areas_by_name_to_anyone_logged_in(operator_client, soporte, ventas):
    Area.objects.create(name="Administración", active=False)
    response = operator_client.get("/api/areas")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()] == ["Administración", "Soporte", "Ventas"]
    listed = response.json()[1]
    # Whether it is open now depends on today (a holiday closes it); tested below.
    assert listed.pop("open_now") in (True, False)
    assert listed == {
        "id": soporte.pk,
        "name": "Soporte",
        "description": "",
        "active": True,
        "auto_close_minutes": None,
        "members": [],
    }


def test_it_lists_only_active_areas_when_asked(operator_client, soporte):
    Area.objects.create(name="Administración", active=False)
    response = operator_client.get("/api/areas?active=true")
    assert [row["name"] for row in response.json()] == ["Soporte"]


def test_it_lists_areas_in_a_fixed_number_of_queries(
    operator_client, django_assert_max_num_queries
):
    Area.objects.bulk_create(Area(name=f"Área {index}") for index in range(30))
    areas = list(Area.objects.all())
    members = [make_operator(f"op{index}") for index in range(3)]
    for index, area in enumerate(areas):
        area.operators.set(members[: index % 4])
    AreaHours.objects.bulk_create(
        AreaHours(area=area, weekday=day, start=time(8), end=time(16))
        for area in areas[::2]
        for day in range(5)
    )
    CalendarException.objects.create(day=timezone.localdate(), closed=True)
    # The session, the user, the areas, their members, their hours and the calendar.
    with django_assert_max_num_queries(6):
        listed = operator_client.get("/api/areas").json()
    assert len(listed) == 30
    assert sum(len(row["members"]) for row in listed) == sum(i % 4 for i in range(30))
    assert not any(row["open_now"] for row in listed)  # the business is closed today


def test_it_lets_an_admin_create_an_area(admin_client, admin):
    response = post(
        admin_client, "/api/areas", {"name": "  Ventas ", "description": "Altas y planes"}
    )

    assert response.status_code == 201, response.content
    area = Area.objects.get()
    assert response.json() == {
        "id": area.pk,
        "name": "Ventas",
        "description": "Altas y planes",
        "active": True,
        "auto_close_minutes": None,
        "members": [],
        "open_now": response.json()["open_now"],
    }
    assert not AuditEvent.objects.filter(action="area.routing_updated").exists()
    event = AuditEvent.objects.get(action="area.created")
    assert (event.actor, event.object_id) == (admin, str(area.pk))
    assert event.after == {"name": "Ventas", "description": "Altas y planes", "active": True}


@pytest.mark.parametrize("name", ["Soporte", "soporte", "SOPORTE ", " Soporte"])
def test_it_refuses_a_name_already_taken_whatever_its_case(admin_client, soporte, name):
    response = post(admin_client, "/api/areas", {"name": name})
    assert response.status_code == 409
    assert response.json()["code"] == "area_name_taken"
    assert "name" in response.json()["fields"]
    assert Area.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "Sop\x00orte"}, "name"),
        ({"name": "Soporte", "description": "x" * 301}, "description"),
        ({"name": "Soporte", "active": "maybe"}, "active"),
    ],
)
def test_it_names_the_bad_field_of_an_area(admin_client, body, field):
    response = post(admin_client, "/api/areas", body)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert not Area.objects.exists()


def test_it_lets_an_admin_change_an_area(admin_client, admin, soporte):
    response = put(
        admin_client,
        f"/api/areas/{soporte.pk}",
        {"description": "Fibra y radio", "active": False},
    )

    assert response.status_code == 200
    assert response.json()["active"] is False
    soporte.refresh_from_db()
    assert (soporte.name, soporte.description, soporte.active) == (
        "Soporte",
        "Fibra y radio",
        False,
    )
    event = AuditEvent.objects.get(action="area.updated")
    assert event.actor == admin
    assert event.before == {"name": "Soporte", "description": "", "active": True}
    assert event.after == {"name": "Soporte", "description": "Fibra y radio", "active": False}


def test_it_lets_an_area_change_the_case_of_its_own_name(admin_client, soporte):
    response = put(admin_client, f"/api/areas/{soporte.pk}", {"name": "SOPORTE"})
    assert response.status_code == 200
    soporte.refresh_from_db()
    assert soporte.name == "SOPORTE"


def test_it_refuses_to_rename_an_area_to_anothers_name(admin_client, soporte, ventas):
    response = put(admin_client, f"/api/areas/{ventas.pk}", {"name": "soporte"})
    assert response.status_code == 409
    assert response.json()["code"] == "area_name_taken"
    ventas.refresh_from_db()
    assert ventas.name == "Ventas"


# Members, the auto-close override and whether the area is open now --------------------------


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, Any]]]:
    """The real-time events sent, as (groups, event)."""
    sent: list[tuple[list[str], dict[str, Any]]] = []
    monkeypatch.setattr(
        "ispdesk.realtime.events.publish_now",
        lambda groups, event: sent.append((list(groups), event)),
    )
    return sent


def test_it_lists_the_members_of_each_area_by_name(operator_client, soporte, juan, sofia):
    soporte.operators.set([sofia, juan])
    (listed,) = operator_client.get("/api/areas").json()
    assert listed["members"] == [{"id": juan.pk, "name": "Juan"}, {"id": sofia.pk, "name": "Sofía"}]


def test_it_tells_which_areas_are_open_now(operator_client, soporte, ventas):
    today = timezone.localdate()
    # Special hours all day today: open whatever the weekly hours or a holiday say...
    CalendarException.objects.create(day=today, closed=False, start=time(0), end=time(0))
    # ...for areas without hours, or with hours on today's weekday; Ventas works another day.
    AreaHours.objects.create(
        area=ventas, weekday=(today.weekday() + 1) % 7, start=time(8), end=time(9)
    )
    listed = {row["name"]: row["open_now"] for row in operator_client.get("/api/areas").json()}
    assert listed == {"Soporte": True, "Ventas": True}

    CalendarException.objects.all().delete()
    CalendarException.objects.create(day=today, closed=True)
    listed = {row["name"]: row["open_now"] for row in operator_client.get("/api/areas").json()}
    assert listed == {"Soporte": False, "Ventas": False}


def test_it_creates_an_area_with_members_and_an_auto_close_override(
    admin_client, admin, juan, sofia, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            admin_client,
            "/api/areas",
            {"name": "Soporte", "members": [sofia.pk, juan.pk], "auto_close_minutes": 30},
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["members"] == [{"id": juan.pk, "name": "Juan"}, {"id": sofia.pk, "name": "Sofía"}]
    assert body["auto_close_minutes"] == 30
    area = Area.objects.get()
    assert set(area.operators.all()) == {juan, sofia}
    event = AuditEvent.objects.get(action="area.routing_updated")
    assert event.actor == admin
    assert event.before == {"members": [], "auto_close_minutes": None}
    assert event.after == {"members": sorted([juan.pk, sofia.pk]), "auto_close_minutes": 30}
    assert (
        ["role.admin", "role.supervisor", f"area.{area.pk}"],
        {
            "type": "area:update",
            "area": area.pk,
        },
    ) in published


def test_it_refuses_unknown_members_naming_them(admin_client, juan):
    response = post(
        admin_client, "/api/areas", {"name": "Soporte", "members": [juan.pk, 9998, 9999]}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_operator"
    assert "9998, 9999" in body["message"]
    assert "9998, 9999" in body["fields"]["members"]
    assert not Area.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("minutes", [-1, 43_201, "soon", 1.5])
def test_it_refuses_an_auto_close_out_of_range(admin_client, soporte, minutes):
    response = put(admin_client, f"/api/areas/{soporte.pk}", {"auto_close_minutes": minutes})
    assert response.status_code == 422
    assert "auto_close_minutes" in response.json()["fields"]
    soporte.refresh_from_db()
    assert soporte.auto_close_minutes is None


@pytest.mark.parametrize("minutes", [0, 43_200])
def test_it_accepts_the_ends_of_the_auto_close_range(admin_client, soporte, minutes):
    response = put(admin_client, f"/api/areas/{soporte.pk}", {"auto_close_minutes": minutes})
    assert response.status_code == 200
    assert response.json()["auto_close_minutes"] == minutes


def test_it_replaces_members_and_resets_the_override_with_null(admin_client, soporte, juan, sofia):
    soporte.operators.set([juan])
    Area.objects.filter(pk=soporte.pk).update(auto_close_minutes=15)

    response = put(admin_client, f"/api/areas/{soporte.pk}", {"members": [sofia.pk]})
    assert response.status_code == 200
    assert [member["name"] for member in response.json()["members"]] == ["Sofía"]
    assert response.json()["auto_close_minutes"] == 15

    response = put(admin_client, f"/api/areas/{soporte.pk}", {"auto_close_minutes": None})
    assert response.json()["auto_close_minutes"] is None
    assert [member["name"] for member in response.json()["members"]] == ["Sofía"]
    soporte.refresh_from_db()
    assert soporte.auto_close_minutes is None
    changes = AuditEvent.objects.filter(action="area.routing_updated").order_by("pk")
    assert [(event.before, event.after) for event in changes] == [
        (
            {"members": [juan.pk], "auto_close_minutes": 15},
            {"members": [sofia.pk], "auto_close_minutes": 15},
        ),
        (
            {"members": [sofia.pk], "auto_close_minutes": 15},
            {"members": [sofia.pk], "auto_close_minutes": None},
        ),
    ]


def test_it_can_empty_an_area(admin_client, soporte, juan):
    soporte.operators.set([juan])
    response = put(admin_client, f"/api/areas/{soporte.pk}", {"members": []})
    assert response.json()["members"] == []
    assert not soporte.operators.exists()


@pytest.mark.parametrize("fixture", ["supervisor_client", "operator_client"])
def test_only_admins_create_or_change_areas(request, fixture, soporte, juan):
    client = request.getfixturevalue(fixture)
    response = post(client, "/api/areas", {"name": "NOC", "members": [juan.pk]})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    response = put(client, f"/api/areas/{soporte.pk}", {"members": [juan.pk]})
    assert response.status_code == 403
    assert not soporte.operators.exists()
    assert Area.objects.count() == 1


def test_anonymous_people_cannot_list_areas(client, soporte):
    response = client.get("/api/areas")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_an_unknown_area_is_not_found(admin_client):
    response = put(admin_client, "/api/areas/9999", {"members": []})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
