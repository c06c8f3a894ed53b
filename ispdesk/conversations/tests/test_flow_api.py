"""Bot flows over the API: everyone signed in reads them; admins create, change, delete and
try them out."""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from ispdesk.conversations.flows.loading import load_flows
from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area
from ispdesk.operators.tests.conftest import post, put
from ispdesk.system.models import AuditEvent


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def soporte(db: Any) -> Area:
    return Area.objects.create(name="Soporte")


def body(area: Area, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Principal",
        "active": True,
        "is_default": True,
        "triggers": ["Hola", " MENU principal "],
        "fallback_area_id": area.pk,
        "definition": sample_definition(area.pk),
        **fields,
    }


def make_flow(area: Area, **fields: Any) -> Flow:
    data = {
        "name": "Principal",
        "definition": sample_definition(area.pk),
        "triggers": ["hola"],
        **fields,
    }
    return Flow.objects.create(**data)


# Creating -----------------------------------------------------------------------------------


def test_it_lets_an_admin_create_a_flow(admin_client: Client, admin: Any, soporte: Area) -> None:
    response = post(admin_client, "/api/flows", body(soporte))

    assert response.status_code == 201, response.content
    flow = Flow.objects.get()
    out = response.json()
    assert out["id"] == flow.pk
    assert out["triggers"] == ["hola", "menu principal"]
    assert out["fallback_area"] == {"id": soporte.pk, "name": "Soporte"}
    assert (out["version"], out["node_count"], out["is_default"]) == (1, 8, True)
    assert out["definition"] == sample_definition(soporte.pk)
    assert flow.definition == sample_definition(soporte.pk)
    event = AuditEvent.objects.get(action="flow.created")
    assert (event.actor, event.object_id) == (admin, str(flow.pk))
    assert event.after == {
        "name": "Principal",
        "active": True,
        "is_default": True,
        "triggers": ["hola", "menu principal"],
        "fallback_area_id": soporte.pk,
        "version": 1,
        "nodes": 8,
    }


def test_it_drops_keys_the_document_does_not_know(admin_client: Client, soporte: Area) -> None:
    definition = sample_definition(soporte.pk)
    definition["nodes"][0]["collapsed"] = True
    definition["zoom"] = 2
    response = post(admin_client, "/api/flows", body(soporte, definition=definition))
    assert response.status_code == 201
    assert "zoom" not in Flow.objects.get().definition
    assert "collapsed" not in Flow.objects.get().definition["nodes"][0]


def test_it_names_the_node_of_an_invalid_flow(admin_client: Client, soporte: Area) -> None:
    definition = sample_definition(soporte.pk)
    definition["nodes"][1]["area_id"] = None  # tecnico
    definition["nodes"][3]["children"] = []  # planes (fibra, radio and gracias now orphans)
    response = post(admin_client, "/api/flows", body(soporte, definition=definition))

    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "invalid_flow"
    assert set(error["fields"]) == {
        "nodes.tecnico",
        "nodes.planes",
        "nodes.fibra",
        "nodes.radio",
        "nodes.gracias",
    }
    assert "área" in error["fields"]["nodes.tecnico"]  # the API speaks es-AR by default
    assert not Flow.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"fallback_area_id": 999}, "fallback_area_id"),
        ({"active": False, "is_default": True}, "is_default"),
        ({"triggers": ["menu"]}, "triggers"),
        ({"definition": {"root": "x", "nodes": []}}, "nodes"),
        ({"definition": {"root": "x", "nodes": [{"id": "a", "type": "end", "text": "y"}]}}, "root"),
    ],
)
def test_it_names_the_bad_field_of_a_flow(
    admin_client: Client, soporte: Area, fields: dict[str, Any], field: str
) -> None:
    response = post(admin_client, "/api/flows", body(soporte, **fields))
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_flow"
    assert field in response.json()["fields"]


@pytest.mark.parametrize(
    "definition",
    [
        None,
        "text",
        {"nodes": []},
        {"root": "a", "nodes": [{"id": "a", "type": "teleport", "text": "x"}]},
        {"root": "a", "nodes": [{"id": 3, "type": "end"}]},
        {"root": "a", "nodes": [{"id": "a", "type": "end", "option": "uno"}]},
        {"root": "a", "nodes": [{"id": "a", "type": "end", "option": 2**40}]},
        {"root": "a", "nodes": [{"id": "a", "type": "end", "text": "nul\x00"}]},
        {"root": "a", "nodes": [{"id": "a", "type": "end", "text": "x" * 20_001}]},
    ],
)
def test_it_refuses_a_document_of_the_wrong_shape(
    admin_client: Client, soporte: Area, definition: Any
) -> None:
    response = post(admin_client, "/api/flows", body(soporte, definition=definition))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert any(name.startswith("definition") for name in response.json()["fields"])


