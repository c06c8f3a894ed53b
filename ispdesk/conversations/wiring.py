"""Plugging the service desk into messaging and the websocket, without them importing it."""

from __future__ import annotations

from typing import Any

from ispdesk.realtime.consumers import (
    register_frame_handler,
    register_lifecycle_hooks,
    register_subscription,
)


def _may_join_area(user: Any, group: str) -> bool:
    from ispdesk.conversations.access import may_see_area, operator_of

    suffix = group.split(".", 1)[1]
    if suffix == "general":  # the general queue: every operator's
        return operator_of(user) is not None
    return suffix.isdigit() and may_see_area(user, int(suffix))


def _may_join_conversation(user: Any, group: str) -> bool:
    from ispdesk.conversations.access import conversations_for

    suffix = group.split(".", 1)[1]
    return suffix.isdigit() and conversations_for(user).filter(pk=int(suffix)).exists()


def _console_hello(user: Any, channel_name: str, frame: dict[str, Any]) -> dict[str, Any]:
    from ispdesk.conversations.presence import console_opened

    return console_opened(user, channel_name)


def _heartbeat(user: Any, channel_name: str) -> None:
    from ispdesk.conversations.presence import console_heartbeat

    console_heartbeat(user, channel_name)


def _closed(user: Any, channel_name: str) -> None:
    from ispdesk.conversations.presence import console_closed

    console_closed(user, channel_name)


def _handle_inbound(message: Any) -> None:
    from ispdesk.conversations.inbound import handle_inbound

    handle_inbound(message)


def _prepare_batch(messages: list[Any]) -> None:
    from ispdesk.contacts.actions import prefetch_whatsapp_contacts
    from ispdesk.conversations.lifecycle import lock_live_conversations

    contacts = prefetch_whatsapp_contacts((message.phone, message.lid) for message in messages)
    connection_ids = {message.connection_id for message in messages}
    lock_live_conversations(
        (contact.pk, connection_id) for contact in contacts for connection_id in connection_ids
    )


def _batch() -> Any:
    from ispdesk.conversations.queue import drains_deferred

    return drains_deferred()


def connect() -> None:
    from ispdesk.messaging.inbound import (
        register_batch_context,
        register_batch_preparer,
        register_inbound_handler,
    )

    register_inbound_handler(_handle_inbound)
    register_batch_context(_batch)
    register_batch_preparer(_prepare_batch)
    register_subscription("area", _may_join_area)
    register_subscription("conversation", _may_join_conversation)
    register_frame_handler("console:hello", _console_hello)
    register_lifecycle_hooks(heartbeat=_heartbeat, closed=_closed)
