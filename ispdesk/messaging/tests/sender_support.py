"""Helpers of the sender's tests: connections of the scripted gateway and queued messages."""

from __future__ import annotations

import uuid
from typing import Any

from ispdesk.integrations.whatsapp.base import GatewayError
from ispdesk.messaging.models import GatewayConnection, OutboundMessage
from ispdesk.messaging.outbox import queue_message
from ispdesk.messaging.tests.scripted_gateway import Script

CUSTOMER = "+5491123456789"


def transient(text: str = "Evolution API failed (502): bad gateway") -> GatewayError:
    return GatewayError(text, permanent=False, code="server_error", status=502)


def make_connection(script: Script, **fields: Any) -> GatewayConnection:
    fields.setdefault("name", f"Soporte {uuid.uuid4().hex[:6]}")
    return GatewayConnection.objects.create(kind="scripted", config=script.config(), **fields)


def queue(
    connection: GatewayConnection, count: int = 1, to: str = CUSTOMER, **fields: Any
) -> list[OutboundMessage]:
    return [
        queue_message(to, f"mensaje {index}", connection=connection, **fields)
        for index in range(count)
    ]


def reloaded(message: OutboundMessage) -> OutboundMessage:
    return OutboundMessage.objects.get(pk=message.pk)
