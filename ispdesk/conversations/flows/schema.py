"""The flow document: its shape (pydantic), the rules a flow must follow to be saved (pure,
each error naming the node), and its conversion to the engine's graph.

The document is what the API takes and the builder edits:
`{"root": "inicio", "nodes": [{"id", "type", "text", "label", "option", "keywords",
"area_id", "children"}, ...]}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from ispdesk.accounts.schemas import Text  # no NUL: PostgreSQL's JSON cannot store it
from ispdesk.conversations.flows.engine import (
    BACK_WORDS,
    FlowGraph,
    Node,
    menu_text,
    normalize,
)

NODE_ID = re.compile(r"^[a-z0-9_-]{1,40}$")
MAX_NODES = 200
MAX_DEPTH = 10  # levels below the root
MAX_TEXT = 4096  # WhatsApp's limit for one text message
MAX_LABEL = 100
MAX_KEYWORDS = 20
MAX_KEYWORD = 40
MAX_TRIGGERS = 50
MAX_TRIGGER = 40
# Shape limits well above the rules' limits: the rules name the node, the shape cannot.
_SHAPE_MAX_NODES = 1000
_SHAPE_MAX_TEXT = 20_000

NodeType = Literal["message", "menu", "redirect", "end"]


class NodeDoc(BaseModel):
    # Unknown keys (the builder's own bookkeeping) are dropped, never stored.
    model_config = ConfigDict(extra="ignore")

    id: Text = Field(max_length=200)
    type: NodeType
    text: Text = Field("", max_length=_SHAPE_MAX_TEXT)
    label: Text = Field("", max_length=1000)
    option: int | None = Field(None, ge=-(2**31), le=2**31 - 1)
    keywords: list[Text] = Field(default_factory=list, max_length=200)
    area_id: int | None = Field(None, ge=-(2**31), le=2**31 - 1)
    children: list[Text] = Field(default_factory=list, max_length=_SHAPE_MAX_NODES)


class FlowDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")

    root: Text = Field(max_length=200)
    nodes: list[NodeDoc] = Field(max_length=_SHAPE_MAX_NODES)


@dataclass(frozen=True)
class FlowError:
    """One reason a flow cannot be saved; `field` is "root", "nodes.<id>", "nodes",
    "triggers", or a flow field's name."""

    field: str
    message: str


def errors_as_fields(errors: Iterable[FlowError]) -> dict[str, str]:
    """The API's `fields` mapping: every message of a field, in order, in one string."""
    fields: dict[str, str] = {}
    for error in errors:
        fields[error.field] = (
            f"{fields[error.field]} {error.message}" if error.field in fields else error.message
        )
    return fields


def _node_field(node_id: str) -> str:
    return f"nodes.{node_id}"


def _check_node(node: NodeDoc, active_area_ids: Set[int]) -> list[str]:
    """What is wrong with one node on its own (not its place in the tree)."""
    problems = []
    if node.type in ("message", "menu", "end") and not node.text.strip():
        problems.append(_("Write the text this node sends."))
    if len(node.text) > MAX_TEXT:
        problems.append(_("The text is longer than %(max)s characters.") % {"max": MAX_TEXT})
    if len(node.label) > MAX_LABEL:
        problems.append(_("The label is longer than %(max)s characters.") % {"max": MAX_LABEL})
    if node.type == "redirect":
        if node.area_id is None:
            problems.append(_("Choose the area this option hands the chat to."))
        elif node.area_id not in active_area_ids:
            problems.append(_("The area is unknown or inactive; choose an active area."))
    if node.type == "menu" and not node.children:
        problems.append(_("A menu needs at least one option."))
    if node.type == "message" and len(node.children) > 1:
        problems.append(_("A message continues to one node only."))
    if node.type in ("redirect", "end") and node.children:
        problems.append(_("This node ends the bot's part; it cannot have children."))
    if len(node.keywords) > MAX_KEYWORDS:
        problems.append(_("Use at most %(max)s keywords.") % {"max": MAX_KEYWORDS})
    for keyword in node.keywords:
        word = normalize(keyword)
        if not word or len(word) > MAX_KEYWORD:
            problems.append(_("Keywords are 1 to %(max)s characters long.") % {"max": MAX_KEYWORD})
        elif word in BACK_WORDS or word.isdigit():
            problems.append(
                _("“%(word)s” cannot be a keyword: numbers and “menu” are answers already.")
                % {"word": keyword.strip()}
            )
    return problems


