"""Properties of the bot over generated flows and conversations."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from ispdesk.conversations.flows.engine import (
    MAX_CHAIN,
    MAX_FAILURES,
    FlowSet,
    FlowState,
    Handoff,
    start,
    step,
)
from ispdesk.conversations.flows.samples import sample_definition
from ispdesk.conversations.flows.schema import FlowDocument, to_graph, validate_document

AREA = 1
KINDS = ("message", "menu", "redirect", "end")

# Customer answers: option numbers, the special words, keywords and noise.
answers = st.one_of(
    st.integers(min_value=-2, max_value=12).map(str),
    st.sampled_from(["0", "menu", "Menú", "hola", "factura", "internet", "opcion", "  2 "]),
    st.text(max_size=30),
)


@st.composite
def documents(draw: Any, *, valid: bool) -> dict[str, Any]:
    """A flow document. `valid`: a tree that passes validation; otherwise any wiring at all
    (cycles, dangling children, repeated ids, menus without options)."""
    count = draw(st.integers(min_value=1, max_value=14))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(count)]
    ids = [f"n{index}" for index in range(count)]
    children: list[list[str]] = [[] for _ in range(count)]
    if valid:
        kinds[0] = "menu" if count > 1 else "end"
        for index in range(1, count):
            takers = [
                parent
                for parent in range(index)
                if kinds[parent] == "menu" or (kinds[parent] == "message" and not children[parent])
            ]
            assume(takers)
            children[draw(st.sampled_from(takers))].append(ids[index])
        for index in range(count):
            if kinds[index] == "menu" and not children[index]:
                kinds[index] = "end"
    else:
        for index in range(count):
            children[index] = draw(st.lists(st.sampled_from([*ids, "ghost"]), max_size=4))
    nodes = []
    options: dict[str, int] = {}
    for index in range(count):
        for position, child in enumerate(children[index]):
            options.setdefault(child, position + 1)
    for index in range(count):
        nodes.append(
            {
                "id": ids[index],
                "type": kinds[index],
                "text": f"texto {index}",
                "label": f"opción {index}",
                "option": options.get(ids[index], 1),
                "keywords": [f"clave{index}"],
                "area_id": AREA,
                "children": children[index],
            }
        )
    return {"root": draw(st.sampled_from(ids)) if not valid else ids[0], "nodes": nodes}


def flow_set(definition: dict[str, Any]) -> FlowSet:
    graph = to_graph(
        FlowDocument.model_validate(definition),
        flow_id=1,
        name="Generada",
        triggers=("factura",),
        fallback_area_id=AREA,
    )
    return FlowSet({1: graph}, default_id=1)


def check(result: Any, flows: FlowSet) -> None:
    assert result is not None
    assert len(result.replies) <= MAX_CHAIN
    assert all(isinstance(reply, str) for reply in result.replies)
    if result.state is not None:
        assert 0 <= result.state.failures < MAX_FAILURES
        flow = flows.flows[result.state.flow_id]
        assert flow.nodes[result.state.node_id].kind == "menu"
        assert not result.effects
    assert len(result.effects) <= 1


@given(documents(valid=False), st.text(max_size=50), st.text(max_size=50), st.integers(0, 9))
def test_the_bot_never_fails_on_any_document_state_or_text(
    definition: dict[str, Any], node: str, text: str, failures: int
) -> None:
    flows = flow_set(definition)
    check(start(flows, text), flows)
    for flow_id in (1, 2):
        check(step(flows, FlowState(flow_id, node, failures, 1), text), flows)


@given(documents(valid=True), st.lists(answers, max_size=12))
def test_any_conversation_with_a_valid_flow_waits_at_a_menu_or_is_done(
    definition: dict[str, Any], texts: list[str]
) -> None:
    # The generator builds trees; only a rare chain deeper than the limit is refused.
    assume(validate_document(FlowDocument.model_validate(definition), {AREA}) == [])
    flows = flow_set(definition)
    state: FlowState | None = None
    failures_in_a_row = 0
    for text in texts:
        result = step(flows, state, text)
        check(result, flows)
        assert result is not None
        if result.state is not None:
            failures_in_a_row = result.state.failures
        assert failures_in_a_row < MAX_FAILURES or any(
            isinstance(effect, Handoff) for effect in result.effects
        )
        state = result.state


@given(st.lists(answers, min_size=1, max_size=20))
def test_the_sample_flow_answers_every_message(texts: list[str]) -> None:
    flows = flow_set(sample_definition(AREA))
    state: FlowState | None = None
    for text in texts:
        result = step(flows, state, text)
        check(result, flows)
        assert result is not None
        # A conversation with the bot always hears something back or moves on.
        assert result.replies or result.effects
        state = result.state
