"""The bot: a pure step function over a flow tree.

(flows, state, inbound text) → (replies, new state, effects). No ORM, no clock: the
conversation actions load the flows (`flows.loading`), call `start` for a new chat or `step`
for a chat with the bot, send the replies, store the state and apply the effects.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.utils.translation import gettext as _

NodeKind = Literal["message", "menu", "redirect", "end"]
MAX_FAILURES = 3  # invalid answers to one menu before the chat goes to a human


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    text: str = ""
    # How the node appears as an option of its parent menu.
    label: str = ""
    option: int | None = None
    keywords: tuple[str, ...] = ()
    area_id: int | None = None  # redirect target
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowGraph:
    flow_id: int
    name: str
    version: int
    root: str
    nodes: Mapping[str, Node]
    triggers: tuple[str, ...] = ()
    fallback_area_id: int | None = None


@dataclass(frozen=True)
class FlowSet:
    """The active flows: the default one for new chats and every flow by id."""

    flows: Mapping[int, FlowGraph] = field(default_factory=dict)
    default_id: int | None = None


@dataclass(frozen=True)
class FlowState:
    """Where a chat stands: waiting at `node_id` (a menu) of a flow, with failed answers."""

    flow_id: int
    node_id: str
    failures: int = 0
    version: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow_id,
            "node": self.node_id,
            "failures": self.failures,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowState | None:
        try:
            return cls(
                flow_id=int(data["flow"]),
                node_id=str(data["node"]),
                failures=int(data.get("failures", 0)),
                version=int(data.get("version", 1)),
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return None


@dataclass(frozen=True)
class Redirect:
    """Hand the chat to an area (a redirect node)."""

    area_id: int | None
    reason: str


@dataclass(frozen=True)
class Handoff:
    """Hand the chat to a human because the bot could not help (too many invalid answers);
    `area_id` is the flow's fallback area, None for the general queue."""

    area_id: int | None
    reason: str


@dataclass(frozen=True)
class Close:
    """The flow ended (an `end` node): close the conversation."""

    reason: str


Effect = Redirect | Handoff | Close


@dataclass(frozen=True)
class Step:
    replies: tuple[str, ...]
    # None: the bot is done with this chat (an effect says what happens next, or it idles).
    state: FlowState | None
    effects: tuple[Effect, ...] = ()


# Words that take the customer back to the start of the flow they are in.
BACK_WORDS = frozenset({"0", "menu"})
# Nodes walked in one turn at most: a validated flow is at most 10 levels deep, and a bad
# document (a cycle, a long message chain) must still end the turn.
MAX_CHAIN = 20


def normalize(text: str) -> str:
    """How customers' words are compared: stripped, lower-case, without accents ("Menú" and
    "menu" are the same answer)."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def menu_text(flow: FlowGraph, node: Node) -> str:
    """A menu as sent: its text, then one line per option ("1. Soporte técnico")."""
    lines = [node.text] if node.text else []
    for child_id in node.children:
        child = flow.nodes.get(child_id)
        if child is None:
            continue
        label = child.label or child.text or child.id
        lines.append(f"{child.option}. {label}" if child.option is not None else label)
    return "\n".join(lines)


def _trigger_flow(flows: FlowSet, answer: str) -> FlowGraph | None:
    # Triggers are unique among active flows when saved; the lowest id wins a stale clash.
    for flow_id in sorted(flows.flows):
        flow = flows.flows[flow_id]
        if any(normalize(trigger) == answer for trigger in flow.triggers):
            return flow
    return None


def _default_flow(flows: FlowSet) -> FlowGraph | None:
    return flows.flows.get(flows.default_id) if flows.default_id is not None else None


def _walk(flow: FlowGraph, node_id: str) -> Step:
    """Enter `node_id`: send what each node says and follow messages to their first child,
    until a menu waits, a redirect or end acts, or the chain runs out."""
    sent: list[str] = []
    seen: set[str] = set()
    current = node_id
    for _step in range(MAX_CHAIN):
        node = flow.nodes.get(current)
        if node is None or current in seen:
            break
        seen.add(current)
        if node.kind == "menu":
            sent.append(menu_text(flow, node))
            return Step(tuple(sent), FlowState(flow.flow_id, node.id, 0, flow.version))
        if node.text:
            sent.append(node.text)
        if node.kind == "redirect":
            reason = _("Bot flow %(flow)s: %(option)s") % {
                "flow": flow.name,
                "option": node.label or node.id,
            }
            return Step(tuple(sent), None, (Redirect(node.area_id, reason),))
        if node.kind == "end":
            reason = _("Bot flow %(flow)s ended") % {"flow": flow.name}
            return Step(tuple(sent), None, (Close(reason),))
        if not node.children:
            break
        current = node.children[0]
    if node_id == flow.root:
        # A flow that only greets: nothing the customer says can lead anywhere, so the
        # greeting is followed by a person rather than the same greeting on every message.
        reason = _("Bot flow %(flow)s only greets") % {"flow": flow.name}
        return Step(tuple(sent), None, (Handoff(flow.fallback_area_id, reason),))
    return Step(tuple(sent), None)


def _restart(flow: FlowGraph) -> Step:
    return _walk(flow, flow.root)


def _chosen(flow: FlowGraph, menu: Node, answer: str) -> Node | None:
    """The option of `menu` the answer names: its number, or one of its keywords."""
    for child_id in menu.children:
        child = flow.nodes.get(child_id)
        if child is None:
            continue
        if child.option is not None and answer == str(child.option):
            return child
        if any(normalize(keyword) == answer for keyword in child.keywords):
            return child
    return None


def _failed(flow: FlowGraph, menu: Node, state: FlowState) -> Step:
    failures = state.failures + 1
    if failures >= MAX_FAILURES:
        reason = _("No valid answer to the bot after %(count)s tries") % {"count": failures}
        reply = _("I'll pass you to a person who will help you shortly.")
        return Step((reply,), None, (Handoff(flow.fallback_area_id, reason),))
    hint = _("Sorry, I didn't get that. Reply with the number of an option.")
    return Step(
        (f"{hint}\n\n{menu_text(flow, menu)}",),
        FlowState(flow.flow_id, menu.id, failures, flow.version),
    )


def start(flows: FlowSet, text: str) -> Step | None:
    """A new chat: the flow a trigger keyword names, else the default flow; None = no bot."""
    flow = _trigger_flow(flows, normalize(text)) or _default_flow(flows)
    return _restart(flow) if flow is not None else None


def step(flows: FlowSet, state: FlowState | None, text: str) -> Step | None:
    """A chat with the bot answers; None when no flow applies (the chat goes to a human)."""
    if state is None:
        return start(flows, text)
    answer = normalize(text)
    flow = flows.flows.get(state.flow_id)
    if flow is None:
        # The flow was deleted or deactivated: whatever the customer said starts afresh.
        return start(flows, text)
    if answer in BACK_WORDS:
        return _restart(flow)
    triggered = _trigger_flow(flows, answer)
    if triggered is not None:
        return _restart(triggered)
    menu = flow.nodes.get(state.node_id)
    if state.version != flow.version or menu is None or menu.kind != "menu":
        # The flow changed under the chat: the answer was to a menu that may be gone.
        return _restart(flow)
    chosen = _chosen(flow, menu, answer)
    if chosen is None:
        return _failed(flow, menu, state)
    return _walk(flow, chosen.id)
