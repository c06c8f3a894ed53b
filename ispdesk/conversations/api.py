"""Conversations API: the console's lists, one chat with its history and messages, and what
people do to chats (reply, read, transfer, assign, close), plus the operator's "away".

Every conversation is fetched through `access_conversation`: someone who may not see a chat
gets 404, never 403, so ids reveal nothing. Refusals from the actions keep their codes:
409 for the chat's state, 422 for a bad value, 403 for what the person's role forbids.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.api_errors import ApiError
from ispdesk.conversations import filters as chat_filters
from ispdesk.conversations.access import (
    access_conversation,
    conversation_rows,
    conversations_for,
    operator_of,
)
from ispdesk.conversations.actions import (
    ConversationActionError,
    do_assign,
    do_close,
    do_mark_read,
    do_send_message,
    do_transfer,
)
from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
)
from ispdesk.conversations.presence import do_set_away
from ispdesk.conversations.schemas import (
    AssignIn,
    CloseIn,
    ConversationDetailOut,
    ConversationFilters,
    ConversationOut,
    ConversationPageOut,
    MessageFilters,
    MessageOut,
    MessagePageOut,
    PresenceIn,
    PresenceOut,
    SendIn,
    TransferIn,
)
from ispdesk.operators.models import Area, Operator

# A cursor carries a row's time; anything outside these years was not made by us.
MIN_CURSOR_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CURSOR_TIME = datetime(9000, 1, 1, tzinfo=UTC)

router = Router(tags=["conversations"])

CONFLICT_CODES = frozenset({"conversation_closed", "not_yours", "operator_full", "no_change"})
FORBIDDEN_CODES = frozenset({"forbidden"})
EARLIER_LIMIT = 20
# A chat passed back and forth for months keeps its whole history, but the detail answers
# with the newest events only: what it costs stays bounded.
DETAIL_EVENTS = 100


@contextmanager
def _action_errors() -> Iterator[None]:
    """Answer an action's refusal with its code: 409 for the chat's state, 403 for the
    person's role, 422 for a bad value (validation_error, unknown_operator, unknown_area)."""
    try:
        yield
    except ConversationActionError as exc:
        if exc.code in CONFLICT_CODES:
            status = 409
        elif exc.code in FORBIDDEN_CODES:
            status = 403
        else:
            status = 422
        raise ApiError(status, exc.code, exc.message, exc.fields or None) from None


# Rows


def _area_ref(area: Area | None) -> dict[str, Any] | None:
    return {"id": area.pk, "name": area.name} if area is not None else None


def _operator_ref(operator: Operator | None) -> dict[str, Any] | None:
    return {"id": operator.pk, "name": operator.name} if operator is not None else None


def _waiting_seconds(conversation: Conversation, now: datetime) -> int | None:
    since = None
    if conversation.status == ConversationStatus.PENDING:
        since = conversation.queued_at
    elif conversation.status == ConversationStatus.OPEN and conversation.awaiting_human:
        since = conversation.last_inbound_at
    return max(0, int((now - since).total_seconds())) if since is not None else None


def conversation_out(conversation: Conversation, now: datetime) -> dict[str, Any]:
    """A list row; `contact`, `area` and `assignee__user` must be loaded with the row."""
    contact = conversation.contact
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "contact": {
            "id": contact.pk,
            "name": contact.name,
            "phone": contact.phone,
            "dni": contact.dni,
        },
        "area": _area_ref(conversation.area),
        "assignee": _operator_ref(conversation.assignee),
        "last_message_at": conversation.last_message_at,
        "last_message_preview": conversation.last_message_preview,
        "unread_count": conversation.unread_count,
        "awaiting_human": conversation.awaiting_human,
        "queued_at": conversation.queued_at,
        "waiting_seconds": _waiting_seconds(conversation, now),
        "version": conversation.version,
    }


def _event_out(event: ConversationEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "kind_label": event.get_kind_display(),
        "created_at": event.created_at,
        "actor": event.actor.display_name if event.actor is not None else None,
        "operator": _operator_ref(event.operator),
        "area": _area_ref(event.area),
        "detail": event.detail,
    }


def _detail(user: Any, conversation: Conversation) -> dict[str, Any]:
    contact = conversation.contact
    # Earlier chats of the same customer, as far as this person may see them (an operator
    # never learns about another area's chats through a customer's history).
    earlier = (
        conversations_for(user)
        .filter(contact_id=contact.pk, created_at__lte=conversation.created_at)
        .exclude(pk=conversation.pk)
        .order_by("-created_at", "-pk")
        .values("id", "status", "created_at", "closed_at", "last_message_preview")[:EARLIER_LIMIT]
    )
    newest_events = (
        ConversationEvent.objects.filter(conversation=conversation)
        .select_related("actor", "operator__user", "area")
        .order_by("-created_at", "-pk")[:DETAIL_EVENTS]
    )
    events = list(newest_events)[::-1]
    return {
        **conversation_out(conversation, timezone.now()),
        "contact": {
            "id": contact.pk,
            "name": contact.name,
            "phone": contact.phone,
            "dni": contact.dni,
            "tags": [str(tag) for tag in contact.tags or []],
            "notes": contact.notes,
            "splynx_customer_id": contact.splynx_customer_id,
        },
        "created_at": conversation.created_at,
        "closed_at": conversation.closed_at,
        "close_reason": conversation.close_reason,
        "earlier": list(earlier),
        "events": [_event_out(event) for event in events],
    }


