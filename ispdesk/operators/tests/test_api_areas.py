"""Areas over the API: everyone reads them, admins create and change them."""

from __future__ import annotations

import pytest

from ispdesk.operators.models import Area
from ispdesk.operators.tests.conftest import post, put
from ispdesk.system.models import AuditEvent


def test_it_lists_areas_by_name_to_anyone_logged_in(operator_client, soporte, ventas):
    Area.objects.create(name="Administración", active=False)
    response = operator_client.get("/api/areas")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()] == ["Administración", "Soporte", "Ventas"]
    assert response.json()[1] == {
        "id": soporte.pk,
        "name": "Soporte",
        "description": "",
        "active": True,
    }


def test_it_lists_only_active_areas_when_asked(operator_client, soporte):
    Area.objects.create(name="Administración", active=False)
    response = operator_client.get("/api/areas?active=true")
    assert [row["name"] for row in response.json()] == ["Soporte"]


def test_it_lists_areas_in_a_fixed_number_of_queries(
    operator_client, django_assert_max_num_queries
):
    Area.objects.bulk_create(Area(name=f"Área {index}") for index in range(30))
    with django_assert_max_num_queries(3):
        assert len(operator_client.get("/api/areas").json()) == 30


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
    }
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
