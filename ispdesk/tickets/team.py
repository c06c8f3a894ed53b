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
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from django.db import connection
from django.db.models import Model

from ispdesk.lib.calendar import BusinessCalendar, Window, is_available
from ispdesk.lib.rawsql import Select, column, fields, table
from ispdesk.operators.calendars import (
    calendar_from_exceptions,
    exception_years,
    group_windows,
    is_day_off,
    weekdays_covering,
)
from ispdesk.operators.models import (
    CalendarException,
    OnDuty,
    Operator,
    Schedule,
    ScheduleKind,
    ShiftTag,
    person_name,
)
from ispdesk.system.config import get_config
from ispdesk.tickets.assignment import Candidate, Decision, Rules, decide
from ispdesk.tickets.models import OpenTicketCount

# The facts are read with hand-written SELECTs (`lib.rawsql`): through querysets, building
# and compiling the statements cost ten times what running them does, on every decision.
# Names come from the models' meta, values are parameters: hence the `noqa: S608`.

# Each `_select_*(vendor)` is written once per vendor (its quoting): `vendor` is the cache key.


@cache
def _select_operators(vendor: str) -> Select:
    """(id, user id, paused, assignment paused, last assigned at, first name, last name,
    username, open tickets) of every active operator whose user is active; parameters:
    true, true. The open tickets are the count the database keeps (`tickets.loads`)."""
    user = cast(type[Model], Operator._meta.get_field("user").related_model)
    names = ("id", "user", "is_paused", "assignment_paused", "last_assigned_at")
    user_names = ("first_name", "last_name", "username")
    columns = [column(Operator, name) for name in names]
    columns += [column(user, name) for name in user_names]
    counted = column(OpenTicketCount, "open_tickets")
    sql = (
        f"SELECT {', '.join(columns)}, COALESCE({counted}, 0) FROM {table(Operator)}"  # noqa: S608 - names from model meta
        f" INNER JOIN {table(user)} ON {column(user, 'id')} = {column(Operator, 'user')}"
        f" LEFT OUTER JOIN {table(OpenTicketCount)}"
        f" ON {column(OpenTicketCount, 'operator_id')} = {column(Operator, 'id')}"
        f" WHERE {column(Operator, 'active')} = %s AND {column(user, 'is_active')} = %s"
    )
    return Select.of(sql, *fields(Operator, *names), *fields(user, *user_names), None)


@cache
def _select_on_duty(vendor: str) -> Select:
    """Who is on duty on a day (the parameter)."""
    operator, on_day = column(OnDuty, "operator"), column(OnDuty, "day")
    sql = f"SELECT {operator} FROM {table(OnDuty)} WHERE {on_day} = %s"  # noqa: S608 - names from model meta
    return Select.of(sql, None)


@cache
def _select_windows(vendor: str, days: int) -> Select:
    """(operator, weekday, start, end) of every window of a kind on some weekdays, in
    `windows_by_operator`'s order; parameters: the kind and the `days` weekdays."""
    operator, weekday, start = (column(Schedule, name) for name in ("operator", "weekday", "start"))
    sql = (
        f"SELECT {operator}, {weekday}, {start}, {column(Schedule, 'end')}"  # noqa: S608 - names from model meta
        f" FROM {table(Schedule)} WHERE {column(Schedule, 'kind')} = %s"
        f" AND {weekday} IN ({', '.join(['%s'] * days)})"
        f" ORDER BY {operator}, {weekday}, {start}"
    )
    return Select.of(sql, *fields(Schedule, "operator", "weekday", "start", "end"))


@cache
def _select_exceptions(vendor: str) -> Select:
    """(day, closed, start, end) of the calendar's exceptions between two days."""
    names = ("day", "closed", "start", "end")
    day = column(CalendarException, "day")
    sql = (
        f"SELECT {', '.join(column(CalendarException, name) for name in names)}"  # noqa: S608 - names from model meta
        f" FROM {table(CalendarException)} WHERE {day} >= %s AND {day} <= %s"
    )
    return Select.of(sql, *fields(CalendarException, *names))


@cache
def _select_shift_tags(vendor: str) -> Select:
    """(tag, member or None) of every active shift tag; parameter: true."""
    members = ShiftTag.operators.through
    tag_id, member = column(members, "shifttag"), column(members, "operator")
    sql = (
        f"SELECT {column(ShiftTag, 'tag')}, {member} FROM {table(ShiftTag)}"  # noqa: S608 - names from model meta
        f" LEFT OUTER JOIN {table(members)} ON {tag_id} = {column(ShiftTag, 'id')}"
        f" WHERE {column(ShiftTag, 'active')} = %s"
    )
    return Select.of(sql, None, None)


