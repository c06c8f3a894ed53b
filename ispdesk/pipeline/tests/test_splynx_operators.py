"""Operators ↔ Splynx administrators through the API."""

from __future__ import annotations

from typing import Any

from django.test import Client

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator
from ispdesk.system.models import AuditEvent

URL = "/api/admin/integrations/splynx/operators"


def make_operator(username: str, **fields: Any) -> Operator:
    user = make_user(username, Role.OPERATOR, first_name=username.title())
    return Operator.objects.create(user=user, **fields)


def put(client: Client, body: Any) -> Any:
    return client.put(URL, body, content_type="application/json")


def test_it_links_and_unlinks_operators(admin_client: Client) -> None:
    ana, juan = make_operator("ana2"), make_operator("juan", person_id=5)
    response = put(admin_client, {str(ana.pk): 1, str(juan.pk): None})
    assert response.status_code == 200
    linked = {row["operator_id"]: row["person_id"] for row in response.json()}
    assert linked == {ana.pk: 1, juan.pk: None}
    ana.refresh_from_db()
    assert ana.person_id == 1
    audit = AuditEvent.objects.get(action="integration.splynx.operators_mapped")
    assert audit.after == {str(ana.pk): 1, str(juan.pk): None}


def test_it_swaps_two_operators(admin_client: Client) -> None:
    ana, juan = make_operator("ana2", person_id=1), make_operator("juan", person_id=2)
    assert put(admin_client, {str(ana.pk): 2, str(juan.pk): 1}).status_code == 200
    assert Operator.objects.get(pk=ana.pk).person_id == 2
    assert Operator.objects.get(pk=juan.pk).person_id == 1


def test_a_clash_answers_409_naming_the_operator(admin_client: Client) -> None:
    ana = make_operator("ana2")
    make_operator("juan", person_id=2)
    response = put(admin_client, {str(ana.pk): 2})
    assert response.status_code == 409
    assert response.json()["code"] == "person_id_taken"
    assert "Juan" in response.json()["message"]
    assert str(ana.pk) in response.json()["fields"]
    assert Operator.objects.get(pk=ana.pk).person_id is None


def test_it_refuses_unknown_operators_and_bad_ids(admin_client: Client) -> None:
    ana = make_operator("ana2")
    assert put(admin_client, {"999999": 1}).status_code == 404
    assert put(admin_client, {str(ana.pk): 0}).status_code == 422
    assert put(admin_client, {"abc": 1}).status_code == 422
    assert put(admin_client, {str(ana.pk): "x"}).status_code == 422


def test_nothing_to_change_writes_no_audit(admin_client: Client) -> None:
    ana = make_operator("ana2", person_id=3)
    assert put(admin_client, {str(ana.pk): 3}).status_code == 200
    assert not AuditEvent.objects.filter(action="integration.splynx.operators_mapped").exists()


def test_an_operator_id_in_unicode_digits_is_refused_not_a_500(admin_client):
    import json

    response = admin_client.put(
        "/api/admin/integrations/splynx/operators",
        json.dumps({"²": 1}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
