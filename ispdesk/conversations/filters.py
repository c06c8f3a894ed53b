"""Filtering conversation lists: the console's tabs and the API's query parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.db.models.expressions import OrderBy

from ispdesk.conversations.models import ConversationQuerySet, ConversationStatus

# The console's tabs: my open chats, the queues I serve, everything I may see.
TAB_MINE = "mine"
TAB_QUEUE = "queue"
TAB_ALL = "all"
TABS = (TAB_MINE, TAB_QUEUE, TAB_ALL)
STATUS_ACTIVE = "active"  # anything but closed
MIN_PHONE_FRAGMENT = 3


@dataclass(frozen=True)
class ConversationFilters:
    status: str | None = None  # a ConversationStatus value, or "active"
    area: int | None = None
    assignee: int | None = None  # operator id
    mine: bool = False
    unread: bool = False
    search: str = ""


def search_condition(text: str) -> Q:
    """Name (contains), DNI (starts with) or any fragment of the phone number's digits."""
    text = " ".join(text.replace("\x00", "").split())[:100]
    condition = Q(contact__name__icontains=text)
    digits = re.sub(r"\D", "", text)
    if digits and len(digits) == len(re.sub(r"[\s.\-+()]", "", text)):
        condition |= Q(contact__dni__startswith=digits)
        if len(digits) >= MIN_PHONE_FRAGMENT:
            condition |= Q(contact__phone__contains=digits)
    return condition


def apply_filters(rows: ConversationQuerySet, user: Any, filters: ConversationFilters) -> Any:
    if filters.status == STATUS_ACTIVE:
        rows = rows.active()
    elif filters.status:
        rows = rows.filter(status=filters.status)
    if filters.area is not None:
        rows = rows.filter(area_id=filters.area)
    if filters.assignee is not None:
        rows = rows.filter(assignee_id=filters.assignee)
    if filters.mine:
        rows = rows.filter(assignee__user_id=user.pk)
    if filters.unread:
        rows = rows.filter(unread_count__gt=0)
    if filters.search.strip():
        rows = rows.filter(search_condition(filters.search))
    return rows


def queue_order() -> tuple[OrderBy, str]:
    """Longest waiting first, as the queues hand chats out; a chat queued without a time
    (none should be) comes last on every database, as `conv_waiting_idx` keeps them."""
    return F("queued_at").asc(nulls_last=True), "pk"


def tab_condition(user: Any, tab: str) -> Q:
    """Which of the conversations `user` may see are in a console tab."""
    if tab == TAB_MINE:
        return Q(assignee__user_id=user.pk, status=ConversationStatus.OPEN)
    if tab == TAB_QUEUE:
        return Q(status=ConversationStatus.PENDING)
    return Q()


def tab_rows(rows: ConversationQuerySet, user: Any, tab: str) -> Any:
    """One console tab of the conversations `user` may see, in the tab's order."""
    order = queue_order() if tab == TAB_QUEUE else ("-last_message_at", "-pk")
    return rows.filter(tab_condition(user, tab)).order_by(*order)
