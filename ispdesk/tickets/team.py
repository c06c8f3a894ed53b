"""Facts about the team that the assignment engine needs, read from the database.

`read_team(now)` reads them in a fixed number of queries, whatever the team's or the
tickets' size (no per-operator query, no model instances for the operators). One decision
reads them once; a batch of the queue reads them once per transaction and keeps them current
itself (`Team.given`): while it holds the team lock nobody else gives tickets or pauses an
operator (a ticket closed or unassigned meanwhile counts from the next batch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Count

from ispdesk.lib.calendar import BusinessCalendar, Window, is_available
from ispdesk.operators.calendars import (
    business_calendar,
    is_day_off,
    on_duty_ids,
    weekdays_covering,
    windows_by_operator,
)
from ispdesk.operators.models import Operator, ScheduleKind, ShiftTag, person_name
from ispdesk.system.config import get_config
from ispdesk.tickets.assignment import Candidate, Decision, Rules, decide
from ispdesk.tickets.models import Ticket


def open_ticket_counts() -> dict[int, int]:
    """Open tickets per assignee, counted from the partial index of open tickets by assignee
    (on PostgreSQL without reading the table once vacuumed): it stays small however many
    closed tickets the history holds."""
    rows = Ticket.objects.open().filter(assignee__isnull=False).order_by()
    return dict(rows.values("assignee").annotate(n=Count("*")).values_list("assignee", "n"))


def _on_schedule(
    windows: dict[int, list[Window]], ids: Iterable[int], calendar: BusinessCalendar, now: datetime
) -> dict[int, bool]:
    """Whether each operator's assignment window covers now. Operators of one shift share
    their windows, so each distinct set is worked out once (`windows_by_operator` gives
    them in a stable order)."""
    known: dict[tuple[Window, ...], bool] = {}
    found = {}
    for operator_id in ids:
        key = tuple(windows.get(operator_id, ()))
        if key not in known:
            known[key] = is_available(key, calendar, now)
        found[operator_id] = known[key]
    return found


def _shift_tags() -> dict[str, frozenset[int]]:
    """Every active tag with its members (a tag without members too: it still claims the
    text it is found in), in one query."""
    members: dict[str, set[int]] = {}
    for tag, operator_id in ShiftTag.objects.filter(active=True).values_list("tag", "operators"):
        found = members.setdefault(tag, set())
        if operator_id is not None:
            found.add(operator_id)
    return {tag: frozenset(ids) for tag, ids in members.items()}


@dataclass
class Team:
    """Every active operator as an engine candidate, and the rules in force."""

    candidates: dict[int, Candidate]
    rules: Rules

    def decide(self, text: str) -> Decision:
        return decide(text, list(self.candidates.values()), self.rules)

    def given(self, operator_id: int, at: datetime) -> None:
        """What a decision's ticket changes in the facts: one more open ticket for its
        assignee, assigned at `at` (the engine's tie-break)."""
        candidate = self.candidates[operator_id]
        self.candidates[operator_id] = replace(
            candidate, open_tickets=candidate.open_tickets + 1, last_assigned_at=at
        )


def read_team(now: datetime) -> Team:
    """The team's facts at `now`, in five queries (six on a day off)."""
    operators = list(
        Operator.objects.filter(active=True, user__is_active=True)
        .order_by()
        .values_list(
            "pk",
            "user__first_name",
            "user__last_name",
            "user__username",
            "is_paused",
            "assignment_paused",
            "last_assigned_at",
        )
    )
    ids = [row[0] for row in operators]
    loads = open_ticket_counts()
    calendar = business_calendar(now)
    # Everyone's windows (the inactive few are not looked up): a list of ids would cost more
    # to send than their rows.
    windows = windows_by_operator(
        None, ScheduleKind.ASSIGNMENT, weekdays=weekdays_covering(calendar, now)
    )
    on_schedule = _on_schedule(windows, ids, calendar, now)
    candidates = {
        pk: Candidate(
            operator_id=pk,
            name=person_name(first_name, last_name, username),
            active=True,
            paused=paused,
            assignment_paused=assignment_paused,
            on_schedule=on_schedule[pk],
            open_tickets=loads.get(pk, 0),
            last_assigned_at=last_assigned_at,
        )
        for pk, first_name, last_name, username, paused, assignment_paused, last_assigned_at in (
            operators
        )
    }
    day_off = is_day_off(calendar, now)
    rules = Rules(
        is_day_off=day_off,
        # Who is on duty only counts on a day off.
        on_duty=on_duty_ids(now.astimezone(calendar.tz).date()) if day_off else frozenset(),
        shift_tags=_shift_tags(),
        use_on_duty=get_config("assignment_use_on_duty"),
        use_shift_tags=get_config("assignment_use_shift_tags"),
        round_robin_fallback=get_config("assignment_round_robin_fallback"),
    )
    return Team(candidates, rules)


def team_facts(now: datetime) -> tuple[list[Candidate], Rules]:
    """Every active operator as an engine candidate, and the rules in force now."""
    team = read_team(now)
    return list(team.candidates.values()), team.rules
