"""Bot flow pages (admins): the list, and the builder that edits one flow's tree in the
browser (`static/ispdesk/flows.js`) and saves it through the API (`flow_api.py`)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.conversations.flows.access import access_flow_to_edit
from ispdesk.conversations.flows.actions import do_delete_flow
from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area

FLOWS_CONTEXT = {"flows_page": True}  # marks the section in the navigation


def _node_count(flow: Flow) -> int:
    nodes = flow.definition.get("nodes") if isinstance(flow.definition, dict) else None
    return len(nodes) if isinstance(nodes, list) else 0


@admin_required
def flows(request: AuthenticatedRequest) -> HttpResponse:
    rows = [
        {"flow": flow, "node_count": _node_count(flow)}
        for flow in Flow.objects.select_related("fallback_area").order_by("name")
    ]
    return render(request, "flows/flows.html", {**FLOWS_CONTEXT, "rows": rows})


def starter_definition() -> dict[str, Any]:
    """A new flow: a greeting menu waiting for its first option."""
    return {
        "root": "inicio",
        "nodes": [
            {
                "id": "inicio",
                "type": "menu",
                "text": _("Hello! Reply with the number of an option:"),
                "label": "",
                "option": None,
                "keywords": [],
                "area_id": None,
                "children": [],
            }
        ],
    }


def builder_strings() -> dict[str, str]:
    """Every word the builder's script shows, translated here (the script has no catalog)."""
    return {
        "type_message": _("Message"),
        "type_menu": _("Menu"),
        "type_redirect": _("Send to an area"),
        "type_end": _("End the chat"),
        "option": _("Option number"),
        "label": _("Label in the menu"),
        "keywords": _("Keywords (comma-separated)"),
        "text": _("Text"),
        "area": _("Area"),
        "choose_area": _("Choose an area"),
        "inactive_area": _("%(name)s (inactive)"),
        "add_child": _("Add"),
        "add_type": _("New node's type"),
        "move_up": _("Move up"),
        "move_down": _("Move down"),
        "delete": _("Delete"),
        "confirm_delete": _("Delete this node and everything under it?"),
        "root": _("Start"),
        "unattached": _("Not connected to the tree"),
        "saving": _("Saving…"),
        "saved": _("Saved."),
        "save_failed": _("Not saved."),
        "network_error": _("The server could not be reached; try again."),
        "you": _("Customer"),
        "bot": _("Bot"),
        "redirected": _("→ %(area)s"),
        "no_area": _("the general queue"),
        "handoff": _("Handed to a person (%(area)s)"),
        "closed": _("Conversation closed"),
        "idle": _("The bot is done; the next message starts again."),
        "draft_problems": _("This draft has problems to fix before saving."),
    }


def _builder(request: AuthenticatedRequest, flow: Flow | None) -> HttpResponse:
    areas = [
        {"id": area.pk, "name": area.name, "active": area.active}
        for area in Area.objects.order_by("name")
    ]
    data = {
        "id": None if flow is None else flow.pk,
        "version": None if flow is None else flow.version,
        "definition": starter_definition() if flow is None else flow.definition,
    }
    config = {
        "apiUrl": reverse("api:create_flow"),
        "simulateUrl": reverse("api:simulate_flow"),
        # The page to open after the first save; "0" stands for the new id.
        "editUrl": reverse("flow_edit", args=[0]),
        "strings": builder_strings(),
    }
    context = {
        **FLOWS_CONTEXT,
        "flow": flow,
        "flow_data": data,
        "areas": areas,
        "active_areas": [area for area in areas if area["active"]],
        "config": config,
        "triggers": ", ".join(flow.triggers) if flow is not None else "",
    }
    return render(request, "flows/builder.html", context)


@admin_required
def flow_create(request: AuthenticatedRequest) -> HttpResponse:
    return _builder(request, None)


@admin_required
def flow_edit(request: AuthenticatedRequest, flow_id: int) -> HttpResponse:
    return _builder(request, access_flow_to_edit(request.user, flow_id))


@admin_required
@require_POST
def flow_delete(request: AuthenticatedRequest, flow_id: int) -> HttpResponse:
    flow = access_flow_to_edit(request.user, flow_id)
    name = flow.name
    do_delete_flow(request.user, flow)
    messages.success(request, _("The flow %(name)s was deleted.") % {"name": name})
    return redirect("flows")
