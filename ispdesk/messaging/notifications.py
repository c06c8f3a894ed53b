"""WhatsApp notifications to operators: whether to send, what to say, and queueing it.

Nothing here talks to a gateway: a send is an `OutboundMessage` row (purpose
`operator_alert`) written by `queue_message`, which the sender loop delivers after commit.

An operator is skipped, with the reason in words, when they have no usable WhatsApp number,
are inactive, turned notifications off, are paused, or it is outside their `alert` schedule.
`force` (an administrator's explicit send) overrides only the schedule: a missing number, an
operator's own "no notifications" and a pause are always honoured. **An operator with no
alert windows at all counts as always available**: alerts are on until someone restricts
them, so a team that never filled in alert schedules still gets its alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from ispdesk.lib.calendar import BusinessCalendar, Window, is_available, next_opening
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.messaging.message_templates import render_message, template_key
from ispdesk.messaging.models import OutboundMessage, Purpose
from ispdesk.messaging.outbox import NoConnection, default_connection, queue_message
from ispdesk.operators.calendars import business_calendar, windows_by_operator
from ispdesk.operators.models import Operator, ScheduleKind
from ispdesk.system.config import get_config
from ispdesk.tickets.filters import overdue_after, overdue_q
from ispdesk.tickets.models import Status, Ticket

# Stable codes of the reasons, for API clients; the words are for people.
NO_NUMBER = "no_number"
BAD_NUMBER = "bad_number"
INACTIVE = "inactive"
NOTIFICATIONS_OFF = "notifications_off"
PAUSED = "paused"
OUTSIDE_ALERT_WINDOW = "outside_alert_window"
NO_CONNECTION = "no_connection"


@dataclass(frozen=True)
class AlertFacts:
    """What decides whether an operator may be alerted, loaded once."""

    whatsapp: str
    active: bool
    notifications_enabled: bool
    is_paused: bool
    alert_windows: tuple[Window, ...]


@dataclass(frozen=True)
class Block:
    code: str
    reason: str


@dataclass(frozen=True)
class NotifyOutcome:
    queued: OutboundMessage | None
    skipped_reason: str | None
    skip_code: str | None = None

    @property
    def skipped(self) -> bool:
        return self.queued is None


def alert_block(
    facts: AlertFacts, calendar: BusinessCalendar, now: datetime, *, force: bool = False
) -> Block | None:
    """Why the operator must not be alerted now, or None (pure)."""
    if not facts.whatsapp.strip():
        return Block(NO_NUMBER, _("the operator has no WhatsApp number"))
    try:
        normalize_phone(facts.whatsapp, mobile=True)
    except PhoneError as exc:
        return Block(
            BAD_NUMBER,
            _("the operator's WhatsApp number is not usable: %(reason)s") % {"reason": exc.reason},
        )
    if not facts.active:
        return Block(INACTIVE, _("the operator is inactive"))
    if not facts.notifications_enabled:
        return Block(NOTIFICATIONS_OFF, _("the operator has WhatsApp notifications turned off"))
    if facts.is_paused:
        return Block(PAUSED, _("the operator is paused"))
    # No alert windows at all: always available (see the module's docstring).
    if not force and facts.alert_windows and not is_available(facts.alert_windows, calendar, now):
        return Block(OUTSIDE_ALERT_WINDOW, _("it is outside the operator's alert schedule"))
    return None


def alert_facts(operator: Operator, windows: Sequence[Window]) -> AlertFacts:
    return AlertFacts(
        whatsapp=operator.whatsapp,
        active=operator.active and operator.user.is_active,
        notifications_enabled=operator.notifications_enabled,
        is_paused=operator.is_paused,
        alert_windows=tuple(windows),
    )


def alert_windows(operators: Sequence[Operator]) -> dict[int, list[Window]]:
    return windows_by_operator([operator.pk for operator in operators], ScheduleKind.ALERT)


@dataclass(frozen=True)
class AlertCheck:
    """Whether an operator can receive an alert now, for the validate endpoint and pages."""

    block: Block | None
    # When their alert schedule opens next (None: open now, always open, or never).
    next_window_at: datetime | None

    @property
    def can_receive(self) -> bool:
        return self.block is None


def check_operator(
    operator: Operator,
    now: datetime,
    *,
    force: bool = False,
    windows: Sequence[Window] | None = None,
    calendar: BusinessCalendar | None = None,
) -> AlertCheck:
    """The operator's own state and schedule, then whether any connection can carry it."""
    if windows is None:
        windows = alert_windows([operator]).get(operator.pk, [])
    if calendar is None:
        # Loading holidays and exceptions is only worth it when a schedule is consulted.
        calendar = business_calendar(now) if windows else BusinessCalendar(tz=local_tz())
    block = alert_block(alert_facts(operator, windows), calendar, now, force=force)
    next_at = None
    if block is not None and block.code == OUTSIDE_ALERT_WINDOW:
        next_at = next_opening(windows, calendar, now)
    if block is None:
        block = connection_block()
    return AlertCheck(block, next_at)


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def connection_block() -> Block | None:
    try:
        default_connection()
    except NoConnection:
        return Block(NO_CONNECTION, _("there is no WhatsApp connection"))
    return None


def operator_language(operator: Operator) -> str:
    """The language the operator reads. Users have no language of their own yet, so this is
    the installation's language."""
    return settings.LANGUAGE_CODE


