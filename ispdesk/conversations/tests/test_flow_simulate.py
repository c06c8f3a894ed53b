"""The builder's "Try it": POST /api/flows/simulate plays an unsaved document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area
from ispdesk.operators.tests.conftest import post
from ispdesk.system.models import AuditEvent

PATH = "/api/flows/simulate"
MAIN_MENU = "¡Hola! Elegí una opción:\n1. Soporte técnico\n2. Horarios\n3. Planes\n4. Nada más"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def soporte(db: Any) -> Area:
    return Area.objects.create(name="Soporte")


def simulate(client: Client, definition: dict[str, Any], text: str, **fields: Any) -> Any:
    response = post(client, PATH, {"definition": definition, "text": text, **fields})
    assert response.status_code == 200, response.content
    return response.json()


def test_it_plays_a_conversation_without_storing_anything(
    admin_client: Client, soporte: Area
) -> None:
    definition = sample_definition(soporte.pk)
    first = simulate(admin_client, definition, "hola")
    assert first == {
        "replies": [MAIN_MENU],
        "state": {"flow": 0, "node": "inicio", "failures": 0, "version": 1},
        "effects": [],
        "errors": [],
    }

    second = simulate(admin_client, definition, "1", state=first["state"])
    assert second["replies"] == ["Te paso con Soporte."]
    assert second["state"] is None
    assert second["effects"] == [
        {
            "type": "redirect",
            "area_id": soporte.pk,
            "area_name": "Soporte",
            "reason": "Flujo del bot Probalo: Soporte técnico",  # the API speaks es-AR by default
        }
    ]
    assert not Flow.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_shows_a_close_and_a_handoff(admin_client: Client, soporte: Area) -> None:
    definition = sample_definition(soporte.pk)
    state = {"flow": 0, "node": "inicio", "failures": 0, "version": 1}
    closed = simulate(admin_client, definition, "chau", state=state)
    assert closed["effects"] == [
        {
            "type": "close",
            "reason": "Terminó el flujo del bot Probalo",
            "area_id": None,
            "area_name": None,
        }
    ]

    state["failures"] = 2
    handed = simulate(admin_client, definition, "???", state=state, fallback_area_id=soporte.pk)
    assert handed["effects"][0]["type"] == "handoff"
    assert (handed["effects"][0]["area_id"], handed["effects"][0]["area_name"]) == (
        soporte.pk,
        "Soporte",
    )
    to_queue = simulate(admin_client, definition, "???", state=state)
    assert (to_queue["effects"][0]["area_id"], to_queue["effects"][0]["area_name"]) == (None, None)


def test_it_plays_an_invalid_draft_and_lists_its_problems(
    admin_client: Client, soporte: Area
) -> None:
    definition = sample_definition(soporte.pk)
    definition["nodes"][1]["area_id"] = None
    definition["nodes"].append({"id": "suelto", "type": "end", "text": "x"})
    result = simulate(admin_client, definition, "internet", state={"flow": 0, "node": "inicio"})
    assert result["effects"][0]["type"] == "redirect"
    assert result["effects"][0]["area_id"] is None
    assert {error["field"] for error in result["errors"]} == {"nodes.tecnico", "nodes.suelto"}


def test_triggers_of_the_draft_restart_it(admin_client: Client, soporte: Area) -> None:
    definition = sample_definition(soporte.pk)
    state = {"flow": 0, "node": "planes", "failures": 1, "version": 1}
    result = simulate(admin_client, definition, "Ayuda", state=state, triggers=[" AYUDA "])
    assert result["replies"] == [MAIN_MENU]
    assert result["state"]["failures"] == 0


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"flow": "x"},
        {"flow": 5, "node": "nada"},
        {"flow": 0, "node": "inicio", "version": 9},
    ],
)
def test_a_state_that_does_not_fit_restarts_the_draft(
    admin_client: Client, soporte: Area, state: Any
) -> None:
    result = simulate(admin_client, sample_definition(soporte.pk), "1", state=state)
    assert result["replies"] == [MAIN_MENU]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"definition": sample_definition(1)},
        {"definition": {"root": "a"}, "text": "1"},
        {"definition": sample_definition(1), "text": "x" * 4097},
        {"definition": sample_definition(1), "text": "1", "state": "inicio"},
    ],
)
def test_it_refuses_a_bad_request(admin_client: Client, payload: dict[str, Any]) -> None:
    response = post(admin_client, PATH, payload)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
