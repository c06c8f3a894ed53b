"""The domain side of the WhatsApp simulator: whether it is offered, its connection, and the
history between a number and it. The gateway itself is
`ispdesk.integrations.whatsapp.simulator`; the page is `simulator_views`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from ispdesk.integrations.whatsapp.simulator import GROUP_PREFIX
from ispdesk.lib.phones import whatsapp_digits
from ispdesk.messaging.models import (
    ConnectionStatus,
    GatewayConnection,
    GatewayKind,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
)
from ispdesk.realtime.consumers import register_subscription
from ispdesk.system.audit import record_audit
from ispdesk.system.config import get_config

CONNECTION_NAME = "Simulador"
_SIMULATOR_GROUP = re.compile(rf"{GROUP_PREFIX}\.\d{{8,15}}")
HISTORY_LIMIT = 200
# What the customer's phone has received: queued or failed messages never reached it.
DELIVERED_TO_PHONE = (OutboundStatus.SENT, OutboundStatus.DELIVERED, OutboundStatus.READ)


class SimulatorUnavailable(Exception):
    """No enabled simulator connection can be used (one exists, but an admin disabled it)."""


def simulator_available() -> bool:
    """Offered in demo and test setups, and in production only when an admin enables it."""
    return bool(settings.DEMO or settings.TESTING or get_config("simulator_enabled"))


def _may_subscribe(user: Any, group: str) -> bool:
    return bool(_SIMULATOR_GROUP.fullmatch(group)) and simulator_available()


def register_simulator_subscription() -> None:
    """Let logged-in pages join `simulator.<digits>` while the simulator is offered."""
    register_subscription(GROUP_PREFIX, _may_subscribe)


def simulator_connection() -> GatewayConnection:
    """The enabled simulator connection, created on first use (named "Simulador")."""
    found = (
        GatewayConnection.objects.filter(kind=GatewayKind.SIMULATOR, enabled=True)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    if GatewayConnection.objects.filter(kind=GatewayKind.SIMULATOR).exists():
        raise SimulatorUnavailable
    name = CONNECTION_NAME
    if GatewayConnection.objects.filter(name=name).exists():
        name = f"{CONNECTION_NAME} ({GatewayKind.SIMULATOR.value})"
    try:
        with transaction.atomic():
            connection = GatewayConnection.objects.create(
                kind=GatewayKind.SIMULATOR,
                name=name,
                config={},
                status=ConnectionStatus.CONNECTED,
            )
            record_audit(None, "connection.created", connection, after={"kind": "simulator"})
    except IntegrityError:
        # Two first visits at once: the other one created it.
        return GatewayConnection.objects.get(name=name)
    return connection


def webhook_path(connection: GatewayConnection) -> str:
    return reverse("whatsapp_webhook", args=[connection.webhook_secret])


@dataclass(frozen=True)
class ChatLine:
    """One bubble: `mine` is the customer's own message (right, with ticks)."""

    provider_id: str
    mine: bool
    text: str
    media_url: str
    at: datetime
    status: str  # the customer's: "delivered" once stored; ispdesk's: the outbox status


def recipient_forms(phone: str) -> list[str]:
    """The ways an outbound row's `to` may name a number (E.164 or a chat id)."""
    digits = whatsapp_digits(phone)
    return [phone, digits, f"{digits}@s.whatsapp.net", f"{digits}@c.us"]


def history(connection: GatewayConnection, phone: str) -> list[ChatLine]:
    """The last messages between `phone` (E.164) and the connection, oldest first."""
    digits = whatsapp_digits(phone)
    inbound = InboundMessage.objects.filter(connection=connection).filter(
        Q(phone=phone) | Q(chat_id=digits)
    )
    outbound = OutboundMessage.objects.filter(
        connection=connection, to__in=recipient_forms(phone), status__in=DELIVERED_TO_PHONE
    )
    lines = [
        ChatLine(m.provider_id, True, m.text, m.media_url, m.sent_at, OutboundStatus.DELIVERED)
        for m in inbound.order_by("-sent_at", "-id")[:HISTORY_LIMIT]
    ]
    lines += [
        ChatLine(
            m.provider_id or "",
            False,
            m.body,
            m.media_url,
            m.sent_at or m.created_at,
            m.status,
        )
        for m in outbound.order_by("-created_at", "-id")[:HISTORY_LIMIT]
    ]
    lines.sort(key=lambda line: line.at)
    return lines[-HISTORY_LIMIT:]


def recent_numbers(connection: GatewayConnection, limit: int = 12) -> list[tuple[str, str]]:
    """(E.164, name) of the numbers that wrote to the simulator lately, newest first."""
    seen: dict[str, str] = {}
    rows = (
        InboundMessage.objects.filter(connection=connection)
        .exclude(phone="")
        .order_by("-received_at", "-id")
        .values_list("phone", "name")[:500]
    )
    for phone, name in rows:
        if phone not in seen:
            seen[phone] = name
            if len(seen) >= limit:
                break
    return list(seen.items())
