"""The one websocket: authenticated users join their groups and receive events."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ispdesk.realtime.events import remember_consumer_loop

logger = logging.getLogger(__name__)

# Close code for "not authenticated" (4000-4999 is the application range).
CLOSE_UNAUTHENTICATED = 4401
# The frame that carries several events in order: {"type": "bundle", "events": [...]}; the
# page's realtime.js hands them out one by one, as if each had come in a frame of its own.
BUNDLE_FRAME = "bundle"

# Groups a page may join on request with {"type": "subscribe", "group": "<prefix>.<suffix>"}:
# prefix → check(user, group), run in a thread (it may use the ORM). Apps register their own
# (the WhatsApp simulator: `simulator.<phone digits>`), so realtime imports none of them.
SubscriptionCheck = Callable[[Any, str], bool]
_subscriptions: dict[str, SubscriptionCheck] = {}
_GROUP_NAME = re.compile(r"(?P<prefix>[a-z]+)\.[A-Za-z0-9_-]{1,80}")
MAX_SUBSCRIPTIONS = 10
# How many event ids a console remembers at least, to forward each event once: an event's
# copies in its several groups arrive together, or one group's whole bundle apart (then it
# remembers twice the largest bundle it got).
RECENT_EVENT_IDS = 512
# Channel-layer messages whose handlers never touch the database. Channels closes stale
# database connections before every handler, a hop to a thread and back each time; a console
# forwarding a storm's events paid it for every frame (4% of a web worker's CPU under py-spy).
# Handlers that do use the database run it in `database_sync_to_async`, which closes stale
# connections itself.
_WITHOUT_DATABASE = frozenset({"event.forward", "event.bundle"})


def register_subscription(prefix: str, check: SubscriptionCheck) -> None:
    _subscriptions[prefix] = check


# Other frames a page may send (`{"type": "console:hello"}`), handled by the app that
# registers the type: handler(user, channel_name, frame), run in a thread; a returned dict is
# sent back. Lifecycle hooks hear every heartbeat and the close (presence, for one).
FrameHandler = Callable[[Any, str, dict[str, Any]], "dict[str, Any] | None"]
LifecycleHook = Callable[[Any, str], None]
_frame_handlers: dict[str, FrameHandler] = {}
_heartbeat_hooks: list[LifecycleHook] = []
_close_hooks: list[LifecycleHook] = []


def register_frame_handler(frame_type: str, handler: FrameHandler) -> None:
    _frame_handlers[frame_type] = handler


def register_lifecycle_hooks(*, heartbeat: LifecycleHook, closed: LifecycleHook) -> None:
    if heartbeat not in _heartbeat_hooks:
        _heartbeat_hooks.append(heartbeat)
    if closed not in _close_hooks:
        _close_hooks.append(closed)


@database_sync_to_async
def _run_hooks(hooks: list[LifecycleHook], user: Any, channel_name: str) -> None:
    for hook in list(hooks):
        try:
            hook(user, channel_name)
        except Exception:
            logger.exception("websocket hook %s failed", getattr(hook, "__name__", hook))


@database_sync_to_async
def _handle_frame(
    handler: FrameHandler, user: Any, channel_name: str, frame: dict[str, Any]
) -> dict[str, Any] | None:
    try:
        return handler(user, channel_name, frame)
    except Exception:
        logger.exception("websocket frame %s failed", frame.get("type"))
        return None


@database_sync_to_async
def _may_subscribe(user: Any, group: str) -> bool:
    match = _GROUP_NAME.fullmatch(group)
    check = _subscriptions.get(match["prefix"]) if match else None
    if check is None or user is None or not user.is_authenticated:
        return False
    user.refresh_from_db(fields=["role", "is_active"])
    return bool(user.is_active and check(user, group))


@database_sync_to_async
def _groups_for(user: Any) -> list[str]:
    user.refresh_from_db(fields=["role", "is_active"])
    if not user.is_active:
        return []
    return list(user.realtime_groups)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]
    _own_groups: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recent_ids: dict[int, None] = {}  # insertion-ordered: the oldest goes first
        self._remembered = RECENT_EVENT_IDS

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") in _WITHOUT_DATABASE:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        self.groups_joined = []
        self._own_groups = []
        remember_consumer_loop()
        user = self.scope.get("user")
        groups = await _groups_for(user) if user is not None and user.is_authenticated else []
        # Accept, then close: a refused handshake reaches the browser as a bare 1006, while
        # 4401 tells the page to log in again instead of reconnecting forever.
        await self.accept()
        if not groups:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = list(groups)
        self._own_groups = groups
        await self.send_json({"type": "hello", "groups": groups})

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.groups_joined and _close_hooks:
            await _run_hooks(_close_hooks, self.scope.get("user"), self.channel_name)
        self.groups_joined = []

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # A malformed frame is ignored: it is no reason to drop the connection with a 1011.
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            return
        # The browser sends heartbeats; answer so it can detect dead connections.
        if not isinstance(content, dict) or not self.groups_joined:
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
            if _heartbeat_hooks:
                await _run_hooks(_heartbeat_hooks, self.scope.get("user"), self.channel_name)
        elif kind == "subscribe":
            await self._subscribe(content.get("group"))
        elif kind == "unsubscribe":
            await self._unsubscribe(content.get("group"))
        elif isinstance(kind, str) and kind in _frame_handlers:
            reply = await _handle_frame(
                _frame_handlers[kind], self.scope.get("user"), self.channel_name, content
            )
            if reply is not None:
                await self.send_json(reply)

    async def _unsubscribe(self, group: Any) -> None:
        # A page leaves a group it asked for (the console switching chats); never its own.
        if isinstance(group, str) and group in self.groups_joined and group not in self._own_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.remove(group)
            await self.send_json({"type": "unsubscribed", "group": group})

    async def _subscribe(self, group: Any) -> None:
        if not isinstance(group, str) or not self.groups_joined:
            return
        if group not in self.groups_joined:
            allowed = len(self.groups_joined) < len(self._own_groups) + MAX_SUBSCRIPTIONS
            if not allowed or not await _may_subscribe(self.scope.get("user"), group):
                await self.send_json({"type": "subscribe:denied", "group": group[:100]})
                return
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.send_json({"type": "subscribed", "group": group})

    def _first_time(self, event_id: int | None) -> bool:
        """Whether the event with this id has not been forwarded yet (it reaches every group
        of this console it was published to)."""
        if event_id is None:
            return True
        recent = self._recent_ids
        if event_id in recent:
            return False
        recent[event_id] = None
        if len(recent) > self._remembered:
            del recent[next(iter(recent))]
        return True

    async def event_forward(self, message: dict[str, Any]) -> None:
        if self._first_time(message.get("id")):
            await self.send_json(message["event"])

    async def event_bundle(self, message: dict[str, Any]) -> None:
        # One frame for the lot: one encoding and one socket write instead of one per event
        # (a storm's hand-over batch publishes dozens of events to each area's consoles).
        events = message["events"]
        ids = message.get("ids") or [None] * len(events)
        self._remembered = max(self._remembered, 2 * len(events))
        events = [e for e, event_id in zip(events, ids, strict=True) if self._first_time(event_id)]
        if events:
            await self.send_json(
                events[0] if len(events) == 1 else {"type": BUNDLE_FRAME, "events": events}
            )
