"""Shapes of the conversations API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from ispdesk.accounts.schemas import Text

MAX_ID = 2**31 - 1  # the largest value every supported database stores in an integer key
MAX_PAGE = 200
DEFAULT_PAGE = 50
# Longer than any message the action accepts (it answers its own error with the limit);
# this bound only keeps absurd bodies out of memory.
MAX_BODY_TEXT = 20_000

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
StatusFilter = Literal["bot", "pending", "open", "closed", "active"]
Tab = Literal["mine", "queue", "all"]


class AreaRef(Schema):
    id: int
    name: str


class OperatorRef(Schema):
    id: int
    name: str


class ContactRef(Schema):
    id: int
    name: str
    phone: str | None
    dni: str


class ConversationOut(Schema):
    id: int
    status: str
    contact: ContactRef
    area: AreaRef | None
    assignee: OperatorRef | None
    last_message_at: datetime
    last_message_preview: str
    unread_count: int
    awaiting_human: bool
    queued_at: datetime | None
    # How long the customer has waited for a person: since queued while pending, since their
    # last message while an open chat owes them an answer; null otherwise.
    waiting_seconds: int | None
    version: int


class ConversationPageOut(Schema):
    items: list[ConversationOut]
    # Pass as `cursor` for the next page; null on the last page.
    next_cursor: str | None


class ConversationFilters(Schema):
    status: StatusFilter | None = None
    area: Id | None = None
    assignee: Id | None = None  # an operator id
    mine: bool = False
    unread: bool = False
    search: Text = Field("", max_length=100)
    tab: Tab | None = None
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: Text | None = Field(None, max_length=200)


class ContactDetailOut(ContactRef):
    tags: list[str]
    notes: str
    splynx_customer_id: int | None


class EarlierOut(Schema):
    id: int
    status: str
    created_at: datetime
    closed_at: datetime | None
    last_message_preview: str


class EventOut(Schema):
    id: int
    kind: str
    kind_label: str
    created_at: datetime
    # Who did it; null for the bot, the queue or a job.
    actor: str | None
    operator: OperatorRef | None
    area: AreaRef | None
    detail: str


class ConversationDetailOut(ConversationOut):
    contact: ContactDetailOut  # type: ignore[assignment]
    created_at: datetime
    closed_at: datetime | None
    close_reason: str
    earlier: list[EarlierOut]
    events: list[EventOut]  # the newest 100, oldest first


class MessageOut(Schema):
    id: int
    sender: str
    text: str
    media_url: str
    author: str | None
    created_at: datetime
    # The outbox status of lines we sent (queued, sending, sent, delivered, read, failed);
    # null for the customer's lines.
    status: str | None
    error: str


class MessagePageOut(Schema):
    items: list[MessageOut]
    # Older messages exist before this page (latest or `before`), or newer ones after it
    # (`after`).
    has_more: bool


class MessageFilters(Schema):
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    before: Id | None = None
    after: Id | None = None


class SendIn(Schema):
    text: Text = Field(max_length=MAX_BODY_TEXT)


class TransferIn(Schema):
    area_id: Id | None = None
    operator_id: Id | None = None
    username: Text | None = Field(None, min_length=1, max_length=150)
    note: Text = Field("", max_length=400)


class AssignIn(Schema):
    operator_id: Id | None = None
    username: Text | None = Field(None, min_length=1, max_length=150)


class CloseIn(Schema):
    goodbye: Text = Field("", max_length=MAX_BODY_TEXT)


class PresenceIn(Schema):
    away: bool


class PresenceOut(Schema):
    presence: Literal["online", "away", "offline"]