def _check_options(
    menu: NodeDoc, nodes: Mapping[str, NodeDoc], graph: FlowGraph
) -> list[FlowError]:
    """A menu's options: each with a label and a positive number, numbers and keywords unique
    within the menu (keywords compared as the engine compares answers)."""
    errors = []
    numbers: dict[int, str] = {}
    keywords: dict[str, str] = {}
    for child_id in menu.children:
        child = nodes.get(child_id)
        if child is None:
            continue
        field = _node_field(child.id)
        if not child.label.strip():
            errors.append(FlowError(field, _("Write the label shown in the menu.")))
        if child.option is None or child.option < 1:
            errors.append(FlowError(field, _("Give the option a number from 1 up.")))
        elif child.option in numbers:
            message = _("Option %(number)s is taken by %(other)s in this menu.")
            errors.append(
                FlowError(field, message % {"number": child.option, "other": numbers[child.option]})
            )
        else:
            numbers[child.option] = child.id
        for keyword in child.keywords:
            word = normalize(keyword)
            if not word:
                continue
            owner = keywords.setdefault(word, child.id)
            if owner != child.id:
                message = _("The keyword “%(word)s” is also used by %(other)s in this menu.")
                errors.append(FlowError(field, message % {"word": keyword.strip(), "other": owner}))
    if len(menu_text(graph, graph.nodes[menu.id])) > MAX_TEXT:
        message = _("The menu with its options is longer than %(max)s characters.")
        errors.append(FlowError(_node_field(menu.id), message % {"max": MAX_TEXT}))
    return errors


def _check_tree(document: FlowDocument, nodes: Mapping[str, NodeDoc]) -> list[FlowError]:
    """The nodes form one tree under the root: known children, one parent each, no cycles,
    everything reachable, at most MAX_DEPTH levels."""
    errors = []
    parents: dict[str, str] = {}
    for node in nodes.values():
        for child_id in node.children:
            if child_id not in nodes:
                message = _("Its child “%(child)s” does not exist.") % {"child": child_id}
                errors.append(FlowError(_node_field(node.id), message))
            elif child_id in parents:
                message = _("It is a child of both %(first)s and %(second)s.")
                first = parents[child_id]
                errors.append(
                    FlowError(_node_field(child_id), message % {"first": first, "second": node.id})
                )
            else:
                parents[child_id] = node.id
    if document.root not in nodes:
        return errors
    if document.root in parents:
        message = _("The root cannot be an option of %(parent)s.")
        errors.append(
            FlowError(_node_field(document.root), message % {"parent": parents[document.root]})
        )
    # Walk the tree from the root following each node's first-seen parent link only, so a
    # cycle or a second parent cannot make the walk loop.
    depth = {document.root: 0}
    queue = [document.root]
    while queue:
        node_id = queue.pop(0)
        for child_id in nodes[node_id].children:
            if child_id in nodes and parents.get(child_id) == node_id and child_id not in depth:
                depth[child_id] = depth[node_id] + 1
                queue.append(child_id)
                if depth[child_id] == MAX_DEPTH + 1:
                    message = _("It is more than %(max)s levels below the root.")
                    errors.append(FlowError(_node_field(child_id), message % {"max": MAX_DEPTH}))
    for node_id in nodes:
        if node_id not in depth:
            if _in_cycle(node_id, nodes):
                message = _("It is part of a loop; an option cannot lead back to itself.")
            else:
                message = _("It cannot be reached from the root.")
            errors.append(FlowError(_node_field(node_id), message))
    return errors