def _queue_for_operator(
    operator: Operator, text: str, context: Mapping[str, Any]
) -> OutboundMessage:
    return queue_message(
        normalize_phone(operator.whatsapp, mobile=True),
        text,
        purpose=Purpose.OPERATOR_ALERT,
        context={"operator": operator.pk, **context},
    )


def notify_operator(
    operator: Operator,
    template: str,
    values: Mapping[str, Any],
    *,
    now: datetime,
    force: bool = False,
    context: Mapping[str, Any] | None = None,
    windows: Sequence[Window] | None = None,
    calendar: BusinessCalendar | None = None,
) -> NotifyOutcome:
    """Render `template` in the operator's language and queue it, or say why not.

    `windows` and `calendar` may be passed in by callers notifying many operators at once.
    """
    template_key(template)  # an unknown key is a bug in the caller, whatever the operator
    check = check_operator(operator, now, force=force, windows=windows, calendar=calendar)
    if check.block is not None:
        return NotifyOutcome(None, check.block.reason, check.block.code)
    rendered = render_message(template, values, operator_language(operator))
    queued = _queue_for_operator(operator, rendered.text, {"template": template, **(context or {})})
    return NotifyOutcome(queued, None)


def notify_operator_text(
    operator: Operator,
    text: str,
    *,
    now: datetime,
    force: bool = False,
    context: Mapping[str, Any] | None = None,
    windows: Sequence[Window] | None = None,
    calendar: BusinessCalendar | None = None,
) -> NotifyOutcome:
    """Queue a free text (written by a person) under the same rules as a template."""
    check = check_operator(operator, now, force=force, windows=windows, calendar=calendar)
    if check.block is not None:
        return NotifyOutcome(None, check.block.reason, check.block.code)
    queued = _queue_for_operator(operator, text, {"template": "", **(context or {})})
    return NotifyOutcome(queued, None)


# Values for the templates ------------------------------------------------------------------


def first_name(operator: Operator) -> str:
    return operator.user.first_name or operator.name


def format_waiting(seconds: float) -> str:
    """A waiting time as a person reads it in a chat: "45 min", "2 h 5 min", "3 d 4 h"."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


@dataclass(frozen=True)
class TicketLine:
    number: str
    subject: str
    waiting: str  # already in words; "" when unknown


# A WhatsApp text holds 4,096 characters: long subjects are cut and long lists end in "+N".
MAX_LISTED_TICKETS = 25
MAX_SUBJECT_CHARS = 60


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def ticket_lines(lines: Sequence[TicketLine]) -> str:
    """The grouped list of a message: one bullet per ticket."""
    rendered = []
    for line in lines[:MAX_LISTED_TICKETS]:
        text = f"• #{line.number} {_shorten(line.subject, MAX_SUBJECT_CHARS)}".rstrip()
        if line.waiting:
            text += f" ({line.waiting})"
        rendered.append(text)
    if len(lines) > MAX_LISTED_TICKETS:
        rendered.append(f"… +{len(lines) - MAX_LISTED_TICKETS}")
    return "\n".join(rendered)


def ticket_line(ticket: Ticket, now: datetime) -> TicketLine:
    return TicketLine(
        str(ticket.pk), ticket.subject, format_waiting((now - ticket.created_at).total_seconds())
    )


def ticket_list_values(operator: Operator, lines: Sequence[TicketLine]) -> dict[str, str]:
    """Values of `overdue_alert`, `pre_alert` and `auto_unassign`."""
    return {
        "operator": first_name(operator),
        "count": str(len(lines)),
        "tickets": ticket_lines(lines),
    }


def ticket_link(ticket: Ticket, base_url: str = "") -> str:
    """The ticket's page, absolute with the `public_url` setting, else with the caller's
    address (an API request's), else only the path: a job has no request to ask."""
    path = reverse("ticket_detail", args=[ticket.pk])
    base = get_config("public_url") or base_url
    return base.rstrip("/") + path if base else path


def assignment_values(operator: Operator, ticket: Ticket, base_url: str = "") -> dict[str, str]:
    """Values of `ticket_assigned`; `base_url` is used only without the `public_url` setting."""
    return {
        "operator": first_name(operator),
        "ticket": str(ticket.pk),
        "subject": ticket.subject,
        "customer": ticket.customer_name or "—",
        "link": ticket_link(ticket, base_url),
    }


def start_of_day(now: datetime, calendar: BusinessCalendar) -> datetime:
    local = now.astimezone(calendar.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def shift_summary_values(
    operator: Operator, now: datetime, calendar: BusinessCalendar | None = None
) -> dict[str, str]:
    """Open, closed today (business time zone) and overdue tickets of the operator, in one
    query."""
    calendar = calendar or business_calendar(now)
    today = start_of_day(now, calendar)
    counts = Ticket.objects.filter(assignee=operator).aggregate(
        open=Count("pk", filter=~Q(status=Status.CLOSED)),
        closed_today=Count("pk", filter=Q(status=Status.CLOSED, closed_at__gte=today)),
        overdue=Count("pk", filter=overdue_q(now, overdue_after())),
    )
    return {
        "operator": first_name(operator),
        "open": str(counts["open"]),
        "closed_today": str(counts["closed_today"]),
        "overdue": str(counts["overdue"]),
    }


def waiting_in_words(minutes: int) -> str:
    return format_waiting(timedelta(minutes=minutes).total_seconds())
