"""Bot flows over the API, mounted at /api/flows.

Every signed-in staff member may read flows (operators see what the bot told a customer
before the chat reached them); only admins create, change, delete and try them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.accounts.schemas import Text
from ispdesk.api_errors import ApiError
from ispdesk.conversations.flows.access import access_flow, access_flow_to_edit
from ispdesk.conversations.flows.actions import (
    FlowChangeError,
    FlowChanges,
    do_delete_flow,
    do_save_flow,
)
from ispdesk.conversations.flows.engine import (
    Close,
    FlowSet,
    FlowState,
    Redirect,
    step,
)
from ispdesk.conversations.flows.schema import (
    FlowDocument,
    errors_as_fields,
    to_graph,
    validate_document,
)
from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area

router = Router(tags=["flows"])

MAX_ID = 2**31 - 1
# The flow id the simulator plays under; stored flows' ids start at 1.
SIMULATED_FLOW_ID = 0


class FlowIn(Schema):
    name: Text = Field(max_length=200)
    active: bool = True
    is_default: bool = False
    triggers: list[Text] = Field(default_factory=list, max_length=200)
    fallback_area_id: int | None = Field(None, ge=1, le=MAX_ID)
    definition: FlowDocument
    # The version the editor loaded; a save over someone else's newer save is a 409.
    version: int | None = Field(None, ge=0, le=MAX_ID)


class AreaRef(Schema):
    id: int
    name: str


class FlowSummaryOut(Schema):
    id: int
    name: str
    active: bool
    is_default: bool
    triggers: list[str]
    fallback_area: AreaRef | None
    version: int
    node_count: int
    updated_at: datetime


class FlowOut(FlowSummaryOut):
    definition: dict[str, Any]


class SimulateIn(Schema):
    definition: FlowDocument
    fallback_area_id: int | None = Field(None, ge=1, le=MAX_ID)
    triggers: list[Text] = Field(default_factory=list, max_length=200)
    state: dict[str, Any] | None = None
    text: str = Field(max_length=4096)


class EffectOut(Schema):
    type: Literal["redirect", "handoff", "close"]
    area_id: int | None = None
    area_name: str | None = None
    reason: str


class ErrorOut(Schema):
    field: str
    message: str


class SimulateOut(Schema):
    replies: list[str]
    state: dict[str, Any] | None
    effects: list[EffectOut]
    errors: list[ErrorOut]


@contextmanager
def flow_errors() -> Iterator[None]:
    """An action's refusal as an API error: a clash is a 409, a bad flow a 422."""
    try:
        yield
    except FlowChangeError as exc:
        status = 422 if exc.code == "invalid_flow" else 409
        raise ApiError(status, exc.code, exc.message, exc.fields or None) from None


def _node_count(flow: Flow) -> int:
    nodes = flow.definition.get("nodes") if isinstance(flow.definition, dict) else None
    return len(nodes) if isinstance(nodes, list) else 0


def flow_out(flow: Flow, *, with_definition: bool = True) -> dict[str, Any]:
    area = flow.fallback_area
    out: dict[str, Any] = {
        "id": flow.pk,
        "name": flow.name,
        "active": flow.active,
        "is_default": flow.is_default,
        "triggers": list(flow.triggers),
        "fallback_area": {"id": area.pk, "name": area.name} if area is not None else None,
        "version": flow.version,
        "node_count": _node_count(flow),
        "updated_at": flow.updated_at,
    }
    if with_definition:
        out["definition"] = flow.definition
    return out


def _changes(payload: FlowIn) -> FlowChanges:
    return FlowChanges(
        name=payload.name,
        definition=payload.definition,
        active=payload.active,
        is_default=payload.is_default,
        triggers=list(payload.triggers),
        fallback_area_id=payload.fallback_area_id,
        expected_version=payload.version,
    )


def _saved(flow: Flow) -> dict[str, Any]:
    # Re-read with the area's name for the answer.
    return flow_out(Flow.objects.select_related("fallback_area").get(pk=flow.pk))


@router.get("", response=list[FlowSummaryOut])
def list_flows(request: ApiRequest) -> list[dict[str, Any]]:
    flows = Flow.objects.select_related("fallback_area").order_by("name")
    return [flow_out(flow, with_definition=False) for flow in flows]


@router.post("", response={201: FlowOut})
def create_flow(request: ApiRequest, payload: FlowIn) -> Status[dict[str, Any]]:
    api_require_admin(request.auth)
    with flow_errors():
        flow = do_save_flow(request.auth, None, _changes(payload))
    return Status(201, _saved(flow))


@router.post("/simulate", response=SimulateOut)
def simulate_flow(request: ApiRequest, payload: SimulateIn) -> dict[str, Any]:
    """Play a document that may be unsaved and even invalid: nothing is stored, the engine
    runs as for a customer, and the validation errors come along for the builder."""
    api_require_admin(request.auth)
    areas = dict(Area.objects.values_list("pk", "name"))
    active_ids = set(Area.objects.filter(active=True).values_list("pk", flat=True))
    graph = to_graph(
        payload.definition,
        flow_id=SIMULATED_FLOW_ID,
        name=_("Try it"),
        triggers=[trigger.strip().lower() for trigger in payload.triggers],
        fallback_area_id=payload.fallback_area_id,
    )
    flows = FlowSet(flows={SIMULATED_FLOW_ID: graph}, default_id=SIMULATED_FLOW_ID)
    state = FlowState.from_json(payload.state) if payload.state else None
    result = step(flows, state, payload.text)
    effects: list[dict[str, Any]] = []
    for effect in result.effects if result is not None else ():
        if isinstance(effect, Close):
            effects.append({"type": "close", "reason": effect.reason})
        else:
            kind = "redirect" if isinstance(effect, Redirect) else "handoff"
            effects.append(
                {
                    "type": kind,
                    "area_id": effect.area_id,
                    "area_name": areas.get(effect.area_id) if effect.area_id else None,
                    "reason": effect.reason,
                }
            )
    errors = validate_document(payload.definition, active_ids)
    return {
        "replies": list(result.replies) if result is not None else [],
        "state": result.state.as_json() if result is not None and result.state else None,
        "effects": effects,
        "errors": [
            {"field": field, "message": message}
            for field, message in errors_as_fields(errors).items()
        ],
    }


@router.get("/{flow_id}", response=FlowOut)
def get_flow(request: ApiRequest, flow_id: int) -> dict[str, Any]:
    return flow_out(access_flow(request.auth, flow_id))


@router.put("/{flow_id}", response=FlowOut)
def update_flow(request: ApiRequest, flow_id: int, payload: FlowIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    flow = access_flow_to_edit(request.auth, flow_id)
    with flow_errors():
        flow = do_save_flow(request.auth, flow, _changes(payload))
    return _saved(flow)


@router.delete("/{flow_id}", response={204: None})
def delete_flow(request: ApiRequest, flow_id: int) -> Status[None]:
    api_require_admin(request.auth)
    do_delete_flow(request.auth, access_flow_to_edit(request.auth, flow_id))
    return Status(204, None)
