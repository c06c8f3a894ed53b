"""What every conversation change shares: a history event, a chat line, a real-time event.

Lines we send go out through the outbox in the same transaction; events are published after
commit to the groups entitled to the conversation (see `Conversation.groups`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.utils import timezone

from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    Message,
    Sender,
)
from ispdesk.lib.bulk import insert
from ispdesk.messaging.message_templates import render_message
from ispdesk.messaging.models import Purpose
from ispdesk.messaging.outbox import queue_message
from ispdesk.operators.models import Area, Operator
from ispdesk.realtime.events import later_pk, send_event_on_commit
from ispdesk.system.config import get_config

PREVIEW_LENGTH = 200
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([!,.?])")


def moment(now: datetime) -> datetime:
    """When a line or event happens: the action's `now`, or the clock if it has moved on, so
    the lines and events one action writes keep the order they were written in."""
    return max(now, timezone.now())


def actor_user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def log_event(
    conversation: Conversation,
    kind: str,
    now: datetime,
    *,
    actor: Any = None,
    operator: Operator | None = None,
    area: Area | None = None,
    detail: str = "",
) -> ConversationEvent:
    return insert(
        ConversationEvent(
            conversation=conversation,
            kind=kind,
            actor=actor_user(actor),
            operator=operator,
            area=area,
            detail=detail[:500],
            created_at=moment(now),
        )
    )


def announce(conversation: Conversation, event_type: str, *extra_groups: str) -> None:
    """`conversation:update` and friends: small JSON, pages refetch what they show."""
    send_event_on_commit(
        [*conversation.groups(), *extra_groups],
        {
            "type": event_type,
            "conversation": conversation.pk,
            "status": conversation.status,
            "area": conversation.area_id,
            "assignee": conversation.assignee_id,
            "version": conversation.version,
        },
    )


def announce_message(conversation: Conversation, message: Message) -> None:
    send_event_on_commit(
        conversation.groups(),
        {
            "type": "message:new",
            "conversation": conversation.pk,
            "message": later_pk(message),
            "sender": message.sender,
            "version": conversation.version,
        },
    )


def note_line(conversation: Conversation, message: Message) -> None:
    """Keep the list fields the console shows in step with the newest line."""
    conversation.last_message_at = message.created_at
    preview = message.text or message.media_url
    conversation.last_message_preview = " ".join(preview.split())[:PREVIEW_LENGTH]


def say(
    conversation: Conversation,
    text: str,
    now: datetime,
    *,
    sender: str = Sender.BOT,
    author: Any = None,
) -> Message:
    """Send `text` to the customer: an outbox row plus the chat line that shows it."""
    outbound = queue_message(
        conversation.chat_id,
        text,
        connection=conversation.connection,
        purpose=Purpose.CUSTOMER,
        context={"conversation": conversation.pk},
    )
    message = insert(
        Message(
            conversation=conversation,
            sender=sender,
            text=text,
            author=actor_user(author),
            outbound=outbound,
            created_at=moment(now),
        )
    )
    note_line(conversation, message)
    announce_message(conversation, message)
    return message


def customer_name(conversation: Conversation) -> str:
    """The first name to greet the customer with ("" when we don't know it)."""
    name = conversation.contact.name.strip()
    if not name or name == "Desconocido":
        return ""
    return name.split()[0]


def say_template(conversation: Conversation, key: str, now: datetime, **values: str) -> Message:
    """Send a customer message template, greeting the customer by name when we know it."""
    name = customer_name(conversation)
    text = render_message(key, {"customer": name, **values}).text
    if not name:
        # "¡Hola !" and ", te atiende Ana" read badly without the name: tidy them.
        text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text).lstrip(" ,")
        text = text[:1].upper() + text[1:]
    return say(conversation, text, now, sender=Sender.SYSTEM)


def company_name() -> str:
    return str(get_config("company_name"))
