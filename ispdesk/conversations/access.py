"""Which conversations a person may see and act on; the only way views fetch one for a user.

Supervisors and admins see every conversation. An operator sees the chats assigned to them,
the chats of their areas, the general queue (unassigned chats without an area, which any
operator may take), and the earlier, closed chats of the customers they are serving now.
Anyone else sees none. A conversation someone may not see is a 404, so guessing ids reveals
nothing; the websocket refuses to join it for the same reason.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, Q
from django.http import Http404

from ispdesk.conversations.models import Conversation, ConversationQuerySet, ConversationStatus
from ispdesk.operators.models import Operator


def _active_user(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def operator_of(user: Any) -> Operator | None:
    if not _active_user(user):
        return None
    return Operator.objects.filter(user_id=user.pk, active=True).first()


def conversation_rows() -> ConversationQuerySet:
    """Conversations with what a list row needs, in the same query."""
    return Conversation.objects.select_related("contact", "area", "assignee__user")


def visibility(user: Any) -> Q | None:
    """The filter of what `user` may see; None = everything; an impossible Q = nothing."""
    if not _active_user(user):
        return Q(pk__in=[])
    if user.is_supervisor_or_admin:
        return None
    area_ids = Operator.areas.through.objects.filter(
        operator__user_id=user.pk, operator__active=True
    ).values("area_id")
    # Customers I am serving now: their earlier chats are part of the story, whichever
    # area they were in (read-only: acting needs the chat to be mine or my queue's).
    serving = Conversation.objects.active().filter(assignee__user_id=user.pk).values("contact_id")
    # Only while an active operator: checked in the same statement (the database answers it
    # once, not per row) rather than in a query of its own before each list.
    is_operator = Exists(Operator.objects.filter(user_id=user.pk, active=True))
    return Q(is_operator) & (
        Q(assignee__user_id=user.pk)
        | Q(area_id__in=area_ids)
        # The general queue (no area) is every operator's.
        | Q(area__isnull=True, assignee__isnull=True, status=ConversationStatus.PENDING)
        | Q(status=ConversationStatus.CLOSED, contact_id__in=serving)
    )


def conversations_for(user: Any) -> ConversationQuerySet:
    rows = conversation_rows()
    condition = visibility(user)
    return rows if condition is None else rows.filter(condition)


def access_conversation(user: Any, conversation_id: int) -> Conversation:
    conversation = conversations_for(user).filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("conversation not found")
    return conversation


def may_act_on(user: Any, conversation: Conversation) -> bool:
    """Supervisors act on any chat; an operator on their own and on the waiting chats of
    their queues (a chat with the bot is nobody's yet)."""
    if user.is_supervisor_or_admin:
        return True
    if conversation.assignee is not None:
        return bool(conversation.assignee.user_id == user.pk)
    return conversation.status == ConversationStatus.PENDING


def may_see_area(user: Any, area_id: int) -> bool:
    if not _active_user(user):
        return False
    if user.is_supervisor_or_admin:
        return True
    return Operator.areas.through.objects.filter(
        operator__user_id=user.pk, operator__active=True, area_id=area_id
    ).exists()
