"""Where a ticket is in Splynx, for the ticket page (registered with the tickets app)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.tickets.models import Ticket


def splynx_ticket_url(ticket: Ticket) -> str:
    """The ticket's page in Splynx's admin, or "" when its id or Splynx's address is unknown."""
    if ticket.splynx_ticket_id is None:
        return ""
    config = (
        ExternalSystem.objects.filter(kind=SystemKind.SPLYNX).values_list("config", flat=True)
    ).first()
    base_url = config.get("base_url") if isinstance(config, dict) else None
    # Only a web address becomes a link: a stored "javascript:" must never be clickable.
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        return ""
    return f"{base_url.rstrip('/')}/admin/support/tickets--view?id={ticket.splynx_ticket_id}"
