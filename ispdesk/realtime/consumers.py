"""The one websocket: authenticated users join their groups and receive events."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

logger = logging.getLogger(__name__)

# Close code for "not authenticated" (4000-4999 is the application range).
CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def _groups_for(user: Any) -> list[str]:
    user.refresh_from_db(fields=["role", "is_active"])
    if not user.is_active:
        return []
    return list(user.realtime_groups)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        groups = await _groups_for(user)
        if not groups:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        await self.accept()
        await self.send_json({"type": "hello", "groups": groups})

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The browser sends heartbeats; answer so it can detect dead connections.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def event_forward(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
