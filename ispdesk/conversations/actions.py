"""What people do to conversations: reply, read, transfer, assign, take over, close.

Each action locks operators (by id) before the conversation, as the queue drain does, so
two actions never deadlock; writes a history event; sends real-time events on commit; and
drains the queues an operator's freed capacity can serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.conversations.access import may_act_on, operator_of
from ispdesk.conversations.history import announce, say
from ispdesk.conversations.lifecycle import close, lock_conversation, to_queue
from ispdesk.conversations.models import (
    CloseReason,
    Conversation,
    ConversationStatus,
    EventKind,
    Message,
    Sender,
)
from ispdesk.conversations.queue import assign, drain_after_commit, queues_of
from ispdesk.operators.models import Area, Operator
from ispdesk.system.audit import record_audit
from ispdesk.system.config import get_config

MAX_TEXT = 4096


class ConversationActionError(ValueError):
    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


def _is_supervisor(actor: Any) -> bool:
    return bool(getattr(actor, "is_supervisor_or_admin", False))


def _lock(conversation_id: int) -> Conversation:
    conversation = lock_conversation(pk=conversation_id)
    if conversation is None:
        raise Conversation.DoesNotExist(conversation_id)
    return conversation


def _lock_for(conversation_id: int, gaining: Operator | None = None) -> Conversation:
    """Lock the operator who gains a chat (capacity is checked under this lock, as the
    queue drain does), then the conversation."""
    if gaining is not None:
        list(Operator.objects.select_for_update().filter(pk=gaining.pk).values("pk"))
    return _lock(conversation_id)


def _open(conversation: Conversation) -> None:
    if conversation.status == ConversationStatus.CLOSED:
        raise ConversationActionError("conversation_closed", _("This conversation is closed."))


def _may_act(actor: Any, conversation: Conversation) -> None:
    """Operators act on their own chats and on waiting chats of their queues."""
    if may_act_on(actor, conversation):
        return
    if conversation.assignee is not None:
        raise ConversationActionError(
            "not_yours", _("This conversation is assigned to someone else.")
        )
    raise ConversationActionError(
        "not_waiting", _("This conversation is still with the bot; it is nobody's yet.")
    )


def clean_text(text: str) -> str:
    """Text from a person, without NUL characters (no database stores them)."""
    return text.replace("\x00", "").strip()


def _check_room(operator: Operator) -> None:
    """Under the operator's lock: no one takes a chat beyond their capacity."""
    load = Conversation.objects.filter(assignee=operator, status=ConversationStatus.OPEN).count()
    if load >= operator.chat_capacity:
        raise ConversationActionError(
            "operator_full",
            _("%(name)s has no room for another chat.") % {"name": operator.name},
            {"operator_id": _("full")},
        )


def _freed(operator: Operator | None) -> None:
    if operator is not None:
        drain_after_commit(queues_of(operator))


@dataclass(frozen=True)
class Sent:
    conversation: Conversation
    message: Message


def do_send_message(actor: Any, conversation_id: int, text: str) -> Sent:
    """An operator (or supervisor) answers. Answering an unassigned chat takes it."""
    text = clean_text(text)
    if not text:
        raise ConversationActionError(
            "validation_error", _("Write a message first."), {"text": _("required")}
        )
    if len(text) > MAX_TEXT:
        raise ConversationActionError(
            "validation_error",
            _("A message can have at most %(n)d characters.") % {"n": MAX_TEXT},
            {"text": _("too long")},
        )
    now = timezone.now()
    me = operator_of(actor)
    with transaction.atomic():
        conversation = _lock_for(conversation_id, me)
        _open(conversation)
        _may_act(actor, conversation)
        if conversation.assignee is None and me is not None:
            if not _is_supervisor(actor):
                _check_room(me)
            assign(conversation, me, now, reason=_("Took the chat by answering it."), actor=actor)
        message = say(conversation, text, now, sender=Sender.OPERATOR, author=actor)
        conversation.awaiting_human = False
        conversation.unread_count = 0
        conversation.first_response_at = conversation.first_response_at or now
        conversation.version += 1
        conversation.save()
        announce(conversation, "conversation:update")
    return Sent(conversation, message)


def do_mark_read(actor: Any, conversation_id: int) -> Conversation:
    """Clear the unread count: only the assignee's reading counts (a supervisor or colleague
    looking in must not hide new messages from them); anyone's for an unassigned chat."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        assignee = conversation.assignee
        if assignee is not None and assignee.user_id != getattr(actor, "pk", None):
            return conversation
        if conversation.unread_count:
            conversation.unread_count = 0
            conversation.version += 1
            conversation.save(update_fields=["unread_count", "version"])
            announce(conversation, "conversation:update")
    return conversation


def _target_operator(operator_id: int | None, username: str | None) -> Operator:
    query = Q(pk=operator_id) if operator_id is not None else Q(user__username=username or "")
    operator = (
        Operator.objects.select_related("user")
        .filter(query, active=True, user__is_active=True)
        .first()
    )
    if operator is None:
        raise ConversationActionError(
            "unknown_operator", _("No active operator matches."), {"operator": _("unknown")}
        )
    return operator


def do_transfer(
    actor: Any,
    conversation_id: int,
    *,
    area_id: int | None = None,
    operator_id: int | None = None,
    username: str | None = None,
    note: str = "",
) -> Conversation:
    """Hand the chat to an area's queue or to a named colleague, with an optional note."""
    now = timezone.now()
    note = clean_text(note)[:400]
    if area_id is None and operator_id is None and not username:
        raise ConversationActionError(
            "validation_error",
            _("Choose an area or an operator."),
            {"area_id": _("required"), "operator_id": _("required")},
        )
    target = _target_operator(operator_id, username) if area_id is None else None
    area = None
    if area_id is not None:
        area = Area.objects.filter(pk=area_id, active=True).first()
        if area is None:
            raise ConversationActionError(
                "unknown_area", _("No active area with that id."), {"area_id": _("unknown")}
            )
    with transaction.atomic():
        conversation = _lock_for(conversation_id, target)
        _open(conversation)
        _may_act(actor, conversation)
        previous = conversation.assignee
        # Whoever showed the chat before (the old area's queue, its assignee) hears of it too.
        before = conversation.groups()
        if target is not None:
            _transfer_to_operator(actor, conversation, target, now, note)
        else:
            to_queue(
                conversation, area_id, now, kind=EventKind.TRANSFERRED, actor=actor, detail=note
            )
            conversation.save()
            announce(conversation, "conversation:update", *before)
            drain_after_commit([area_id], announce_ids=[conversation.pk])
        _freed(previous)
        record_audit(actor, "conversation.transfer", conversation)
    return conversation


