"""Facts about the team that the assignment engine needs, read from the database."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from ispdesk.lib.calendar import is_available
from ispdesk.operators.calendars import (
    business_calendar,
    is_day_off,
    on_duty_ids,
    windows_by_operator,
)
from ispdesk.operators.models import Operator, ScheduleKind, ShiftTag
from ispdesk.system.config import get_config
from ispdesk.tickets.assignment import Candidate, Rules
from ispdesk.tickets.models import Ticket


def open_ticket_counts(operator_ids: list[int]) -> dict[int, int]:
    rows = (
        Ticket.objects.open()
        .filter(assignee_id__in=operator_ids)
        .values("assignee_id")
        .annotate(n=Count("id"))
    )
    return {row["assignee_id"]: row["n"] for row in rows}


def team_facts(now: datetime) -> tuple[list[Candidate], Rules]:
    """Every active operator as an engine candidate, and the rules in force now."""
    operators = list(
        Operator.objects.select_related("user").filter(active=True, user__is_active=True)
    )
    ids = [operator.pk for operator in operators]
    loads = open_ticket_counts(ids)
    calendar = business_calendar(now)
    windows = windows_by_operator(ids, ScheduleKind.ASSIGNMENT)
    candidates = [
        Candidate(
            operator_id=operator.pk,
            name=operator.name,
            active=True,
            paused=operator.is_paused,
            assignment_paused=operator.assignment_paused,
            on_schedule=is_available(windows.get(operator.pk, []), calendar, now),
            open_tickets=loads.get(operator.pk, 0),
            last_assigned_at=operator.last_assigned_at,
        )
        for operator in operators
    ]
    tags = {
        tag.tag: frozenset(member.pk for member in tag.operators.all())
        for tag in ShiftTag.objects.filter(active=True).prefetch_related("operators")
    }
    rules = Rules(
        is_day_off=is_day_off(calendar, now),
        on_duty=on_duty_ids(now.astimezone(calendar.tz).date()),
        shift_tags=tags,
        use_on_duty=get_config("assignment_use_on_duty"),
        use_shift_tags=get_config("assignment_use_shift_tags"),
        round_robin_fallback=get_config("assignment_round_robin_fallback"),
    )
    return candidates, rules
