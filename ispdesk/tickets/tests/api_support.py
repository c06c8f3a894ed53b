"""Helpers shared by the tickets API tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from ispdesk.system.models import AuditEvent
from ispdesk.tickets.models import Source, Ticket, TicketEvent

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def post(client: Client, path: str, body: Any = None, **extra: Any):  # type: ignore[no-untyped-def]
    """POST JSON; no body at all when `body` is None."""
    return client.post(path, body if body is not None else "", "application/json", **extra)


def make_ticket(**fields: Any) -> Ticket:
    values = {
        "source": Source.MANUAL,
        "external_id": uuid.uuid4().hex,
        "subject": "Caso",
        "created_at": timezone.now(),
        **fields,
    }
    return Ticket.objects.create(**values)


def ago(**delta: float):  # type: ignore[no-untyped-def]
    return timezone.now() - timedelta(**delta)


def client_for(request, person: str) -> Client:  # type: ignore[no-untyped-def]
    if person == "anonymous":
        return Client()
    return request.getfixturevalue(f"{person}_client")


def history_counts() -> tuple[int, int]:
    return TicketEvent.objects.count(), AuditEvent.objects.count()