def test_it_refuses_a_name_already_taken(admin_client: Client, soporte: Area) -> None:
    make_flow(soporte, name="Principal", triggers=[])
    response = post(admin_client, "/api/flows", body(soporte, name="principal "))
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_name"
    assert Flow.objects.count() == 1


def test_it_refuses_a_trigger_of_another_active_flow(admin_client: Client, soporte: Area) -> None:
    make_flow(soporte, name="Ventas", triggers=["planes", "hola"])
    response = post(admin_client, "/api/flows", body(soporte, triggers=["HOLA"]))
    assert response.status_code == 422
    assert "Ventas" in response.json()["fields"]["triggers"]


def test_an_inactive_flow_may_share_a_trigger(admin_client: Client, soporte: Area) -> None:
    make_flow(soporte, name="Ventas", triggers=["hola"], active=False)
    assert post(admin_client, "/api/flows", body(soporte)).status_code == 201
    inactive = post(
        admin_client, "/api/flows", body(soporte, name="Otro", active=False, is_default=False)
    )
    assert inactive.status_code == 201


def test_a_new_default_flow_takes_the_flag_from_the_old_one(
    admin_client: Client, soporte: Area
) -> None:
    old = make_flow(soporte, name="Viejo", triggers=[], is_default=True)
    response = post(admin_client, "/api/flows", body(soporte))
    assert response.status_code == 201
    old.refresh_from_db()
    assert not old.is_default
    assert list(Flow.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "Principal"
    ]


# Changing and deleting ----------------------------------------------------------------------


def test_it_lets_an_admin_replace_a_flow_and_bumps_its_version(
    admin_client: Client, soporte: Area
) -> None:
    flow = make_flow(soporte)
    definition = deepcopy(sample_definition(soporte.pk))
    definition["nodes"][0]["text"] = "¡Buenas!"
    response = put(admin_client, f"/api/flows/{flow.pk}", body(soporte, definition=definition))

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    flow.refresh_from_db()
    assert flow.definition["nodes"][0]["text"] == "¡Buenas!"
    again = put(admin_client, f"/api/flows/{flow.pk}", body(soporte, definition=definition))
    assert again.json()["version"] == 3
    events = AuditEvent.objects.filter(action="flow.updated").order_by("pk")
    versions = [((e.before or {})["version"], (e.after or {})["version"]) for e in events]
    assert versions == [(1, 2), (2, 3)]


def test_a_flow_keeps_its_own_triggers_and_name(admin_client: Client, soporte: Area) -> None:
    flow = make_flow(soporte, triggers=["hola"])
    response = put(admin_client, f"/api/flows/{flow.pk}", body(soporte, triggers=["hola"]))
    assert response.status_code == 200, response.content


def test_it_refuses_a_save_over_a_newer_version(admin_client: Client, soporte: Area) -> None:
    flow = make_flow(soporte, version=4)
    response = put(admin_client, f"/api/flows/{flow.pk}", body(soporte, version=3))
    assert response.status_code == 409
    assert response.json()["code"] == "version_conflict"
    assert put(admin_client, f"/api/flows/{flow.pk}", body(soporte, version=4)).status_code == 200


def test_it_lets_an_admin_delete_a_flow(admin_client: Client, admin: Any, soporte: Area) -> None:
    flow = make_flow(soporte)
    response = admin_client.delete(f"/api/flows/{flow.pk}")
    assert response.status_code == 204
    assert not Flow.objects.exists()
    event = AuditEvent.objects.get(action="flow.deleted")
    assert (event.actor, event.object_id, (event.before or {})["name"]) == (
        admin,
        str(flow.pk),
        "Principal",
    )


