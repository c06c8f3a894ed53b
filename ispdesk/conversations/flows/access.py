"""Fetching flows for a user: lookup and permission together, 404 otherwise."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from ispdesk.conversations.models import Flow


def access_flow(actor: Any, flow_id: int) -> Flow:
    """A flow to read: any signed-in staff member (operators see what the bot told the
    customer before the chat reached them)."""
    if not getattr(actor, "is_authenticated", False):
        raise Http404
    flow = Flow.objects.select_related("fallback_area").filter(pk=flow_id).first()
    if flow is None:
        raise Http404
    return flow


def access_flow_to_edit(actor: Any, flow_id: int) -> Flow:
    """A flow to change or delete: admins only."""
    if not getattr(actor, "is_admin", False):
        raise Http404
    return access_flow(actor, flow_id)
