"""What the console's templates write, worked out in Python: list rows and chat lines.

Formatting each row's dates and reversing its URL inside a template cost more than the
list's queries (profiled with `bench.datascale`), so the views hand the templates finished
strings. A chat opens on its newest lines and pages back through the rest on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ispdesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
    Sender,
)

# The newest messages of a chat shown when it opens, and per page of earlier ones.
THREAD_LINES = 50
URL_PLACEHOLDER = 2_147_483_647


@dataclass(frozen=True)
class Stamp:
    """A moment as the console writes it: ISO for machines, the date and time in words for
    the tooltip, and the short form shown (the hour, or the day when it was not today)."""

    iso: str
    title: str
    short: str


def stamp(value: datetime, today: date | None = None) -> Stamp:
    local = timezone.localtime(value)
    short = "%d/%m" if today is not None and local.date() != today else "%H:%M"
    return Stamp(
        iso=local.isoformat(),
        title=date_format(local, "DATETIME_FORMAT"),
        short=local.strftime(short),
    )


def url_maker(name: str) -> Callable[[int], str]:
    """The URL of view `name` for any id, from one `reverse` instead of one per row."""
    before, _sep, after = reverse(name, args=[URL_PLACEHOLDER]).partition(str(URL_PLACEHOLDER))
    return lambda pk: f"{before}{pk}{after}"


# The list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    chat: Conversation
    url: str
    stamp: Stamp
    status_label: str
    unread_label: str  # "3 unread messages"
    waited: str  # "5 minutes" while it waits in a queue, else ""
    queued_iso: str


def list_rows(page: list[Conversation], now: datetime) -> list[ListRow]:
    url = url_maker("desk_chat")
    today = timezone.localtime(now).date()
    rows = []
    for chat in page:
        queued_at = chat.queued_at if chat.status == ConversationStatus.PENDING else None
        rows.append(
            ListRow(
                chat=chat,
                url=url(chat.pk),
                stamp=stamp(chat.last_message_at, today),
                status_label=chat.get_status_display(),
                unread_label=_unread_label(chat.unread_count),
                waited=timesince(queued_at, now) if queued_at else "",
                queued_iso=timezone.localtime(queued_at).isoformat() if queued_at else "",
            )
        )
    return rows


def _unread_label(count: int) -> str:
    if not count:
        return ""
    return ngettext("%(n)s unread message", "%(n)s unread messages", count) % {"n": count}


# The chat ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticks:
    """The delivery state of a line we sent, as WhatsApp draws it."""

    state: str  # pending | sent | delivered | read | failed
    symbol: str
    label: str


def ticks_for(status: str, error: str = "") -> Ticks:
    if status in ("queued", "sending"):
        return Ticks("pending", "◷", _("Sending"))
    if status == "sent":
        return Ticks("sent", "✓", _("Sent"))
    if status == "delivered":
        return Ticks("delivered", "✓✓", _("Delivered"))
    if status == "read":
        return Ticks("read", "✓✓", _("Read"))
    label = _("Not delivered")
    return Ticks("failed", "!", f"{label}: {error}" if error else label)


@dataclass(frozen=True)
class Line:
    """One item of the thread: a message or a history event (shown as a system line)."""

    at: datetime
    stamp: Stamp
    message: Message | None = None
    event: ConversationEvent | None = None

    @property
    def ticks(self) -> Ticks | None:
        outbound = self.message.outbound if self.message is not None else None
        return ticks_for(outbound.status, outbound.error) if outbound is not None else None

    @property
    def event_text(self) -> str:
        return _event_text(self.event) if self.event is not None else ""

    @property
    def side(self) -> str:
        if self.message is None or self.message.sender == Sender.SYSTEM:
            return "system"
        return "in" if self.message.sender == Sender.CUSTOMER else "out"

    @property
    def has_link(self) -> bool:
        return self.message is not None and self.message.media_url.startswith("http")


def _event_text(event: ConversationEvent) -> str:
    parts = [event.get_kind_display()]
    if event.operator is not None:
        parts.append(event.operator.name)
    if event.area is not None:
        parts.append(event.area.name)
    text = " · ".join(parts)
    return f"{text}. {event.detail}" if event.detail else text


@dataclass(frozen=True)
class Thread:
    lines: list[Line]
    # The oldest message shown when there are older ones: the next page comes before it.
    older_than: int | None = None


def _thread(messages: list[Message], events: list[ConversationEvent]) -> list[Line]:
    lines = [Line(at=m.created_at, stamp=stamp(m.created_at), message=m) for m in messages]
    lines += [Line(at=e.created_at, stamp=stamp(e.created_at), event=e) for e in events]
    # Events first at the same instant: "assigned" reads before the greeting it caused.
    lines.sort(key=lambda line: (line.at, line.message is not None))
    return lines


def _messages(conversation: Conversation) -> QuerySet[Message]:
    # What a bubble shows, not the outbox row's body, JSON context and timestamps.
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("outbound")
        .only("sender", "text", "media_url", "created_at", "outbound__status", "outbound__error")
    )


def _events(conversation: Conversation) -> QuerySet[ConversationEvent]:
    return ConversationEvent.objects.filter(conversation=conversation).select_related(
        "operator__user", "area"
    )


def newest_lines(
    conversation: Conversation, *, before: int | None = None, newest: int = THREAD_LINES
) -> Thread:
    """The newest `newest` messages (before message `before`: a page further back), with
    the history events of the same stretch, in time order."""
    messages, events = _messages(conversation), _events(conversation)
    if before is not None:
        boundary = messages.filter(pk=before).values_list("created_at", flat=True).first()
        if boundary is None:
            return Thread(lines=[])
        messages = messages.filter(pk__lt=before)
        events = events.filter(created_at__lt=boundary)
    page = list(messages.order_by("-pk")[: newest + 1])
    shown = page[:newest][::-1]
    older = len(page) > newest
    if older:
        events = events.filter(created_at__gte=shown[0].created_at)
    lines = _thread(shown, list(events.order_by("pk")))
    return Thread(lines=lines, older_than=shown[0].pk if older else None)


def lines_after(conversation: Conversation, after_message: int, after_event: int) -> list[Line]:
    """What came after the lines a page shows (a new message, a transfer note)."""
    messages = _messages(conversation).filter(pk__gt=after_message).order_by("pk")
    events = _events(conversation).filter(pk__gt=after_event).order_by("pk")
    return _thread(list(messages), list(events))


def last_ids(lines: list[Line], after_message: int = 0, after_event: int = 0) -> tuple[int, int]:
    message_ids = [line.message.pk for line in lines if line.message is not None]
    event_ids = [line.event.pk for line in lines if line.event is not None]
    return max([after_message, *message_ids]), max([after_event, *event_ids])