def _in_cycle(start: str, nodes: Mapping[str, NodeDoc]) -> bool:
    seen = set()
    stack = list(nodes[start].children)
    while stack:
        node_id = stack.pop()
        if node_id == start:
            return True
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        stack.extend(nodes[node_id].children)
    return False


def validate_document(document: FlowDocument, active_area_ids: Set[int]) -> list[FlowError]:
    """Every reason the document cannot be saved, each naming its node; [] when valid.

    `active_area_ids`: the areas a redirect may name (the caller reads them)."""
    errors: list[FlowError] = []
    if len(document.nodes) > MAX_NODES:
        message = _("A flow has at most %(max)s nodes.") % {"max": MAX_NODES}
        return [FlowError("nodes", message)]
    if not document.nodes:
        return [FlowError("nodes", _("A flow needs at least one node."))]
    nodes: dict[str, NodeDoc] = {}
    for node in document.nodes:
        field = _node_field(node.id)
        if node.id in nodes:
            errors.append(FlowError(field, _("Two nodes have this id.")))
            continue
        if not NODE_ID.match(node.id):
            message = _("A node id is 1 to 40 lower-case letters, digits, “-” or “_”.")
            errors.append(FlowError(field, message))
        nodes[node.id] = node
        errors.extend(FlowError(field, problem) for problem in _check_node(node, active_area_ids))
    if document.root not in nodes:
        errors.append(FlowError("root", _("The root must name one of the nodes.")))
    errors.extend(_check_tree(document, nodes))
    graph = to_graph(document, flow_id=0, name="")
    for node in nodes.values():
        if node.type == "menu":
            errors.extend(_check_options(node, nodes, graph))
    return errors


def clean_triggers(
    triggers: Iterable[str], taken: Mapping[str, str]
) -> tuple[list[str], list[FlowError]]:
    """Triggers as stored (stripped, lower-case, each once) and what is wrong with them.

    `taken` maps the triggers of the other active flows, as `normalize` writes them, to
    their flow's name."""
    cleaned: list[str] = []
    seen: set[str] = set()
    errors = []
    for raw in triggers:
        trigger = raw.strip().lower()
        word = normalize(trigger)
        if not word:
            continue
        if word in seen:
            continue
        seen.add(word)
        cleaned.append(trigger)
        if len(trigger) > MAX_TRIGGER:
            message = _("A trigger is at most %(max)s characters long.") % {"max": MAX_TRIGGER}
            errors.append(FlowError("triggers", message))
        elif word in BACK_WORDS or word.isdigit():
            message = _("“%(word)s” cannot be a trigger: numbers and “menu” answer menus.")
            errors.append(FlowError("triggers", message % {"word": trigger}))
        elif word in taken:
            message = _("The trigger “%(word)s” already starts the flow %(flow)s.")
            errors.append(FlowError("triggers", message % {"word": trigger, "flow": taken[word]}))
    if len(cleaned) > MAX_TRIGGERS:
        message = _("A flow has at most %(max)s triggers.") % {"max": MAX_TRIGGERS}
        errors.append(FlowError("triggers", message))
    return cleaned, errors


def to_graph(
    document: FlowDocument,
    *,
    flow_id: int,
    name: str,
    version: int = 1,
    triggers: Iterable[str] = (),
    fallback_area_id: int | None = None,
) -> FlowGraph:
    """The engine's view of a document. A document that breaks the rules still converts
    (the first node of a repeated id wins); the engine copes with what is left."""
    nodes: dict[str, Node] = {}
    for node in document.nodes:
        nodes.setdefault(
            node.id,
            Node(
                id=node.id,
                kind=node.type,
                text=node.text,
                label=node.label,
                option=node.option,
                keywords=tuple(node.keywords),
                area_id=node.area_id,
                children=tuple(node.children),
            ),
        )
    return FlowGraph(
        flow_id=flow_id,
        name=name,
        version=version,
        root=document.root,
        nodes=nodes,
        triggers=tuple(triggers),
        fallback_area_id=fallback_area_id,
    )
