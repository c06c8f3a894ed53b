"""Transitions shared by the inbound path, the bot and the operators' actions.

Each works on a conversation the caller has locked (or just created) and saves it; the
caller publishes and drains queues after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import IntegrityError
from django.db import connection as db_connection

from ispdesk.contacts.models import Contact
from ispdesk.conversations.history import (
    announce,
    company_name,
    log_event,
    say,
    say_template,
)
from ispdesk.conversations.models import (
    CloseReason,
    Conversation,
    ConversationStatus,
    EventKind,
    Sender,
)
from ispdesk.lib.atomic import guarded
from ispdesk.lib.memo import remembered
from ispdesk.lib.rawsql import SelectRows, column, insert_row
from ispdesk.messaging.models import GatewayConnection
from ispdesk.operators.hours import area_openings, describe_opening
from ispdesk.operators.models import Area, Operator

# A courtesy message for an area that never opens is not repeated for this long.
NEVER_OPENS_QUIET = timedelta(days=1)


def live_key(contact: Contact, connection: GatewayConnection) -> str:
    return f"{contact.pk}:{connection.pk}"


def live_conversation(
    contact: Contact, connection: GatewayConnection, chat_id: str, now: datetime
) -> tuple[Conversation, bool]:
    """The contact's open conversation on this number, locked; a new one when none is.

    Two messages of a new customer can arrive at once: the unique `live_key` lets one
    insert win and the other find (and wait for) that row.
    """
    key = live_key(contact, connection)
    found = _locked_live(key, contact, connection)
    if found is not None:
        return found, False
    try:
        created = Conversation(
            contact=contact,
            connection=connection,
            chat_id=chat_id,
            live_key=key,
            status=ConversationStatus.BOT,
            last_message_at=now,
            created_at=now,
        )
        with guarded():
            # Hand-written (`lib.rawsql`): once per new chat, where the ORM's save cost
            # several times the INSERT itself.
            insert_row(created)
    except IntegrityError:
        found = _locked_live(key, contact, connection)
        if found is None:
            raise
        return found, False
    return created, True


@cache
def _select_live(vendor: str) -> SelectRows[Conversation]:
    """The conversation by its (unique) live key, locked; hand-written (`lib.rawsql`): once
    per incoming message, compiling the queryset cost more than running it."""
    return SelectRows.where(Conversation, f"{column(Conversation, 'live_key')} = %s", lock=True)


def _locked_live(key: str, contact: Contact, connection: GatewayConnection) -> Conversation | None:
    """Lock and read the live conversation alone, and attach what the caller has: the
    contact and connection it was looked up by, the area and assignee once per batch."""
    rows = _select_live(db_connection.vendor).instances([key])
    if not rows:
        return None
    found = rows[0]
    found.contact = contact
    found.connection = connection
    if (area_id := found.area_id) is not None and (
        area := remembered(("area", area_id), lambda: Area.objects.filter(pk=area_id).first())
    ):
        found.area = area
    if (assignee_id := found.assignee_id) is not None and (
        assignee := remembered(
            ("operator", assignee_id), lambda: Operator.objects.filter(pk=assignee_id).first()
        )
    ):
        found.assignee = assignee
    return found


def lock_conversation(**lookup: Any) -> Conversation | None:
    """Lock one conversation row and read it with what actions need. Only that row: locking
    the contact or connection would serialise every chat (and PostgreSQL refuses FOR UPDATE
    across the nullable joins), so where the database cannot name the table to lock
    (MariaDB), the lock and the read are two queries."""
    related = ("contact", "connection", "area", "assignee__user")
    if db_connection.features.has_select_for_update_of:
        return (
            Conversation.objects.select_for_update(of=("self",))
            .select_related(*related)
            .filter(**lookup)
            .first()
        )
    pk = (
        Conversation.objects.select_for_update()
        .filter(**lookup)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        return None
    return Conversation.objects.select_related(*related).get(pk=pk)


def to_queue(
    conversation: Conversation,
    area_id: int | None,
    now: datetime,
    *,
    detail: str,
    kind: str = EventKind.QUEUED,
    actor: Any = None,
) -> None:
    """Put the chat in an area's queue (the general queue for no or an inactive area)."""
    area = (
        remembered(
            ("active_area", area_id),
            lambda: Area.objects.filter(pk=area_id, active=True).first(),
        )
        if area_id
        else None
    )
    conversation.status = ConversationStatus.PENDING
    conversation.area = area
    conversation.assignee = None
    conversation.queued_at = now
    conversation.flow_state = {}
    conversation.awaiting_human = True
    conversation.version += 1
    log_event(conversation, kind, now, actor=actor, area=area, detail=detail)
    courtesy_if_closed(conversation, now)


def courtesy_if_closed(conversation: Conversation, now: datetime) -> bool:
    """Outside the area's hours, tell the customer when we open: once per closed period."""
    if conversation.area_id is None:
        return False
    area_id = conversation.area_id
    # Opening hours are whole minutes: within a minute the answer (and the courtesy text) is
    # the same, so a batch of messages asks the database once per area and minute.
    minute = now.replace(second=0, microsecond=0)
    opening = remembered(
        ("area_opening", area_id, minute), lambda: area_openings([area_id], now)[area_id]
    )
    if opening.open:
        return False
    if conversation.courtesy_until is not None and now < conversation.courtesy_until:
        return False
    if opening.courtesy_message:
        say(conversation, opening.courtesy_message, now, sender=Sender.SYSTEM)
    else:
        when = describe_opening(opening.next_opening, now) if opening.next_opening else ""
        say_template(conversation, "after_hours", now, company=company_name(), next_opening=when)
    conversation.courtesy_until = opening.next_opening or now + NEVER_OPENS_QUIET
    log_event(conversation, EventKind.COURTESY, now, area=conversation.area)
    return True


def close(
    conversation: Conversation,
    now: datetime,
    *,
    reason: str,
    actor: Any = None,
    goodbye: str = "",
    detail: str = "",
) -> None:
    """Close the chat; the contact's next message opens a new one."""
    if goodbye:
        say(
            conversation,
            goodbye,
            now,
            sender=Sender.OPERATOR if actor else Sender.BOT,
            author=actor,
        )
    elif reason == CloseReason.AUTO:
        say_template(conversation, "auto_close", now, company=company_name())
    previous = conversation.assignee
    conversation.status = ConversationStatus.CLOSED
    conversation.live_key = None
    conversation.closed_at = now
    conversation.close_reason = reason
    conversation.queued_at = None
    conversation.flow_state = {}
    conversation.awaiting_human = False
    conversation.unread_count = 0
    conversation.version += 1
    conversation.save()
    log_event(conversation, EventKind.CLOSED, now, actor=actor, operator=previous, detail=detail)
    announce(conversation, "conversation:closed")
