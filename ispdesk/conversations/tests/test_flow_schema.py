"""The rules a flow document must follow to be saved, each error naming its node."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from copy import deepcopy
from typing import Any

import pytest
from django.utils import translation

from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.flows.schema import (
    MAX_DEPTH,
    MAX_NODES,
    FlowDocument,
    FlowError,
    clean_triggers,
    errors_as_fields,
    validate_document,
)

AREA = 3
Change = Callable[[dict[str, Any]], None]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def errors_of(definition: dict[str, Any], areas: set[int] | None = None) -> dict[str, str]:
    document = FlowDocument.model_validate(definition)
    return errors_as_fields(validate_document(document, {AREA} if areas is None else areas))


def changed(change: Change) -> dict[str, Any]:
    definition = deepcopy(sample_definition(AREA))
    change(definition)
    return definition


def find(definition: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(node for node in definition["nodes"] if node["id"] == node_id)


def setter(node_id: str, **fields: Any) -> Change:
    return lambda definition: find(definition, node_id).update(fields)


def add(*nodes: dict[str, Any], under: str | None = None) -> Change:
    def change(definition: dict[str, Any]) -> None:
        definition["nodes"].extend(nodes)
        if under is not None:
            find(definition, under)["children"].extend(node["id"] for node in nodes)

    return change


def node(node_id: str, kind: str = "end", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "text": "Hola", "label": node_id, "option": 9, **fields}


def test_the_sample_flow_is_valid() -> None:
    assert errors_of(sample_definition(AREA)) == {}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.update(root="nada"), "root", "The root must name one of the nodes."),
        (lambda d: d.update(root=""), "root", "The root must name one of the nodes."),
        (add(node("chau", "end")), "nodes.chau", "Two nodes have this id."),
        (
            add(node("Con Mayúsculas"), under="inicio"),
            "nodes.Con Mayúsculas",
            "A node id is 1 to 40",
        ),
        (add(node("x" * 41), under="inicio"), f"nodes.{'x' * 41}", "A node id is 1 to 40"),
        (
            setter("planes", children=["fibra", "radio", "fantasma"]),
            "nodes.planes",
            "“fantasma” does not exist",
        ),
        (
            setter("planes", children=["fibra", "radio", "chau"]),
            "nodes.chau",
            "child of both inicio and planes",
        ),
        (
            setter("planes", children=["fibra", "radio", "inicio"]),
            "nodes.inicio",
            "The root cannot be an option of planes",
        ),
        (add(node("suelto")), "nodes.suelto", "cannot be reached from the root"),
        (
            add(
                node("a", "message", children=["b"]),
                node("b", "message", children=["a"]),
            ),
            "nodes.a",
            "part of a loop",
        ),
        (setter("planes", children=[]), "nodes.planes", "A menu needs at least one option."),
        (setter("planes", text="  "), "nodes.planes", "Write the text this node sends."),
        (setter("horarios", text=""), "nodes.horarios", "Write the text this node sends."),
        (setter("chau", text=""), "nodes.chau", "Write the text this node sends."),
        (setter("horarios", text="x" * 4097), "nodes.horarios", "longer than 4096"),
        (setter("horarios", label="x" * 101), "nodes.horarios", "The label is longer than 100"),
        (setter("tecnico", area_id=None), "nodes.tecnico", "Choose the area"),
        (setter("tecnico", area_id=99), "nodes.tecnico", "unknown or inactive"),
        (setter("chau", option=2), "nodes.chau", "Option 2 is taken by horarios"),
        (setter("chau", option=0), "nodes.chau", "from 1 up"),
        (setter("chau", option=None), "nodes.chau", "from 1 up"),
        (setter("chau", label=" "), "nodes.chau", "Write the label shown in the menu."),
        (setter("chau", keywords=["Internét"]), "nodes.chau", "“Internét” is also used by tecnico"),
        (setter("chau", keywords=["menu"]), "nodes.chau", "cannot be a keyword"),
        (setter("chau", keywords=["7"]), "nodes.chau", "cannot be a keyword"),
        (setter("chau", keywords=["x" * 41]), "nodes.chau", "1 to 40 characters"),
        (
            setter("chau", keywords=[f"k{i}" for i in range(21)]),
            "nodes.chau",
            "at most 20 keywords",
        ),
        (setter("horarios", children=["x1", "x2"]), "nodes.horarios", "one node only"),
        (
            add(node("x1", "end"), node("x2", "end"), under="horarios"),
            "nodes.horarios",
            "A message continues to one node only.",
        ),
        (add(node("extra", "end"), under="chau"), "nodes.chau", "cannot have children"),
        (add(node("extra", "end"), under="tecnico"), "nodes.tecnico", "cannot have children"),
        (
            setter("planes", text="x" * 4090),
            "nodes.planes",
            "The menu with its options is longer than 4096",
        ),
    ],
)
def test_it_names_the_node_that_breaks_a_rule(change: Change, field: str, message: str) -> None:
    errors = errors_of(changed(change))
    assert field in errors, errors
    assert message in errors[field]


def test_an_inactive_area_is_refused() -> None:
    assert "nodes.tecnico" in errors_of(sample_definition(AREA), areas={4})


def test_a_redirect_may_send_no_text() -> None:
    assert errors_of(changed(setter("tecnico", text=""))) == {}


def test_options_of_different_menus_may_share_numbers_and_keywords() -> None:
    definition = changed(setter("fibra", keywords=["internet"]))
    assert errors_of(definition) == {}


def test_it_refuses_more_than_the_node_limit() -> None:
    extra = [node(f"n{i}", "end", option=i + 5) for i in range(MAX_NODES)]
    errors = errors_of(changed(add(*extra, under="inicio")))
    assert errors == {"nodes": "A flow has at most 200 nodes."}


def test_it_refuses_an_empty_flow() -> None:
    assert errors_of({"root": "a", "nodes": []}) == {"nodes": "A flow needs at least one node."}


def test_it_refuses_a_tree_deeper_than_the_limit() -> None:
    chain = [
        {"id": f"d{i}", "type": "message", "text": "x", "children": [f"d{i + 1}"]}
        for i in range(MAX_DEPTH + 1)
    ]
    chain.append({"id": f"d{MAX_DEPTH + 1}", "type": "end", "text": "fin"})
    errors = errors_of({"root": "d0", "nodes": chain})
    assert list(errors) == [f"nodes.d{MAX_DEPTH + 1}"]
    assert "more than 10 levels" in errors[f"nodes.d{MAX_DEPTH + 1}"]
    chain.pop(0)
    assert errors_of({"root": "d1", "nodes": chain}) == {}


def test_several_problems_of_one_node_are_all_reported() -> None:
    errors = errors_of(changed(setter("chau", text="", label="", option=None)))
    assert "Write the text" in errors["nodes.chau"]
    assert "Write the label" in errors["nodes.chau"]
    assert "from 1 up" in errors["nodes.chau"]


# Triggers -----------------------------------------------------------------------------------


def test_it_cleans_triggers() -> None:
    cleaned, errors = clean_triggers([" Factura ", "factura", "FACTURÁ", "", "  ", "Pago"], {})
    assert cleaned == ["factura", "pago"]
    assert errors == []


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("soporte", "The trigger “soporte” already starts the flow Técnico."),
        ("Sopórte", "already starts the flow Técnico"),
        ("menu", "cannot be a trigger"),
        ("0", "cannot be a trigger"),
        ("12", "cannot be a trigger"),
        ("x" * 41, "at most 40 characters"),
    ],
)
def test_it_refuses_a_bad_trigger(trigger: str, message: str) -> None:
    _cleaned, errors = clean_triggers([trigger], {"soporte": "Técnico"})
    assert len(errors) == 1
    assert errors[0].field == "triggers"
    assert message in errors[0].message


def test_it_refuses_too_many_triggers() -> None:
    _cleaned, errors = clean_triggers([f"t{i}" for i in range(51)], {})
    assert errors == [FlowError("triggers", "A flow has at most 50 triggers.")]
