"""The operator-notification API of the earlier system, at /api/whatsapp, through the outbox.

Sends are for administrators; every send answers, per operator, whether a message was queued
(with the outbox row's id and status) or skipped and why. The sender loop delivers queued rows
later. `person_id` is the operator's Splynx administrator id. `operators/...` is for anyone
logged in; `health` is public and says nothing secret (no credentials, no numbers).

Bare ticket ids are ispdesk ticket numbers (looked up, subject and waiting time computed);
objects `{id, subject, waiting}` are shown as given, for callers that hold their own data
(an integer `waiting` is minutes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from django.db import transaction
from django.db.models import Count, Min, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Router, Schema
from pydantic import AfterValidator, Field, PlainSerializer

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.accounts.schemas import Text
from ispdesk.api_errors import ApiError
from ispdesk.lib.calendar import Window
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.messaging.models import GatewayConnection, OutboundMessage, OutboundStatus, Purpose
from ispdesk.messaging.notifications import (
    NotifyOutcome,
    TicketLine,
    alert_windows,
    assignment_values,
    check_operator,
    connection_block,
    notify_operator,
    notify_operator_text,
    shift_summary_values,
    ticket_line,
    ticket_list_values,
    waiting_in_words,
)
from ispdesk.messaging.outbox import queue_message
from ispdesk.operators.calendars import business_calendar
from ispdesk.operators.models import Operator
from ispdesk.tickets.access import tickets_for
from ispdesk.tickets.models import Ticket

router = Router(tags=["whatsapp"])

MAX_ID = 2**31 - 1  # the largest value every supported database stores in an integer key
MAX_BULK = 50
MAX_TICKETS = 100
# WhatsApp's limit for one text message.
MAX_MESSAGE = 4096


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
MessageText = Annotated[
    Text, Field(min_length=1, max_length=MAX_MESSAGE), AfterValidator(_not_blank)
]
HourMinuteOut = Annotated[time, PlainSerializer(lambda value: f"{value:%H:%M}", return_type=str)]


# Bodies


class SendTextIn(Schema):
    phone: Text = Field(min_length=1, max_length=64)
    message: MessageText


class TicketItemIn(Schema):
    id: Id
    subject: Text = Field("", max_length=250)
    # Minutes (a number) or words as they should appear ("2 h 30 min").
    waiting: Annotated[int, Field(ge=0, le=10**7)] | Annotated[Text, Field(max_length=40)] = ""


class OverdueAlertIn(Schema):
    person_id: Id
    tickets: list[Id | TicketItemIn] = Field(min_length=1, max_length=MAX_TICKETS)
    force: bool = False


class PersonIn(Schema):
    person_id: Id
    force: bool = False


class AssignmentIn(Schema):
    person_id: Id
    ticket_id: Id
    force: bool = False


class CustomIn(Schema):
    person_id: Id
    message: MessageText
    force: bool = False


class BulkIn(Schema):
    person_ids: list[Id] = Field(min_length=1, max_length=MAX_BULK)
    message: MessageText
    force: bool = False


# Answers


class QueuedOut(Schema):
    id: int
    status: str
    to: str
    purpose: str
    created_at: datetime


class SendOut(Schema):
    person_id: int | None
    operator: int
    name: str
    queued: bool
    message: QueuedOut | None
    skipped_reason: str | None
    skip_code: str | None


class BulkOut(Schema):
    queued: int
    skipped: int
    results: list[SendOut]


class TextOut(Schema):
    phone: str
    queued: bool
    message: QueuedOut | None
    skipped_reason: str | None
    skip_code: str | None


class ValidateOut(Schema):
    person_id: int
    operator: int
    name: str
    can_receive: bool
    reason: str | None
    code: str | None
    next_alert_window_at: datetime | None


class WindowOut(Schema):
    weekday: int
    start: HourMinuteOut
    end: HourMinuteOut


class OperatorConfigOut(Schema):
    person_id: int | None
    operator: int
    name: str
    whatsapp: str
    active: bool
    notifications_enabled: bool
    paused: bool
    # Empty means "always": an operator without alert windows may be alerted at any hour.
    alert_windows: list[WindowOut]


class ConnectionHealthOut(Schema):
    kind: str
    name: str
    status: str
    queue_depth: int
    oldest_queued_age_seconds: int | None
    failed_last_hour: int


class HealthOut(Schema):
    queue_depth: int
    oldest_queued_age_seconds: int | None
    failed_last_hour: int
    connections: list[ConnectionHealthOut]


# Helpers


def _queued_out(message: OutboundMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "status": message.status,
        "to": message.to,
        "purpose": message.purpose,
        "created_at": message.created_at,
    }


def _send_out(operator: Operator, outcome: NotifyOutcome) -> dict[str, Any]:
    return {
        "person_id": operator.person_id,
        "operator": operator.pk,
        "name": operator.name,
        "queued": outcome.queued is not None,
        "message": _queued_out(outcome.queued) if outcome.queued is not None else None,
        "skipped_reason": outcome.skipped_reason,
        "skip_code": outcome.skip_code,
    }


def _operators() -> Any:
    return Operator.objects.select_related("user")


def operator_by_person_id(person_id: int) -> Operator:
    operator = _operators().filter(person_id=person_id).first()
    if operator is None:
        raise ApiError(
            404,
            "unknown_operator",
            _("No operator has the Splynx administrator id %(id)s.") % {"id": person_id},
            {"person_id": _("unknown")},
        )
    return operator


def operators_by_person_ids(person_ids: Sequence[int]) -> list[Operator]:
    """The operators in the order asked, each once; 404 naming every unknown id."""
    wanted = list(dict.fromkeys(person_ids))
    found = {operator.person_id: operator for operator in _operators().filter(person_id__in=wanted)}
    unknown = [str(person_id) for person_id in wanted if person_id not in found]
    if unknown:
        raise ApiError(
            404,
            "unknown_operator",
            _("No operator has the Splynx administrator id(s) %(ids)s.")
            % {"ids": ", ".join(unknown)},
            {"person_ids": ", ".join(unknown)},
        )
    return [found[person_id] for person_id in wanted]


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@contextmanager
def _sending() -> Iterator[None]:
    """One transaction per request: the outbox rows appear together or not at all."""
    with transaction.atomic():
        yield


def _ticket_lines(
    request: ApiRequest, items: Sequence[int | TicketItemIn], now: datetime
) -> list[TicketLine]:
    ids = [item for item in items if isinstance(item, int)]
    found = {ticket.pk: ticket for ticket in tickets_for(request.auth).filter(pk__in=ids)}
    unknown = [str(ticket_id) for ticket_id in dict.fromkeys(ids) if ticket_id not in found]
    if unknown:
        raise ApiError(
            404,
            "unknown_ticket",
            _("No ticket has the number(s) %(ids)s.") % {"ids": ", ".join(unknown)},
            {"tickets": ", ".join(unknown)},
        )
    lines: list[TicketLine] = []
    for item in items:
        if isinstance(item, int):
            lines.append(ticket_line(found[item], now))
        else:
            waiting = item.waiting
            words = waiting_in_words(waiting) if isinstance(waiting, int) else waiting.strip()
            lines.append(TicketLine(str(item.id), item.subject.strip(), words))
    return lines


# Sends


@router.post("/send/text", response=TextOut)
def send_text(request: ApiRequest, payload: SendTextIn) -> dict[str, Any]:
    """Queue a text to any WhatsApp number (no operator rules apply)."""
    api_require_admin(request.auth)
    try:
        phone = normalize_phone(payload.phone, mobile=True)
    except PhoneError as exc:
        raise ApiError(
            422,
            "invalid_phone",
            _("The phone number is not usable: %(reason)s.") % {"reason": exc.reason},
            {"phone": exc.reason},
        ) from None
    block = connection_block()
    if block is not None:
        return {
            "phone": phone,
            "queued": False,
            "message": None,
            "skipped_reason": block.reason,
            "skip_code": block.code,
        }
    with _sending():
        message = queue_message(
            phone,
            payload.message,
            purpose=Purpose.OPERATOR_ALERT,
            context={"sent_by": request.auth.pk, "api": "send/text"},
        )
    return {
        "phone": phone,
        "queued": True,
        "message": _queued_out(message),
        "skipped_reason": None,
        "skip_code": None,
    }


@router.post("/send/overdue-alert", response=SendOut)
def send_overdue_alert(request: ApiRequest, payload: OverdueAlertIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    operator = operator_by_person_id(payload.person_id)
    now = timezone.now()
    lines = _ticket_lines(request, payload.tickets, now)
    with _sending():
        outcome = notify_operator(
            operator,
            "overdue_alert",
            ticket_list_values(operator, lines),
            now=now,
            force=payload.force,
            context={"tickets": [line.number for line in lines], "sent_by": request.auth.pk},
        )
    return _send_out(operator, outcome)


@router.post("/send/shift-summary", response=SendOut)
def send_shift_summary(request: ApiRequest, payload: PersonIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    operator = operator_by_person_id(payload.person_id)
    now = timezone.now()
    with _sending():
        outcome = notify_operator(
            operator,
            "shift_summary",
            shift_summary_values(operator, now),
            now=now,
            force=payload.force,
            context={"sent_by": request.auth.pk},
        )
    return _send_out(operator, outcome)


@router.post("/send/assignment", response=SendOut)
def send_assignment(request: ApiRequest, payload: AssignmentIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    operator = operator_by_person_id(payload.person_id)
    ticket: Ticket | None = tickets_for(request.auth).filter(pk=payload.ticket_id).first()
    if ticket is None:
        raise ApiError(
            404,
            "unknown_ticket",
            _("No ticket has the number %(id)s.") % {"id": payload.ticket_id},
            {"ticket_id": _("unknown")},
        )
    with _sending():
        outcome = notify_operator(
            operator,
            "ticket_assigned",
            assignment_values(operator, ticket, _base_url(request)),
            now=timezone.now(),
            force=payload.force,
            context={"ticket": ticket.pk, "sent_by": request.auth.pk},
        )
    return _send_out(operator, outcome)


@router.post("/send/custom", response=SendOut)
def send_custom(request: ApiRequest, payload: CustomIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    operator = operator_by_person_id(payload.person_id)
    with _sending():
        outcome = notify_operator_text(
            operator,
            payload.message,
            now=timezone.now(),
            force=payload.force,
            context={"sent_by": request.auth.pk},
        )
    return _send_out(operator, outcome)


@router.post("/send/bulk", response=BulkOut)
def send_bulk(request: ApiRequest, payload: BulkIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    operators = operators_by_person_ids(payload.person_ids)
    now = timezone.now()
    windows = alert_windows(operators)
    calendar = business_calendar(now)
    results = []
    with _sending():
        for operator in operators:
            outcome = notify_operator_text(
                operator,
                payload.message,
                now=now,
                force=payload.force,
                context={"sent_by": request.auth.pk, "bulk": True},
                windows=windows.get(operator.pk, []),
                calendar=calendar,
            )
            results.append(_send_out(operator, outcome))
    queued = sum(1 for result in results if result["queued"])
    return {"queued": queued, "skipped": len(results) - queued, "results": results}


# Operators (anyone logged in)


@router.get("/operators/config", response=list[OperatorConfigOut])
def operators_config(request: ApiRequest) -> list[dict[str, Any]]:
    operators = list(_operators().order_by("person_id", "pk"))
    windows = alert_windows(operators)

    def out(window: Window) -> dict[str, Any]:
        return {"weekday": window.weekday, "start": window.start, "end": window.end}

    return [
        {
            "person_id": operator.person_id,
            "operator": operator.pk,
            "name": operator.name,
            "whatsapp": operator.whatsapp,
            "active": operator.active,
            "notifications_enabled": operator.notifications_enabled,
            "paused": operator.is_paused,
            "alert_windows": [out(window) for window in sorted(windows.get(operator.pk, []))],
        }
        for operator in operators
    ]


@router.get("/operators/{person_id}/validate", response=ValidateOut)
def validate_operator(
    request: ApiRequest, person_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> dict[str, Any]:
    operator = operator_by_person_id(person_id)
    check = check_operator(operator, timezone.now())
    return {
        "person_id": person_id,
        "operator": operator.pk,
        "name": operator.name,
        "can_receive": check.can_receive,
        "reason": check.block.reason if check.block else None,
        "code": check.block.code if check.block else None,
        "next_alert_window_at": check.next_window_at,
    }


# Health (public)


@router.get("/health", response=HealthOut, auth=None)
def health(request: HttpRequest) -> dict[str, Any]:
    """Each enabled connection's state and its outbox backlog, in one query."""
    now = timezone.now()
    waiting = Q(outbound_messages__status__in=[OutboundStatus.QUEUED, OutboundStatus.SENDING])
    failed = Q(
        outbound_messages__status=OutboundStatus.FAILED,
        outbound_messages__failed_at__gte=now - timedelta(hours=1),
    )
    rows = list(
        GatewayConnection.objects.filter(enabled=True)
        .order_by("name")
        .annotate(
            depth=Count("outbound_messages", filter=waiting),
            oldest=Min(
                "outbound_messages__created_at",
                filter=Q(outbound_messages__status=OutboundStatus.QUEUED),
            ),
            failed=Count("outbound_messages", filter=failed),
        )
        .values("kind", "name", "status", "depth", "oldest", "failed")
    )

    def age(oldest: datetime | None) -> int | None:
        return None if oldest is None else max(0, int((now - oldest).total_seconds()))

    connections = [
        {
            "kind": row["kind"],
            "name": row["name"],
            "status": row["status"],
            "queue_depth": row["depth"],
            "oldest_queued_age_seconds": age(row["oldest"]),
            "failed_last_hour": row["failed"],
        }
        for row in rows
    ]
    oldest = [row["oldest"] for row in rows if row["oldest"] is not None]
    return {
        "queue_depth": sum(item["queue_depth"] for item in connections),
        "oldest_queued_age_seconds": age(min(oldest)) if oldest else None,
        "failed_last_hour": sum(item["failed_last_hour"] for item in connections),
        "connections": connections,
    }
