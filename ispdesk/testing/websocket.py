"""An in-process websocket client for ASGI applications.

Channels ships one in `channels.testing`, but that package imports Daphne (its live server),
which ispdesk does not use; this is the same idea on asgiref's `ApplicationCommunicator`.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from asgiref.testing import ApplicationCommunicator

from ispdesk.realtime.consumers import BUNDLE_FRAME


class WebsocketClient(ApplicationCommunicator):
    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("localhost", 80),
        }
        super().__init__(application, scope)
        self.frames: list[Any] = []  # every frame received, as sent (bundles whole)
        self._unbundled: deque[Any] = deque()

    async def connect(self, timeout: float) -> tuple[bool, int | None]:
        """(True, None) when accepted; (False, close code) when refused."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, None

    async def send_text(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.send_input({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any) -> None:
        await self.send_text(json.dumps(data))

    async def receive_json(self, timeout: float) -> Any:
        """The next event, as the page's realtime.js hands them out: a bundle frame's events
        one by one (`frames` keeps the frames as they came)."""
        if self._unbundled:
            return self._unbundled.popleft()
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send" and "text" in response, response
        frame = json.loads(response["text"])
        self.frames.append(frame)
        if isinstance(frame, dict) and frame.get("type") == BUNDLE_FRAME:
            self._unbundled.extend(frame["events"])
            return self._unbundled.popleft()
        return frame

    async def disconnect(self, timeout: float, code: int = 1000) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
