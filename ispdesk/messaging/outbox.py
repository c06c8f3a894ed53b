"""Queueing outbound messages: the only way anything in ispdesk sends WhatsApp.

Call `queue_message` inside the transaction of the change that causes the message; the
sender loop (`ispdesk.messaging.sender`) delivers it after commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Case, QuerySet, When
from django.utils import timezone

from ispdesk.lib.bulk import insert
from ispdesk.lib.wakeups import SENDER, wake
from ispdesk.messaging.models import GatewayConnection, GatewayKind, OutboundMessage, Purpose
from ispdesk.realtime.events import later_pk, send_event_on_commit


class NoConnection(Exception):
    """No enabled WhatsApp connection can carry the message."""


def usable_connections() -> QuerySet[GatewayConnection]:
    """Enabled connections; the simulator only while it is offered (demo, tests, or an
    admin's choice), so a production desk never sends into it or accepts its webhooks."""
    from ispdesk.messaging.simulator import simulator_available

    connections = GatewayConnection.objects.filter(enabled=True)
    if not simulator_available():
        connections = connections.exclude(kind=GatewayKind.SIMULATOR)
    return connections


def default_connection() -> GatewayConnection:
    """The usable connection marked default for alerts, else a real one, else any."""
    connection = (
        usable_connections()
        .annotate(simulated=Case(When(kind=GatewayKind.SIMULATOR, then=1), default=0))
        .order_by("-is_default", "simulated", "pk")
        .first()
    )
    if connection is None:
        raise NoConnection("no enabled WhatsApp connection")
    return connection


def queue_message(
    to: str,
    body: str = "",
    *,
    connection: GatewayConnection | None = None,
    purpose: str = Purpose.CUSTOMER,
    media_url: str = "",
    quoted_id: str = "",
    context: dict[str, Any] | None = None,
) -> OutboundMessage:
    """Write an OutboundMessage row due now; the sender loop is woken after commit."""
    if not body and not media_url:
        raise ValueError("a message needs a body or a media URL")
    connection = connection or default_connection()
    message = insert(
        OutboundMessage(
            connection=connection,
            to=to,
            body=body,
            media_url=media_url,
            quoted_id=quoted_id,
            purpose=purpose,
            context=context or {},
            next_attempt_at=timezone.now(),
        )
    )
    _wake_sender_on_commit()
    publish_status(message)
    return message


def _wake_sender_on_commit() -> None:
    """Wake the sender once the transaction commits: once, however many messages it queues
    (a hand-over batch queues dozens, each a NOTIFY when the sender runs in another process).
    One already waiting here survives every rollback this message survives: it was registered
    in savepoints that are released or still open around this message."""
    connection = transaction.get_connection()
    if not (connection.in_atomic_block and _wake_waiting(connection.run_on_commit)):
        transaction.on_commit(wake_sender)


def _wake_waiting(hooks: Any) -> bool:
    """Whether `wake_sender` is among Django's pending commit hooks (`(savepoints, func,
    robust)` entries, a private shape): if the shape changes, a wake-up too many, nothing
    worse."""
    try:
        return any(entry[1] is wake_sender for entry in hooks)
    except (TypeError, IndexError, KeyError):
        return False


def publish_status(message: OutboundMessage, status: str | None = None) -> None:
    """`message:status` after commit to admins and to whoever the message's context names:
    extra `groups`, and the conversation it belongs to (whose screen shows its ticks)."""
    context = message.context if isinstance(message.context, dict) else {}
    groups = ["role.admin"]
    extra = context.get("groups")
    if isinstance(extra, list):
        groups.extend(group for group in extra if isinstance(group, str) and group)
    event: dict[str, Any] = {
        "type": "message:status",
        "message": later_pk(message),
        "status": status or message.status,
    }
    conversation = context.get("conversation")
    if isinstance(conversation, int):
        groups += [f"conversation.{conversation}", "role.supervisor"]
        event["conversation"] = conversation
    send_event_on_commit(groups, event)


def wake_sender() -> None:
    """Wake the sender loop, here or in another process (`lib.wakeups`)."""
    wake(SENDER)
