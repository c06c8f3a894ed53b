"""The active flows from the database, as the engine takes them."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from ispdesk.conversations.flows.engine import FlowGraph, FlowSet
from ispdesk.conversations.flows.schema import FlowDocument, to_graph
from ispdesk.conversations.models import Flow

logger = logging.getLogger(__name__)


def graph_of(flow: Flow) -> FlowGraph | None:
    """One stored flow as a graph; None when its document is unreadable (saved by hand)."""
    try:
        document = FlowDocument.model_validate(flow.definition)
    except ValidationError:
        logger.warning("flow %s (%s) has an unreadable definition; skipped", flow.pk, flow.name)
        return None
    return to_graph(
        document,
        flow_id=flow.pk,
        name=flow.name,
        version=flow.version,
        triggers=[str(trigger) for trigger in flow.triggers if isinstance(trigger, str)],
        fallback_area_id=flow.fallback_area_id,
    )


def load_flows() -> FlowSet:
    """Every active flow, and the default one, in one query."""
    graphs: dict[int, FlowGraph] = {}
    default_id = None
    for flow in Flow.objects.filter(active=True).order_by("pk"):
        graph = graph_of(flow)
        if graph is None:
            continue
        graphs[flow.pk] = graph
        if flow.is_default and default_id is None:
            default_id = flow.pk
    return FlowSet(flows=graphs, default_id=default_id)
