"""The bot's step function, rule by rule: no database, many cases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from django.utils import translation

from ispdesk.conversations.flows.engine import (
    MAX_CHAIN,
    Close,
    FlowGraph,
    FlowSet,
    FlowState,
    Handoff,
    Redirect,
    Step,
    menu_text,
    normalize,
    start,
    step,
)
from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.flows.schema import FlowDocument, to_graph

SOPORTE, FACTURACION, FALLBACK = 3, 5, 7
MAIN_MENU = "¡Hola! Elegí una opción:\n1. Soporte técnico\n2. Horarios\n3. Planes\n4. Nada más"
PLANS_MENU = "¿Qué plan te interesa?\n1. Fibra\n2. Radio"
PAYMENTS_MENU = "¿Qué necesitás?\n1. Pagar\n2. Reclamar"
HINT = "Sorry, I didn't get that. Reply with the number of an option."


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def graph(definition: dict[str, Any], flow_id: int = 1, **fields: Any) -> FlowGraph:
    return to_graph(
        FlowDocument.model_validate(definition),
        flow_id=flow_id,
        name=fields.pop("name", f"Flow {flow_id}"),
        **fields,
    )


def node(node_id: str, kind: str, text: str = "", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "text": text, **fields}


MAIN = graph(sample_definition(SOPORTE), 1, version=4, triggers=("hola",), name="Principal")
BILLING = graph(
    {
        "root": "bienvenida",
        "nodes": [
            node("bienvenida", "message", "Facturación", children=["pagos"]),
            node("pagos", "menu", "¿Qué necesitás?", children=["pagar", "reclamo"]),
            node("pagar", "redirect", "", label="Pagar", option=1, area_id=FACTURACION),
            node("reclamo", "end", "Escribí tu reclamo.", label="Reclamar", option=2),
        ],
    },
    2,
    triggers=("factura", "Pagó"),
    fallback_area_id=FALLBACK,
)
FLOWS = FlowSet(flows={1: MAIN, 2: BILLING}, default_id=1)
NO_DEFAULT = FlowSet(flows={1: MAIN, 2: BILLING}, default_id=None)


def at(node_id: str, flow: FlowGraph = MAIN, failures: int = 0) -> FlowState:
    return FlowState(flow.flow_id, node_id, failures, flow.version)


# A new chat ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flows", "text", "expected"),
    [
        (FLOWS, "hola", Step((MAIN_MENU,), at("inicio"))),
        (FLOWS, "buenas tardes", Step((MAIN_MENU,), at("inicio"))),
        (FLOWS, "", Step((MAIN_MENU,), at("inicio"))),
        (FLOWS, "  FACTURA ", Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING))),
        (FLOWS, "pago", Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING))),
        (NO_DEFAULT, "factura", Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING))),
        (NO_DEFAULT, "hola", Step((MAIN_MENU,), at("inicio"))),
        (NO_DEFAULT, "buenas", None),
        (FlowSet(), "hola", None),
    ],
    ids=[
        "a greeting starts the default flow",
        "any text starts the default flow",
        "an empty text starts the default flow",
        "a trigger starts its flow whatever its case and spaces",
        "a trigger matches without accents",
        "a trigger works without a default flow",
        "the default flow has triggers too",
        "no trigger and no default flow: no bot",
        "no flows at all: no bot",
    ],
)
def test_it_starts_a_new_chat(flows: FlowSet, text: str, expected: Step | None) -> None:
    assert start(flows, text) == expected
    assert step(flows, None, text) == expected


# Answers at a menu --------------------------------------------------------------------------

REDIRECTED = Step(
    ("Te paso con Soporte.",),
    None,
    (Redirect(SOPORTE, "Bot flow Principal: Soporte técnico"),),
)


@pytest.mark.parametrize(
    ("state", "text", "expected"),
    [
        (at("inicio"), "1", REDIRECTED),
        (at("inicio"), " 1 ", REDIRECTED),
        (at("inicio"), "internet", REDIRECTED),
        (at("inicio"), "INTERNET", REDIRECTED),
        (at("inicio"), "Soporté", REDIRECTED),
        (at("inicio", failures=2), "1", REDIRECTED),
        (at("inicio"), "2", Step(("Atendemos de 8 a 20.",), None)),
        (at("inicio"), "3", Step((PLANS_MENU,), at("planes"))),
        (at("inicio"), "planes", Step((PLANS_MENU,), at("planes"))),
        (
            at("inicio"),
            "4",
            Step(("¡Gracias!",), None, (Close("Bot flow Principal ended"),)),
        ),
        (
            at("inicio"),
            "Chau",
            Step(("¡Gracias!",), None, (Close("Bot flow Principal ended"),)),
        ),
        (
            at("planes"),
            "1",
            Step(
                ("Fibra 300 MB: $20.000.", "¡Gracias por escribirnos!"),
                None,
                (Close("Bot flow Principal ended"),),
            ),
        ),
        (at("planes"), "2", Step(("Radio 20 MB: $12.000.",), None)),
        (
            at("pagos", BILLING),
            "1",
            Step((), None, (Redirect(FACTURACION, "Bot flow Flow 2: Pagar"),)),
        ),
    ],
    ids=[
        "the number of an option enters it",
        "spaces around a number do not matter",
        "a keyword of an option enters it",
        "keywords ignore case",
        "keywords ignore accents",
        "a good answer after failures is still good",
        "a leaf message ends the bot's turn",
        "a sub-menu waits for its own answer",
        "a keyword enters a sub-menu",
        "an end node closes the chat",
        "an end node's keyword closes the chat",
        "a message goes on through its child to the end",
        "a message without a child ends the turn",
        "a redirect without text sends nothing and redirects",
    ],
)
def test_it_follows_an_answer(state: FlowState, text: str, expected: Step) -> None:
    assert step(FLOWS, state, text) == expected


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (at("planes"), "0"),
        (at("planes"), "menu"),
        (at("planes"), " Menú "),
        (at("planes", failures=2), "0"),
        (at("inicio", failures=1), "MENU"),
    ],
)
def test_it_goes_back_to_the_root_and_forgets_failures(state: FlowState, text: str) -> None:
    assert step(FLOWS, state, text) == Step((MAIN_MENU,), at("inicio"))


def test_zero_restarts_the_flow_the_chat_is_in_not_the_default() -> None:
    assert step(FLOWS, at("pagos", BILLING), "0") == Step(
        ("Facturación", PAYMENTS_MENU), at("pagos", BILLING)
    )


@pytest.mark.parametrize(
    ("state", "text", "expected"),
    [
        (at("planes"), "factura", Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING))),
        (at("pagos", BILLING, failures=2), "hola", Step((MAIN_MENU,), at("inicio"))),
        (
            at("pagos", BILLING),
            "Factura",
            Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING)),
        ),
    ],
    ids=[
        "a trigger mid-flow switches flows",
        "a trigger resets failures",
        "the trigger of the current flow restarts it",
    ],
)
def test_a_trigger_restarts_its_flow_from_anywhere(
    state: FlowState, text: str, expected: Step
) -> None:
    assert step(FLOWS, state, text) == expected


# Answers the bot does not understand --------------------------------------------------------


@pytest.mark.parametrize("text", ["9", "5", "-1", "1.", "uno", "", "soporte técnico"])
def test_it_repeats_the_menu_with_a_hint(text: str) -> None:
    assert step(FLOWS, at("inicio"), text) == Step(
        (f"{HINT}\n\n{MAIN_MENU}",), at("inicio", failures=1)
    )


def test_it_counts_failures_at_a_sub_menu() -> None:
    assert step(FLOWS, at("planes", failures=1), "nada") == Step(
        (f"{HINT}\n\n{PLANS_MENU}",), at("planes", failures=2)
    )


@pytest.mark.parametrize(
    ("state", "area"),
    [(at("inicio", failures=2), None), (at("pagos", BILLING, failures=2), FALLBACK)],
    ids=["no fallback area: the general queue", "the flow's fallback area"],
)
def test_the_third_failure_hands_the_chat_to_a_person(state: FlowState, area: int | None) -> None:
    result = step(FLOWS, state, "???")
    assert result is not None
    assert result.replies == ("I'll pass you to a person who will help you shortly.",)
    assert result.state is None
    assert result.effects == (Handoff(area, "No valid answer to the bot after 3 tries"),)


def test_a_stored_failure_count_above_the_limit_still_hands_off() -> None:
    result = step(FLOWS, at("inicio", failures=7), "???")
    assert result is not None and isinstance(result.effects[0], Handoff)


# Stale states -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "text", "expected"),
    [
        (FlowState(1, "inicio", 0, version=3), "1", Step((MAIN_MENU,), at("inicio"))),
        (FlowState(1, "planes", 2, version=99), "2", Step((MAIN_MENU,), at("inicio"))),
        (at("borrado"), "1", Step((MAIN_MENU,), at("inicio"))),
        (at("horarios"), "1", Step((MAIN_MENU,), at("inicio"))),
        (
            FlowState(2, "inicio", 0, BILLING.version),
            "1",
            Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING)),
        ),
        (FlowState(99, "pagos", 1, 1), "1", Step((MAIN_MENU,), at("inicio"))),
        (
            FlowState(99, "pagos", 1, 1),
            "factura",
            Step(("Facturación", PAYMENTS_MENU), at("pagos", BILLING)),
        ),
    ],
    ids=[
        "the flow changed: restart its root, ignoring the answer",
        "the flow changed: failures reset",
        "the node is gone: restart the flow",
        "the node is not a menu: restart the flow",
        "a node of another flow: restart the flow named",
        "the flow is gone: the default flow",
        "the flow is gone: a trigger still works",
    ],
)
def test_it_restarts_when_the_state_no_longer_fits(
    state: FlowState, text: str, expected: Step
) -> None:
    assert step(FLOWS, state, text) == expected


def test_a_deleted_flow_without_a_default_means_no_bot() -> None:
    assert step(NO_DEFAULT, FlowState(99, "x"), "hola") is not None  # a trigger still works
    assert step(NO_DEFAULT, FlowState(99, "x"), "buenas") is None


# Bad documents never hang the bot -----------------------------------------------------------


def test_a_message_chain_is_sent_in_order_until_the_menu() -> None:
    flow = graph(
        {
            "root": "a",
            "nodes": [
                node("a", "message", "uno", children=["b"]),
                node("b", "message", "dos", children=["c"]),
                node("c", "menu", "tres", children=["d"]),
                node("d", "end", "fin", label="Salir", option=1),
            ],
        }
    )
    result = start(FlowSet({1: flow}, 1), "hola")
    assert result == Step(("uno", "dos", "tres\n1. Salir"), FlowState(1, "c", 0, 1))


def test_a_cycle_of_messages_ends_the_turn() -> None:
    flow = graph(
        {
            "root": "a",
            "nodes": [
                node("a", "message", "uno", children=["b"]),
                node("b", "message", "dos", children=["a"]),
            ],
        }
    )
    result = start(FlowSet({1: flow}, 1), "hola")
    assert result is not None
    assert (result.replies, result.state) == (("uno", "dos"), None)
    # Nothing in it can lead anywhere: a person takes over after the greeting.
    assert only_handoff(result)


def test_a_chain_longer_than_the_limit_is_cut() -> None:
    count = MAX_CHAIN + 15
    nodes = [
        node(f"n{i}", "message", f"m{i}", children=[f"n{i + 1}"] if i + 1 < count else [])
        for i in range(count)
    ]
    result = start(FlowSet({1: graph({"root": "n0", "nodes": nodes})}, 1), "hola")
    assert result is not None
    assert result.replies == tuple(f"m{i}" for i in range(MAX_CHAIN))
    assert result.state is None


def test_a_missing_root_or_child_sends_nothing() -> None:
    missing_root = graph({"root": "nada", "nodes": [node("a", "message", "uno")]})
    result = start(FlowSet({1: missing_root}, 1), "hola")
    assert result is not None and result.replies == () and only_handoff(result)
    dangling = graph({"root": "a", "nodes": [node("a", "message", "uno", children=["x"])]})
    result = start(FlowSet({1: dangling}, 1), "hola")
    assert result is not None and result.replies == ("uno",) and only_handoff(result)


def only_handoff(result: Step) -> bool:
    return (
        result.state is None
        and len(result.effects) == 1
        and isinstance(result.effects[0], Handoff)
        and result.effects[0].area_id is None
    )


def test_a_greeting_only_flow_hands_the_chat_to_its_fallback_area() -> None:
    flow = graph({"root": "a", "nodes": [node("a", "message", "¡Hola! Ya te atendemos.")]})
    flow = replace(flow, fallback_area_id=7)
    result = start(FlowSet({1: flow}, 1), "hola")
    assert result is not None
    assert result.replies == ("¡Hola! Ya te atendemos.",)
    assert result.effects == (Handoff(7, result.effects[0].reason),)


def test_a_menu_skips_options_that_do_not_exist_and_shows_unnumbered_ones() -> None:
    flow = graph(
        {
            "root": "m",
            "nodes": [
                node("m", "menu", "Elegí", children=["x", "a", "b"]),
                node("a", "end", "fin", label="Salir", option=1),
                node("b", "end", "chau"),
            ],
        }
    )
    assert menu_text(flow, flow.nodes["m"]) == "Elegí\n1. Salir\nchau"
    assert step(FlowSet({1: flow}, 1), FlowState(1, "m"), "1") == Step(
        ("fin",), None, (Close("Bot flow Flow 1 ended"),)
    )


def test_a_menu_without_options_fails_to_a_person() -> None:
    flow = graph({"root": "m", "nodes": [node("m", "menu", "Elegí")]})
    flows = FlowSet({1: flow}, 1)
    state: FlowState | None = FlowState(1, "m")
    effects: tuple[object, ...] = ()
    for _ in range(3):
        assert state is not None
        result = step(flows, state, "1")
        assert result is not None
        state, effects = result.state, result.effects
    assert state is None
    assert isinstance(effects[0], Handoff)


# Small pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Menú ", "menu"), ("SOPORTE", "soporte"), ("ñandú", "nandu"), ("Pagó\n", "pago")],
)
def test_it_compares_answers_without_case_accents_or_spaces(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_a_state_survives_its_json() -> None:
    state = FlowState(4, "planes", 2, 9)
    assert FlowState.from_json(state.as_json()) == state


@pytest.mark.parametrize("data", [{}, {"flow": "x", "node": "a"}, {"node": "a"}, {"flow": None}])
def test_a_broken_state_reads_as_none(data: dict[str, Any]) -> None:
    assert FlowState.from_json(data) is None
