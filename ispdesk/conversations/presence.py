"""Presence: online / away / offline, from the agent console's websocket.

The console says hello when it opens, pings every 25 seconds and goes away when the socket
closes; each open console is a `ConsoleSession` row. Online = a session heard from within
`PRESENCE_TIMEOUT`. An operator who comes online (or back from away) may take waiting chats
at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ispdesk.conversations.access import operator_of
from ispdesk.conversations.queue import (
    PRESENCE_TIMEOUT,
    drain_after_commit,
    online_operator_ids,
    queues_of,
)
from ispdesk.operators.models import ConsoleSession, Operator
from ispdesk.realtime.events import send_event_on_commit

ONLINE = "online"
AWAY = "away"
OFFLINE = "offline"
# Sessions not heard from for this long are deleted by the routing job.
STALE_AFTER = PRESENCE_TIMEOUT * 4


def presence_of(operators: Iterable[Operator], now: datetime | None = None) -> dict[int, str]:
    now = now or timezone.now()
    operators = list(operators)
    online = online_operator_ids([operator.pk for operator in operators], now)
    return {
        operator.pk: (AWAY if operator.away else ONLINE) if operator.pk in online else OFFLINE
        for operator in operators
    }


def _announce(operator: Operator, state: str) -> None:
    send_event_on_commit(
        ["role.supervisor", "role.admin", f"user.{operator.user_id}"],
        {"type": "presence:update", "operator": operator.pk, "presence": state},
    )


def console_opened(user: Any, channel_name: str) -> dict[str, Any]:
    """A console says hello: record the session; coming online drains the queues."""
    operator = operator_of(user)
    if operator is None:
        return {"type": "presence", "presence": OFFLINE}
    now = timezone.now()
    with transaction.atomic():
        was_online = bool(online_operator_ids([operator.pk], now))
        ConsoleSession.objects.update_or_create(
            channel_name=channel_name[:200],
            defaults={"operator": operator, "connected_at": now, "last_seen_at": now},
        )
        state = AWAY if operator.away else ONLINE
        if not was_online:
            _announce(operator, state)
            if not operator.away:
                drain_after_commit(queues_of(operator))
    return {"type": "presence", "presence": state}


def console_heartbeat(user: Any, channel_name: str) -> None:
    ConsoleSession.objects.filter(channel_name=channel_name[:200]).update(
        last_seen_at=timezone.now()
    )


def console_closed(user: Any, channel_name: str) -> None:
    session = ConsoleSession.objects.filter(channel_name=channel_name[:200]).first()
    if session is None:
        return
    with transaction.atomic():
        session.delete()
        operator = Operator.objects.select_related("user").get(pk=session.operator_id)
        if not online_operator_ids([operator.pk], timezone.now()):
            _announce(operator, OFFLINE)


def do_set_away(actor: Any, away: bool) -> str:
    """The operator's own "away": no new chats, keeps current ones."""
    operator = operator_of(actor)
    if operator is None:
        return OFFLINE
    with transaction.atomic():
        Operator.objects.filter(pk=operator.pk).update(away=away)
        operator.away = away
        state = presence_of([operator])[operator.pk]
        _announce(operator, state)
        if not away:
            drain_after_commit(queues_of(operator))
    return state


def prune_sessions(now: datetime | None = None) -> int:
    """Forget consoles that vanished without closing their socket (a laptop lid closed),
    telling supervisors their operator is offline."""
    now = now or timezone.now()
    stale = ConsoleSession.objects.filter(last_seen_at__lt=now - STALE_AFTER)
    operator_ids = set(stale.values_list("operator_id", flat=True))
    with transaction.atomic():
        deleted, _rows = stale.delete()
        gone = operator_ids - online_operator_ids(operator_ids, now)
        for operator in Operator.objects.filter(pk__in=gone).select_related("user"):
            _announce(operator, OFFLINE)
    return deleted
