"""Shapes of the tickets API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field, field_validator

from ispdesk.accounts.schemas import Text
from ispdesk.tickets.models import Priority, Source, Status

# The largest value a PositiveIntegerField holds on every supported database.
MAX_POSITIVE_INT = 2_147_483_647


class OperatorRef(Schema):
    id: int
    name: str


class AreaRef(Schema):
    id: int
    name: str


class SplynxHolderOut(Schema):
    """The Splynx administrator a ticket was assigned to by hand there, who is no operator
    here: ispdesk's engine leaves the ticket with them."""

    administrator_id: int
    # As Splynx names them; "#<id>" when Splynx did not say.
    name: str


class MetricsOut(Schema):
    seconds_to_assignment: int | None
    seconds_to_first_response: int | None
    seconds_to_close: int | None
    alerts_sent: int
    overdue: bool
    waiting_seconds: int | None


class TicketOut(Schema):
    id: int
    source: Source
    external_id: str
    splynx_ticket_id: int | None
    customer_splynx_id: int | None
    customer_name: str
    subject: str
    priority: Priority
    status: Status
    shift_tag: str
    area: AreaRef | None
    assignee: OperatorRef | None
    # Set instead of an assignee when a Splynx administrator holds the ticket.
    held_in_splynx: SplynxHolderOut | None
    created_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    updated_at: datetime
    closed_at: datetime | None
    metrics: MetricsOut


class EventOut(Schema):
    id: int
    kind: str
    kind_label: str
    created_at: datetime
    # A person's name, or "ispdesk" for the engine, a job or a sync.
    actor: str
    actor_id: int | None
    operator: OperatorRef | None
    previous_operator: OperatorRef | None
    from_status: str
    to_status: str
    # The engine's reason, a comment, or a note.
    text: str


class TicketDetailOut(TicketOut):
    body: str
    history: list[EventOut]


class TicketPageOut(Schema):
    count: int
    page: int
    pages: int
    items: list[TicketOut]


class TicketFilters(Schema):
    # Repeatable. Checked by the validator below rather than typed list[Status]: Ninja names
    # a bad list item "filters.status.0", and the error should name the parameter.
    status: list[str] = Field(default_factory=list)
    # An operator id, or "none" for the unassigned queue.
    assignee: str | None = None
    area: int | None = Field(None, ge=1, le=MAX_POSITIVE_INT)
    source: Source | None = None
    overdue: bool | None = None
    q: Text | None = Field(None, max_length=200)
    order: Literal["newest", "oldest"] = "newest"
    # Bounded so the row offset stays within what every database accepts.
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=200)

    @field_validator("status")
    @classmethod
    def _known_statuses(cls, values: list[str]) -> list[str]:
        unknown = sorted(set(values) - set(Status.values))
        if unknown:
            raise ValueError(
                f"unknown status {', '.join(unknown)}; expected {', '.join(Status.values)}"
            )
        return values

    @field_validator("assignee")
    @classmethod
    def _operator_id_or_none(cls, value: str | None) -> str | None:
        if value is None or value == "none":
            return value
        digits = value.isascii() and value.isdigit() and len(value) <= 10
        if not digits or not 0 < int(value) <= MAX_POSITIVE_INT:
            raise ValueError('expected an operator id or "none"')
        return value


class TicketIn(Schema):
    subject: Text = Field(min_length=1, max_length=250)
    body: Text = Field("", max_length=20_000)
    priority: Priority = Priority.MEDIUM
    customer_name: Text = Field("", max_length=200)
    customer_splynx_id: int | None = Field(None, ge=1, le=MAX_POSITIVE_INT)
    area: int | None = Field(None, ge=1, le=MAX_POSITIVE_INT)


class AssignIn(Schema):
    # None (or no body at all): let the assignment engine choose.
    operator: int | None = Field(None, ge=1, le=MAX_POSITIVE_INT)


class StatusIn(Schema):
    status: Status


class CommentIn(Schema):
    text: Text = Field(min_length=1, max_length=5000)


class NoteIn(Schema):
    note: Text = Field("", max_length=1000)


class DecisionOut(Schema):
    operator: OperatorRef | None
    rule: str
    reason: str


class AssignOut(Schema):
    ticket: TicketDetailOut
    # Only when the engine chose.
    decision: DecisionOut | None


class AssignmentOut(Schema):
    ticket: int
    operator: OperatorRef
    reason: str


class AssignUnassignedOut(Schema):
    assigned: int
    # Open tickets still without an assignee afterwards.
    waiting: int
    assignments: list[AssignmentOut]
