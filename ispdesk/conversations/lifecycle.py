"""Transitions shared by the inbound path, the bot and the operators' actions.

Each works on a conversation the caller has locked (or just created) and saves it; the
caller publishes and drains queues after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from ispdesk.lib.memo import in_memo_scope, remember, remembered
from ispdesk.lib.rawsql import SelectRows, column, in_chunks, insert_row, marks
from ispdesk.messaging.models import GatewayConnection
from ispdesk.operators.hours import area_opening_now, describe_opening
from ispdesk.operators.models import Area, Operator

# A courtesy message for an area that never opens is not repeated for this long.
NEVER_OPENS_QUIET = timedelta(days=1)


def live_key(contact: Contact, connection: GatewayConnection) -> str:
    return f"{contact.pk}:{connection.pk}"


def live_conversation(
    contact: Contact,
    connection: GatewayConnection,
    chat_id: str,
    now: datetime,
    *,
    new_contact: bool = False,
) -> tuple[Conversation, bool]:
    """The contact's open conversation on this number, locked; a new one when none is.

    Two messages of a new customer can arrive at once: the unique `live_key` lets one
    insert win and the other find (and wait for) that row. In a batch (a memo scope) the
    chat is read once and the same instance serves each of its messages (see
    `lock_live_conversations`). A contact created in this transaction (`new_contact`) has
    none yet: none is looked for.
    """
    key = live_key(contact, connection)
    if not new_contact:
        found = remembered(_memo_key(key), lambda: _read_live(key))
        if (found := _attached(found, key, contact, connection)) is not None:
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
        # Someone else opened it since the batch looked (an operator's new chat).
        found = _attached(_read_live(key), key, contact, connection)
        if found is None:
            raise
        remember(_memo_key(key), found)
        return found, False
    remember(_memo_key(key), created)
    return created, True


def lock_live_conversations(pairs: Iterable[tuple[int, int]]) -> None:
    """In a batch (a memo scope): lock and read, in one query, the live conversations of
    these (contact id, connection id) pairs, and remember which have none, so the batch's
    messages find them without a query each. Locked in id order, as one chat at a time
    would lock them whatever the batch's order; nothing else locks several chats and waits
    (the queue's drain skips locked ones)."""
    if not in_memo_scope():
        return
    keys = sorted({f"{contact_id}:{connection_id}" for contact_id, connection_id in pairs})
    for chunk in in_chunks(keys):
        found = {
            conversation.live_key: conversation
            for conversation in _select_live_in(db_connection.vendor, len(chunk)).instances(chunk)
        }
        for key in chunk:
            remember(_memo_key(key), found.get(key))


def _memo_key(key: str) -> tuple[str, str]:
    return ("live_conversation", key)


@cache
def _select_live_in(vendor: str, count: int) -> SelectRows[Conversation]:
    """The conversations of `count` live keys (unique), locked in id order; hand-written
    (`lib.rawsql`): read for every batch, or for one message, compiling a queryset cost
    more than running it."""
    return SelectRows.where(
        Conversation,
        f"{column(Conversation, 'live_key')} IN ({marks(count)})"
        f" ORDER BY {column(Conversation, 'id')}",
        lock=True,
    )


def _read_live(key: str) -> Conversation | None:
    rows = _select_live_in(db_connection.vendor, 1).instances([key])
    return rows[0] if rows else None


def _attached(
    found: Conversation | None, key: str, contact: Contact, connection: GatewayConnection
) -> Conversation | None:
    """The live conversation read by `key` (None once closed: a batch's earlier message may
    have closed it), with what the caller has attached: the contact and connection it was
    looked up by, the area and assignee once per batch."""
    if found is None or found.live_key != key:
        return None
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
    opening = area_opening_now(conversation.area_id, now)
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
