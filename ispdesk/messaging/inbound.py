"""Where stored inbound customer messages go next.

The service desk (conversations) registers a handler; until then messages are stored and
visible. Handlers run inside the webhook's transaction and must only write rows (and queue
outbox messages), never call a gateway.
"""

from __future__ import annotations

from collections.abc import Callable

from ispdesk.messaging.models import InboundMessage

InboundHandler = Callable[[InboundMessage], None]
_handlers: list[InboundHandler] = []


def register_inbound_handler(handler: InboundHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_inbound_handler(handler: InboundHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def hand_off(message: InboundMessage) -> None:
    for handler in list(_handlers):
        handler(message)