def _operators() -> list[tuple[Any, ...]]:
    return _select_operators(connection.vendor).rows([True, True])


def _on_duty(day: date) -> frozenset[int]:
    """`on_duty_ids(day)`."""
    rows = _select_on_duty(connection.vendor).rows([connection.ops.adapt_datefield_value(day)])
    return frozenset(operator_id for (operator_id,) in rows)


def _assignment_windows(weekdays: Iterable[int]) -> dict[int, list[Window]]:
    """`windows_by_operator(None, ASSIGNMENT, weekdays=...)`: everyone's windows (the
    inactive few are not looked up: a list of ids would cost more to send than their rows)."""
    days = sorted(weekdays)
    select = _select_windows(connection.vendor, len(days))
    return group_windows(select.rows([ScheduleKind.ASSIGNMENT, *days]))


def _business_calendar(now: datetime) -> BusinessCalendar:
    """`business_calendar(now)`."""
    first, last = (connection.ops.adapt_datefield_value(d) for d in exception_years(now))
    return calendar_from_exceptions(now, _select_exceptions(connection.vendor).rows([first, last]))


def _on_schedule(
    windows: dict[int, list[Window]], ids: Iterable[int], calendar: BusinessCalendar, now: datetime
) -> dict[int, bool]:
    """Whether each operator's assignment window covers now. Operators of one shift share
    their windows (`group_windows` gives one object per span, in a stable order), so each
    distinct set is worked out once, found by the windows' identities (cheaper to hash than
    their fields; equal windows that are distinct objects are just worked out twice)."""
    known: dict[tuple[int, ...], bool] = {}
    found = {}
    for operator_id in ids:
        mine = windows.get(operator_id, ())
        key = tuple(map(id, mine))
        if key not in known:
            known[key] = is_available(mine, calendar, now)
        found[operator_id] = known[key]
    return found


def _shift_tags() -> dict[str, frozenset[int]]:
    """Every active tag with its members (a tag without members too: it still claims the
    text it is found in), in one query."""
    members: dict[str, set[int]] = {}
    for tag, operator_id in _select_shift_tags(connection.vendor).rows([True]):
        found = members.setdefault(tag, set())
        if operator_id is not None:
            found.add(operator_id)
    return {tag: frozenset(ids) for tag, ids in members.items()}


@dataclass
class Team:
    """Every active operator as an engine candidate, and the rules in force."""

    candidates: dict[int, Candidate]
    rules: Rules
    user_ids: dict[int, int]  # each candidate's user

    def decide(self, text: str) -> Decision:
        return decide(text, list(self.candidates.values()), self.rules)

    def given(self, operator_id: int, at: datetime) -> None:
        """What a decision's ticket changes in the facts: one more open ticket for its
        assignee, assigned at `at` (the engine's tie-break)."""
        candidate = self.candidates[operator_id]
        self.candidates[operator_id] = replace(
            candidate, open_tickets=candidate.open_tickets + 1, last_assigned_at=at
        )

    def operator(self, operator_id: int) -> Operator:
        """A team member as a model without reading it again: its id and user id only, any
        other field is read from the database if asked for (as with `.only()`)."""
        return Operator.from_db(
            connection.alias, ["id", "user_id"], [operator_id, self.user_ids[operator_id]]
        )


def read_team(now: datetime) -> Team:
    """The team's facts at `now`, in four queries (five on a day off)."""
    operators = _operators()
    calendar = _business_calendar(now)
    windows = _assignment_windows(weekdays_covering(calendar, now))
    on_schedule = _on_schedule(windows, (row[0] for row in operators), calendar, now)
    candidates = {
        pk: Candidate(
            operator_id=pk,
            name=person_name(first, last, username),
            active=True,
            paused=paused,
            assignment_paused=assignment_paused,
            on_schedule=on_schedule[pk],
            open_tickets=load,
            last_assigned_at=last_at,
        )
        for pk, _u, paused, assignment_paused, last_at, first, last, username, load in operators
    }
    day_off = is_day_off(calendar, now)
    rules = Rules(
        is_day_off=day_off,
        # Who is on duty only counts on a day off.
        on_duty=_on_duty(now.astimezone(calendar.tz).date()) if day_off else frozenset(),
        shift_tags=_shift_tags(),
        use_on_duty=get_config("assignment_use_on_duty"),
        use_shift_tags=get_config("assignment_use_shift_tags"),
        round_robin_fallback=get_config("assignment_round_robin_fallback"),
    )
    return Team(candidates, rules, {row[0]: row[1] for row in operators})


def team_facts(now: datetime) -> tuple[list[Candidate], Rules]:
    """Every active operator as an engine candidate, and the rules in force now."""
    team = read_team(now)
    return list(team.candidates.values()), team.rules
