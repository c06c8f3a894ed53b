"""Shift tags over the API: `[TT]` in a ticket's text sends it to that tag's operators."""

from __future__ import annotations

import pytest

from ispdesk.operators.models import ShiftTag
from ispdesk.operators.tests.conftest import make_operator, post, put
from ispdesk.system.models import AuditEvent

TAGS = "/api/admin/shift-tags"


@pytest.fixture
def tarde(juan, sofia) -> ShiftTag:  # type: ignore[no-untyped-def]
    tag = ShiftTag.objects.create(tag="[TT]", name="Tarde")
    tag.operators.set([sofia, juan])
    return tag


def test_it_lists_tags_with_their_operators(admin_client, tarde, juan, sofia):
    ShiftTag.objects.create(tag="[TD]", name="Día", active=False)
    response = admin_client.get(TAGS)
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": response.json()[0]["id"],
            "tag": "[TD]",
            "name": "Día",
            "active": False,
            "operators": [],
        },
        {
            "id": tarde.pk,
            "tag": "[TT]",
            "name": "Tarde",
            "active": True,
            "operators": [{"id": juan.pk, "name": "Juan"}, {"id": sofia.pk, "name": "Sofía"}],
        },
    ]


def test_it_lists_tags_in_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    team = [make_operator(f"op{index}") for index in range(8)]
    for index in range(10):
        ShiftTag.objects.create(tag=f"[T{index}]", name=f"Turno {index}").operators.set(team)
    with django_assert_max_num_queries(4):
        rows = admin_client.get(TAGS).json()
    assert [len(row["operators"]) for row in rows] == [8] * 10


def test_it_lets_an_admin_create_a_tag(admin_client, admin, juan):
    response = post(admin_client, TAGS, {"tag": "[TN]", "name": "Noche", "operators": [juan.pk]})

    assert response.status_code == 201, response.content
    tag = ShiftTag.objects.get()
    assert response.json() == {
        "id": tag.pk,
        "tag": "[TN]",
        "name": "Noche",
        "active": True,
        "operators": [{"id": juan.pk, "name": "Juan"}],
    }
    assert list(tag.operators.all()) == [juan]
    event = AuditEvent.objects.get(action="shift_tag.created")
    assert event.actor == admin
    assert event.after == {"tag": "[TN]", "name": "Noche", "active": True, "operators": [juan.pk]}


@pytest.mark.parametrize("tag", ["[TT]", "[tt]", " [Tt] "])
def test_it_refuses_a_tag_in_use_whatever_its_case(admin_client, tarde, tag):
    response = post(admin_client, TAGS, {"tag": tag, "name": "Otra tarde"})
    assert response.status_code == 409
    assert response.json()["code"] == "tag_taken"
    assert "tag" in response.json()["fields"]
    assert ShiftTag.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tag": "TT"}, "tag"),
        ({"tag": "[]"}, "tag"),
        ({"tag": "[T T]"}, "tag"),
        ({"tag": "[" + "T" * 19 + "]"}, "tag"),
        ({"name": ""}, "name"),
        ({"operators": [987654]}, "operators"),
        ({"operators": ["juan"]}, "operators.0"),
    ],
)
def test_it_names_the_bad_field_of_a_tag(admin_client, body, field):
    response = post(admin_client, TAGS, {"tag": "[TN]", "name": "Noche", **body})
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert not ShiftTag.objects.exists()


def test_it_lets_an_admin_change_a_tags_operators_and_name(admin_client, admin, tarde, juan, sofia):
    response = put(
        admin_client, f"{TAGS}/{tarde.pk}", {"name": "Tarde larga", "operators": [juan.pk]}
    )

    assert response.status_code == 200, response.content
    assert response.json()["operators"] == [{"id": juan.pk, "name": "Juan"}]
    tarde.refresh_from_db()
    assert (tarde.tag, tarde.name) == ("[TT]", "Tarde larga")
    assert list(tarde.operators.all()) == [juan]
    event = AuditEvent.objects.get(action="shift_tag.updated")
    assert event.actor == admin
    assert event.before["operators"] == sorted([juan.pk, sofia.pk])
    assert event.after["operators"] == [juan.pk]
    assert (event.before["name"], event.after["name"]) == ("Tarde", "Tarde larga")


def test_it_keeps_a_tags_operators_when_left_out_of_the_change(admin_client, tarde, juan, sofia):
    response = put(admin_client, f"{TAGS}/{tarde.pk}", {"active": False})
    assert response.status_code == 200
    tarde.refresh_from_db()
    assert tarde.active is False
    assert set(tarde.operators.all()) == {juan, sofia}


def test_it_refuses_to_rename_a_tag_to_one_in_use(admin_client, tarde):
    dia = ShiftTag.objects.create(tag="[TD]", name="Día")
    response = put(admin_client, f"{TAGS}/{dia.pk}", {"tag": "[tt]"})
    assert response.status_code == 409
    dia.refresh_from_db()
    assert dia.tag == "[TD]"


def test_it_changes_nothing_for_an_unknown_operator(admin_client, tarde, juan, sofia):
    response = put(
        admin_client, f"{TAGS}/{tarde.pk}", {"name": "X", "operators": [juan.pk, 987654]}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_operator"
    assert "987654" in response.json()["fields"]["operators"]
    tarde.refresh_from_db()
    assert tarde.name == "Tarde"
    assert set(tarde.operators.all()) == {juan, sofia}
