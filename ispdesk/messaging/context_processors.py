"""Template context for the navigation: whether to offer the WhatsApp simulator."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ispdesk.messaging.simulator import simulator_available


def messaging(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"simulator_available": False}
    return {"simulator_available": simulator_available()}
