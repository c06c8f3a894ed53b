"""The bot: a pure step function over a flow tree.

(flows, state, inbound text) → (replies, new state, effects). No ORM, no clock: the
conversation actions load the flows (`flows.loading`), call `start` for a new chat or `step`
for a chat with the bot, send the replies, store the state and apply the effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
        except (KeyError, TypeError, ValueError):
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


def start(flows: FlowSet, text: str) -> Step | None:
    """A new chat: the flow a trigger keyword names, else the default flow; None = no bot."""
    raise NotImplementedError


def step(flows: FlowSet, state: FlowState | None, text: str) -> Step | None:
    """A chat with the bot answers; None when no flow applies (the chat goes to a human)."""
    raise NotImplementedError
