"""Publishing real-time events to websocket groups, only after the transaction commits.

An event is small JSON with a `type` (`ticket:update`, `session:status`, ...) and ids; pages
refetch their own fragments when they receive one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The consumer method that forwards a layer message to its websocket (`event.forward`).
LAYER_MESSAGE_TYPE = "event.forward"
SEND_TIMEOUT_SECONDS = 5

# The event loop the websocket consumers of this process run in (see `_group_send`).
_consumer_loop: asyncio.AbstractEventLoop | None = None


def remember_consumer_loop() -> None:
    """Called by a consumer as it connects, from inside its event loop."""
    global _consumer_loop
    _consumer_loop = asyncio.get_running_loop()


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _group_send(layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
    loop = _consumer_loop
    if (
        isinstance(layer, InMemoryChannelLayer)
        and loop is not None
        and loop.is_running()
        and _current_loop() is not loop
    ):
        # The in-memory layer's queues belong to the consumers' event loop and are not
        # thread-safe: a background thread (scheduler, sender) must hand the send to it.
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        future.result(timeout=SEND_TIMEOUT_SECONDS)
        return
    async_to_sync(layer.group_send)(group, message)


def publish_now(groups: Iterable[str], event: dict[str, Any]) -> None:
    """Send an event to groups immediately. Prefer `send_event_on_commit`."""
    if "type" not in event:
        raise ValueError("an event needs a 'type'")
    layer = get_channel_layer()
    if layer is None:
        return
    for group in dict.fromkeys(groups):
        try:
            _group_send(layer, group, {"type": LAYER_MESSAGE_TYPE, "event": event})
        except Exception:
            # Real-time delivery is best effort; pages resync from the database on reconnect.
            logger.exception("could not publish %s to %s", event.get("type"), group)


def send_event_on_commit(groups: Iterable[str], event: dict[str, Any]) -> None:
    """Publish once the current transaction commits (at once when none is open)."""
    frozen_groups = list(groups)
    frozen_event = dict(event)
    if "type" not in frozen_event:
        raise ValueError("an event needs a 'type'")
    transaction.on_commit(lambda: publish_now(frozen_groups, frozen_event), robust=True)