def _row_after_action(conversation_id: int) -> dict[str, Any]:
    # Not through access: a transfer may take the chat out of the actor's sight, and the
    # actor still gets the row they just changed.
    return conversation_out(conversation_rows().get(pk=conversation_id), timezone.now())


def message_out(message: Message) -> dict[str, Any]:
    """A chat line; `author` and `outbound` must be loaded with the row."""
    outbound = message.outbound
    return {
        "id": message.pk,
        "sender": message.sender,
        "text": message.text,
        "media_url": message.media_url,
        "author": message.author.display_name if message.author is not None else None,
        "created_at": message.created_at,
        "status": outbound.status if outbound is not None else None,
        "error": outbound.error if outbound is not None else "",
    }


# Keyset pagination: the cursor is the last row's sort key, opaque to clients.

ORDER_RECENT = "recent"  # newest message first: the `all` and `mine` tabs and no tab
ORDER_QUEUE = "queue"  # longest waiting first: the `queue` tab


@dataclass(frozen=True)
class Cursor:
    order: str
    value: datetime | None
    id: int

    def encode(self) -> str:
        raw = json.dumps(
            {"o": self.order, "v": self.value.isoformat() if self.value else None, "id": self.id}
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            value = datetime.fromisoformat(data["v"]) if data["v"] is not None else None
            cursor = cls(order=data["o"], value=value, id=data["id"])
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
            cursor = None
        if cursor is not None and cursor.value is not None and cursor.value.tzinfo is not None:
            try:
                # Times at the ends of the calendar overflow when a database makes them naive.
                cursor.value.astimezone(UTC)
                if not MIN_CURSOR_TIME <= cursor.value <= MAX_CURSOR_TIME:
                    cursor = None
            except OverflowError:
                cursor = None
        valid = (
            cursor is not None
            and cursor.order == order
            and type(cursor.id) is int
            and 0 < cursor.id < 2**63
            and (cursor.value is None or cursor.value.tzinfo is not None)
            and (cursor.value is not None or order == ORDER_QUEUE)
        )
        if not valid or cursor is None:
            raise ApiError(
                422,
                "invalid_cursor",
                _("This page cursor is not valid here; start again from the first page."),
                {"cursor": _("invalid")},
            )
        return cursor


def _ordered(rows: Any, order: str) -> Any:
    if order == ORDER_QUEUE:
        return rows.order_by(*chat_filters.queue_order())
    return rows.order_by("-last_message_at", "-pk")


def _after(cursor: Cursor) -> Q:
    if cursor.order == ORDER_QUEUE:
        # Chats queued without a time come last (see `queue_order`).
        if cursor.value is None:
            return Q(queued_at__isnull=True, pk__gt=cursor.id)
        return (
            Q(queued_at__gt=cursor.value)
            | Q(queued_at=cursor.value, pk__gt=cursor.id)
            | Q(queued_at__isnull=True)
        )
    return Q(last_message_at__lt=cursor.value) | Q(last_message_at=cursor.value, pk__lt=cursor.id)


def _cursor_of(conversation: Conversation, order: str) -> Cursor:
    value = conversation.queued_at if order == ORDER_QUEUE else conversation.last_message_at
    return Cursor(order=order, value=value, id=conversation.pk)


# Endpoints


@router.get("", response=ConversationPageOut)
def list_conversations(request: ApiRequest, filters: Query[ConversationFilters]) -> dict[str, Any]:
    user = request.auth
    order = ORDER_QUEUE if filters.tab == chat_filters.TAB_QUEUE else ORDER_RECENT
    cursor = Cursor.decode(filters.cursor, order) if filters.cursor else None
    rows = chat_filters.apply_filters(
        conversations_for(user),
        user,
        chat_filters.ConversationFilters(
            status=filters.status,
            area=filters.area,
            assignee=filters.assignee,
            mine=filters.mine,
            unread=filters.unread,
            search=filters.search,
        ),
    )
    if filters.tab is not None:
        rows = chat_filters.tab_rows(rows, user, filters.tab)
    rows = _ordered(rows, order)
    if cursor is not None:
        rows = rows.filter(_after(cursor))
    page = list(rows[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    now = timezone.now()
    return {
        "items": [conversation_out(row, now) for row in page],
        "next_cursor": _cursor_of(page[-1], order).encode() if more else None,
    }


@router.post("/presence", response=PresenceOut)
def set_presence(request: ApiRequest, payload: PresenceIn) -> dict[str, Any]:
    """An operator's own "away". Someone without an active operator profile has no presence
    to change: 409 `not_an_operator`."""
    if operator_of(request.auth) is None:
        raise ApiError(409, "not_an_operator", _("Only operators have a presence in the console."))
    return {"presence": do_set_away(request.auth, payload.away)}


@router.get("/{int:conversation_id}", response=ConversationDetailOut)
def get_conversation(request: ApiRequest, conversation_id: int) -> dict[str, Any]:
    return _detail(request.auth, access_conversation(request.auth, conversation_id))


@router.get("/{int:conversation_id}/messages", response=MessagePageOut)
def list_messages(
    request: ApiRequest, conversation_id: int, filters: Query[MessageFilters]
) -> dict[str, Any]:
    """Oldest first within the page: the latest page, the page `before` a message, or what
    came `after` one (catching up after a reconnect)."""
    if filters.before is not None and filters.after is not None:
        raise ApiError(
            422,
            "validation_error",
            _("Ask for messages before one or after one, not both."),
            {"before": _("not with after"), "after": _("not with before")},
        )
    conversation = access_conversation(request.auth, conversation_id)
    rows = Message.objects.filter(conversation=conversation).select_related("author", "outbound")
    if filters.after is not None:
        page = list(rows.filter(pk__gt=filters.after).order_by("pk")[: filters.limit + 1])
        more = len(page) > filters.limit
        page = page[: filters.limit]
    else:
        if filters.before is not None:
            rows = rows.filter(pk__lt=filters.before)
        page = list(rows.order_by("-pk")[: filters.limit + 1])
        more = len(page) > filters.limit
        page = page[: filters.limit][::-1]
    return {"items": [message_out(message) for message in page], "has_more": more}


@router.post("/{int:conversation_id}/messages", response={201: MessageOut})
def send_message(request: ApiRequest, conversation_id: int, payload: SendIn) -> Status:
    access_conversation(request.auth, conversation_id)
    with _action_errors():
        sent = do_send_message(request.auth, conversation_id, payload.text)
    message = Message.objects.select_related("author", "outbound").get(pk=sent.message.pk)
    return Status(201, message_out(message))


@router.post("/{int:conversation_id}/read", response=ConversationOut)
def mark_read(request: ApiRequest, conversation_id: int) -> dict[str, Any]:
    access_conversation(request.auth, conversation_id)
    with _action_errors():
        do_mark_read(request.auth, conversation_id)
    return _row_after_action(conversation_id)


@router.post("/{int:conversation_id}/transfer", response=ConversationOut)
def transfer(request: ApiRequest, conversation_id: int, payload: TransferIn) -> dict[str, Any]:
    """To an area's queue (`area_id`) or to a colleague (`operator_id` or `username`)."""
    access_conversation(request.auth, conversation_id)
    to_person = payload.operator_id is not None or payload.username is not None
    if payload.area_id is not None and to_person:
        raise ApiError(
            422,
            "validation_error",
            _("Transfer to an area or to an operator, not both."),
            {"area_id": _("not with operator_id"), "operator_id": _("not with area_id")},
        )
    with _action_errors():
        do_transfer(
            request.auth,
            conversation_id,
            area_id=payload.area_id,
            operator_id=payload.operator_id,
            username=payload.username,
            note=payload.note,
        )
    return _row_after_action(conversation_id)


@router.post("/{int:conversation_id}/assign", response=ConversationOut)
def assign(request: ApiRequest, conversation_id: int, payload: AssignIn) -> dict[str, Any]:
    """Supervisors and admins give a chat to someone; to themselves to take it over."""
    access_conversation(request.auth, conversation_id)
    if (
        payload.operator_id is None
        and payload.username is None
        and request.auth.is_supervisor_or_admin
    ):
        raise ApiError(
            422,
            "validation_error",
            _("Choose the operator to assign the chat to."),
            {"operator_id": _("required")},
        )
    with _action_errors():
        do_assign(
            request.auth,
            conversation_id,
            operator_id=payload.operator_id,
            username=payload.username,
        )
    return _row_after_action(conversation_id)


@router.post("/{int:conversation_id}/close", response=ConversationOut)
def close(
    request: ApiRequest, conversation_id: int, payload: CloseIn | None = None
) -> dict[str, Any]:
    access_conversation(request.auth, conversation_id)
    with _action_errors():
        do_close(request.auth, conversation_id, goodbye=payload.goodbye if payload else "")
    return _row_after_action(conversation_id)
