"""Fetching WhatsApp connections for a user: lookup and permission together, 404 otherwise."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from ispdesk.messaging.models import GatewayConnection

MAX_ID = 2**63 - 1  # larger ids are not stored anywhere; looking one up errors on some databases


def access_connection(actor: Any, connection_id: int) -> GatewayConnection:
    """A connection to see or configure: admins only (its settings hold credentials)."""
    if not getattr(actor, "is_admin", False) or not 0 < connection_id <= MAX_ID:
        raise Http404
    connection = GatewayConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise Http404
    return connection