@pytest.mark.parametrize("method", ["get", "put", "delete"])
@pytest.mark.parametrize("flow_id", [999, 2**40])
def test_an_unknown_flow_is_not_found(
    admin_client: Client, soporte: Area, method: str, flow_id: int
) -> None:
    path = f"/api/flows/{flow_id}"
    if method == "put":
        response = put(admin_client, path, body(soporte))
    else:
        response = getattr(admin_client, method)(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# Reading and permissions --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_client", "supervisor_client", "operator_client"])
def test_staff_read_flows(who: str, request: pytest.FixtureRequest, soporte: Area) -> None:
    client = request.getfixturevalue(who)
    flow = make_flow(soporte, fallback_area=soporte)
    listed = client.get("/api/flows")
    assert listed.status_code == 200
    assert [row["name"] for row in listed.json()] == ["Principal"]
    assert "definition" not in listed.json()[0]
    assert listed.json()[0]["node_count"] == 8
    detail = client.get(f"/api/flows/{flow.pk}")
    assert detail.status_code == 200
    assert detail.json()["definition"] == sample_definition(soporte.pk)


def test_it_lists_flows_in_a_fixed_number_of_queries(
    admin_client: Client, soporte: Area, django_assert_max_num_queries: Any
) -> None:
    for index in range(20):
        make_flow(soporte, name=f"Flujo {index:02}", triggers=[], fallback_area=soporte)
    with django_assert_max_num_queries(3):
        assert len(admin_client.get("/api/flows").json()) == 20


def test_anonymous_people_cannot_read_flows(client: Client, soporte: Area) -> None:
    flow = make_flow(soporte)
    assert client.get("/api/flows").status_code == 401
    assert client.get(f"/api/flows/{flow.pk}").status_code == 401


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client", "outsider_client"])
def test_only_admins_change_flows(who: str, request: pytest.FixtureRequest, soporte: Area) -> None:
    client = request.getfixturevalue(who)
    flow = make_flow(soporte)
    responses = [
        post(client, "/api/flows", body(soporte, name="Otro", triggers=[])),
        put(client, f"/api/flows/{flow.pk}", body(soporte)),
        client.delete(f"/api/flows/{flow.pk}"),
        post(client, "/api/flows/simulate", {"definition": flow.definition, "text": "hola"}),
    ]
    assert [response.status_code for response in responses] == [403] * 4
    assert {response.json()["code"] for response in responses} == {"permission_denied"}
    assert Flow.objects.count() == 1
    assert Flow.objects.get().version == 1


# What a save means to the bot ---------------------------------------------------------------


def test_the_bot_loads_only_active_flows_and_the_default(
    admin_client: Client, soporte: Area
) -> None:
    post(admin_client, "/api/flows", body(soporte))
    post(admin_client, "/api/flows", body(soporte, name="Apagado", active=False, is_default=False))
    flows = load_flows()
    (flow,) = flows.flows.values()
    assert flows.default_id == flow.flow_id
    assert (flow.name, flow.triggers, flow.fallback_area_id) == (
        "Principal",
        ("hola", "menu principal"),
        soporte.pk,
    )
    assert flow.nodes["tecnico"].area_id == soporte.pk


def test_the_bot_skips_a_flow_stored_broken(soporte: Area) -> None:
    Flow.objects.create(name="Roto", definition={"nodes": "no"}, is_default=True)
    good = make_flow(soporte)
    flows = load_flows()
    assert list(flows.flows) == [good.pk]
    assert flows.default_id is None


def test_it_tells_supervisors_after_a_save_commits(
    admin: Any, soporte: Area, django_capture_on_commit_callbacks: Any
) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from ispdesk.conversations.flows.actions import FlowChanges, do_delete_flow, do_save_flow
    from ispdesk.conversations.flows.schema import FlowDocument

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("role.supervisor", channel)
    try:
        changes = FlowChanges(
            name="Principal", definition=FlowDocument.model_validate(sample_definition(soporte.pk))
        )
        with django_capture_on_commit_callbacks(execute=True):
            flow = do_save_flow(admin, None, changes)
        event = async_to_sync(layer.receive)(channel)["event"]
        flow_id = flow.pk
        assert event == {"type": "flow:update", "flow": flow_id, "version": 1}
        with django_capture_on_commit_callbacks(execute=True):
            do_delete_flow(admin, flow)
        event = async_to_sync(layer.receive)(channel)["event"]
        assert event == {"type": "flow:update", "flow": flow_id, "deleted": True}
    finally:
        async_to_sync(layer.group_discard)("role.supervisor", channel)