def _transfer_to_operator(
    actor: Any, conversation: Conversation, target: Operator, now: datetime, note: str
) -> None:
    if conversation.assignee_id == target.pk:
        raise ConversationActionError("no_change", _("The chat is already with that operator."))
    if not _is_supervisor(actor):
        _check_room(target)
    detail = _("To %(name)s.") % {"name": target.name} + (f" {note}" if note else "")
    assign(conversation, target, now, reason=detail, actor=actor, kind=EventKind.TRANSFERRED)


def do_assign(
    actor: Any, conversation_id: int, *, operator_id: int | None = None, username: str | None = None
) -> Conversation:
    """A supervisor gives the chat to someone (themselves to take it over)."""
    if not _is_supervisor(actor):
        raise ConversationActionError(
            "forbidden", _("Only supervisors and administrators assign chats.")
        )
    target = _target_operator(operator_id, username)
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock_for(conversation_id, target)
        _open(conversation)
        previous = conversation.assignee
        if previous is not None and previous.pk == target.pk:
            return conversation
        assign(
            conversation,
            target,
            now,
            reason=_("Assigned by %(name)s.") % {"name": actor.get_full_name() or actor.username},
            actor=actor,
        )
        _freed(previous)
        record_audit(actor, "conversation.assign", conversation)
    return conversation


def do_close(actor: Any, conversation_id: int, *, goodbye: str = "") -> Conversation:
    now = timezone.now()
    with transaction.atomic():
        conversation = _lock(conversation_id)
        _open(conversation)
        _may_act(actor, conversation)
        previous = conversation.assignee
        close(
            conversation,
            now,
            reason=CloseReason.OPERATOR,
            actor=actor,
            goodbye=clean_text(goodbye)[:MAX_TEXT],
        )
        _freed(previous)
        record_audit(actor, "conversation.close", conversation)
    return conversation


@dataclass(frozen=True)
class IdleRules:
    """When silence closes a chat: the global cutoff and areas' overrides (None = never)."""

    default: datetime | None
    overrides: dict[int, datetime | None]

    @classmethod
    def at(cls, now: datetime) -> IdleRules:
        minutes = int(get_config("auto_close_minutes"))
        rows = Area.objects.filter(auto_close_minutes__isnull=False).values_list(
            "pk", "auto_close_minutes"
        )
        return cls(
            default=now - timedelta(minutes=minutes) if minutes else None,
            overrides={
                area_id: (now - timedelta(minutes=value) if value else None)
                for area_id, value in rows
            },
        )

    def cutoff(self, area_id: int | None) -> datetime | None:
        if area_id is not None and area_id in self.overrides:
            return self.overrides[area_id]
        return self.default

    def condition(self) -> Q:
        found = Q(pk__in=[])
        if self.default is not None:
            found |= Q(last_message_at__lt=self.default) & ~Q(area_id__in=list(self.overrides))
        for area_id, cutoff in self.overrides.items():
            if cutoff is not None:
                found |= Q(area_id=area_id, last_message_at__lt=cutoff)
        return found

    def is_idle(self, conversation: Conversation) -> bool:
        cutoff = self.cutoff(conversation.area_id)
        return (
            cutoff is not None
            and not conversation.is_closed
            and not conversation.awaiting_human
            and conversation.last_message_at < cutoff
        )


AUTO_CLOSE_BATCH = 500


def do_auto_close(now: datetime | None = None) -> int:
    """Close idle chats with the auto-close message, never one whose customer still waits
    for a person; each close is its own transaction."""
    now = now or timezone.now()
    rules = IdleRules.at(now)
    ids = list(
        Conversation.objects.active()
        .filter(rules.condition(), awaiting_human=False)
        .order_by("last_message_at")
        .values_list("pk", flat=True)[:AUTO_CLOSE_BATCH]
    )
    closed = 0
    for conversation_id in ids:
        with transaction.atomic():
            conversation = _lock(conversation_id)
            if not rules.is_idle(conversation):  # the customer wrote meanwhile
                continue
            previous = conversation.assignee
            close(conversation, now, reason=CloseReason.AUTO, detail=_("No activity."))
            _freed(previous)
            closed += 1
    return closed
