"""Saving and deleting bot flows: validate the whole flow, keep triggers unique among active
flows and one default flow, bump the version, audit, and tell open pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ispdesk.conversations.flows.engine import normalize
from ispdesk.conversations.flows.schema import (
    FlowDocument,
    FlowError,
    clean_triggers,
    errors_as_fields,
    validate_document,
)
from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

# Who hears that a flow changed: the people who may look at flows.
FLOW_GROUPS = ("role.admin", "role.supervisor")
MAX_NAME = 80


class FlowChangeError(ValueError):
    """A refused save: `code` is "invalid_flow" (422) or "duplicate_name" (409)."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


@dataclass(frozen=True)
class FlowChanges:
    """Everything a save sets; the API and the builder send the whole flow every time."""

    name: str
    definition: FlowDocument
    active: bool = True
    is_default: bool = False
    triggers: list[str] = field(default_factory=list)
    fallback_area_id: int | None = None
    # The version the editor started from; a different stored version means someone else
    # saved in between (None skips the check).
    expected_version: int | None = None


def flow_snapshot(flow: Flow) -> dict[str, Any]:
    """What the audit log keeps of a flow (the document's size, not the whole document)."""
    nodes = flow.definition.get("nodes", []) if isinstance(flow.definition, dict) else []
    return {
        "name": flow.name,
        "active": flow.active,
        "is_default": flow.is_default,
        "triggers": list(flow.triggers),
        "fallback_area_id": flow.fallback_area_id,
        "version": flow.version,
        "nodes": len(nodes),
    }


def _duplicate_name(name: str) -> FlowChangeError:
    return FlowChangeError(
        "duplicate_name",
        _("There already is a flow named %(name)s.") % {"name": name},
        {"name": _("already taken")},
    )


def _check_flow_fields(changes: FlowChanges, active_area_ids: set[int]) -> list[FlowError]:
    errors = []
    if not changes.name.strip():
        errors.append(FlowError("name", _("Give the flow a name.")))
    elif len(changes.name.strip()) > MAX_NAME:
        message = _("A name is at most %(max)s characters long.") % {"max": MAX_NAME}
        errors.append(FlowError("name", message))
    if changes.fallback_area_id is not None and changes.fallback_area_id not in active_area_ids:
        message = _("The area is unknown or inactive; choose an active area.")
        errors.append(FlowError("fallback_area_id", message))
    if changes.is_default and not changes.active:
        errors.append(FlowError("is_default", _("The default flow must be active.")))
    return errors


def _taken_triggers(others: list[Flow]) -> dict[str, str]:
    taken: dict[str, str] = {}
    for other in others:
        for trigger in other.triggers:
            if isinstance(trigger, str):
                taken.setdefault(normalize(trigger), other.name)
    return taken


def do_save_flow(actor: Any, flow: Flow | None, changes: FlowChanges) -> Flow:
    """Create (flow None) or replace a flow; raises FlowChangeError naming what is wrong."""
    name = changes.name.strip()
    creating = flow is None
    with transaction.atomic():
        # Locking the active flows serialises two saves that would claim the same trigger
        # or both become the default.
        others = [
            other
            for other in Flow.objects.select_for_update().filter(active=True).order_by("pk")
            if flow is None or other.pk != flow.pk
        ]
        if flow is not None:
            flow = Flow.objects.select_for_update().get(pk=flow.pk)
            if changes.expected_version not in (None, flow.version):
                raise FlowChangeError(
                    "version_conflict",
                    _("Someone saved this flow after you opened it; reload to see their changes."),
                )
        if name and _others(flow).filter(name__iexact=name).exists():
            raise _duplicate_name(name)
        active_area_ids = set(Area.objects.filter(active=True).values_list("pk", flat=True))
        triggers, errors = clean_triggers(
            changes.triggers, _taken_triggers(others) if changes.active else {}
        )
        errors = [
            *_check_flow_fields(changes, active_area_ids),
            *errors,
            *validate_document(changes.definition, active_area_ids),
        ]
        if errors:
            fields = errors_as_fields(errors)
            message = ngettext(
                "The flow cannot be saved: %(count)s problem.",
                "The flow cannot be saved: %(count)s problems.",
                len(fields),
            ) % {"count": len(fields)}
            raise FlowChangeError("invalid_flow", message, fields)
        before = None if flow is None else flow_snapshot(flow)
        if flow is None:
            flow = Flow(version=0)
        flow.name = name
        flow.active = changes.active
        flow.is_default = changes.is_default
        flow.triggers = triggers
        flow.fallback_area_id = changes.fallback_area_id
        flow.definition = changes.definition.model_dump()
        # Chats waiting at a menu of an older version restart at the root (see the engine).
        flow.version += 1
        if flow.is_default:
            _others(flow).filter(is_default=True).update(is_default=False)
        try:
            with transaction.atomic():
                flow.save()
        except IntegrityError:
            raise _duplicate_name(name) from None
        record_audit(
            actor,
            "flow.created" if creating else "flow.updated",
            flow,
            before=before,
            after=flow_snapshot(flow),
        )
        send_event_on_commit(
            FLOW_GROUPS, {"type": "flow:update", "flow": flow.pk, "version": flow.version}
        )
    return flow


def _others(flow: Flow | None) -> QuerySet[Flow]:
    """Every flow but this one (all of them for a flow not saved yet)."""
    flows = Flow.objects.all()
    return flows if flow is None or flow.pk is None else flows.exclude(pk=flow.pk)


def do_delete_flow(actor: Any, flow: Flow) -> None:
    """Chats at one of its menus start afresh (the default flow) with their next message."""
    with transaction.atomic():
        before = flow_snapshot(flow)
        flow_id = flow.pk
        record_audit(actor, "flow.deleted", flow, before=before)
        flow.delete()
        send_event_on_commit(FLOW_GROUPS, {"type": "flow:update", "flow": flow_id, "deleted": True})
