"""A customer's message arrives: find the contact and conversation, let the bot answer,
queue the chat for a person when the bot hands it over.

Runs inside the hand-over batch's transaction (see `messaging.pending`): it only writes rows
and queues outbox messages. It never takes operator locks; queues drain after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ispdesk.contacts.actions import find_or_create_contact_for_whatsapp
from ispdesk.conversations.flows.engine import Close, FlowState, Handoff, Redirect, step
from ispdesk.conversations.flows.loading import load_flows
from ispdesk.conversations.history import announce, announce_message, log_event, note_line, say
from ispdesk.conversations.lifecycle import (
    close,
    courtesy_if_closed,
    live_conversation,
    to_queue,
)
from ispdesk.conversations.models import (
    CloseReason,
    Conversation,
    ConversationStatus,
    EventKind,
    Message,
    Sender,
)
from ispdesk.conversations.queue import drain_after_commit
from ispdesk.lib.bulk import insert, update_later
from ispdesk.lib.memo import remembered
from ispdesk.messaging.models import InboundMessage

logger = logging.getLogger(__name__)


def handle_inbound(message: InboundMessage) -> None:
    now = timezone.now()
    contact, contact_created = find_or_create_contact_for_whatsapp(
        phone=message.phone or None,
        lid=message.lid or None,
        jid=message.chat_id,
        profile_name=message.name,
    )
    conversation, created = live_conversation(
        contact, message.connection, message.chat_id, now, new_contact=contact_created
    )
    if created:
        earlier = (
            0
            if contact_created
            else Conversation.objects.filter(contact=contact).exclude(pk=conversation.pk).count()
        )
        log_event(
            conversation,
            EventKind.CREATED,
            now,
            detail=ngettext(
                "%(count)d earlier conversation", "%(count)d earlier conversations", earlier
            )
            % {"count": earlier}
            if earlier
            else "",
        )
        if contact_created:
            log_event(conversation, EventKind.CONTACT_CREATED, now, detail=contact.name)
    line = insert(
        Message(
            conversation=conversation,
            sender=Sender.CUSTOMER,
            text=message.text,
            media_url=message.media_url,
            inbound=message,
            created_at=now,
        )
    )
    note_line(conversation, line)
    conversation.last_inbound_at = now
    conversation.unread_count += 1
    conversation.version += 1
    announce_message(conversation, line)
    queued = False
    if conversation.status == ConversationStatus.BOT:
        queued = _bot_turn(conversation, message.text, now)
    elif conversation.status == ConversationStatus.PENDING:
        courtesy_if_closed(conversation, now)
    if conversation.status == ConversationStatus.CLOSED:
        return  # the bot's `end` closed it and announced it
    conversation.awaiting_human = conversation.status != ConversationStatus.BOT
    # Every column, as `save()` would, once per chat and batch (`lib.bulk`).
    update_later(conversation)
    announce(conversation, "conversation:incoming" if created or queued else "conversation:update")
    if queued:
        drain_after_commit([conversation.area_id], announce_ids=[conversation.pk])


def _bot_turn(conversation: Conversation, text: str, now: datetime) -> bool:
    """Let the bot answer; True when the chat was handed to a queue."""
    result = None
    if not conversation.connection.bot_paused:
        state = FlowState.from_json(conversation.flow_state) if conversation.flow_state else None
        try:
            flows = remembered("flows", load_flows)
            result = step(flows, state, text)
        except Exception:
            # A broken flow must not strand the customer: a person takes over.
            logger.exception("the bot failed on conversation %s", conversation.pk)
            result = None
        else:
            if result is not None and state is None and result.state is not None:
                flow = flows.flows.get(result.state.flow_id)
                log_event(
                    conversation, EventKind.FLOW_STARTED, now, detail=flow.name if flow else ""
                )
    if result is None:
        to_queue(
            conversation,
            conversation.contact.preferred_area_id,
            now,
            kind=EventKind.HANDOFF,
            detail=_("No bot flow applies: straight to a person."),
        )
        return True
    for reply in result.replies:
        say(conversation, reply, now, sender=Sender.BOT)
    conversation.flow_state = result.state.as_json() if result.state else {}
    for effect in result.effects:
        if isinstance(effect, Redirect | Handoff):
            to_queue(
                conversation, effect.area_id, now, kind=EventKind.HANDOFF, detail=effect.reason
            )
            return True
        if isinstance(effect, Close):
            close(conversation, now, reason=CloseReason.BOT, detail=effect.reason)
            return False
    return False
