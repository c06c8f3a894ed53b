"""Facts about the team that the assignment engine needs, read from the database.

`read_team(now)` reads them in a fixed number of queries, whatever the team's or the
tickets' size (no per-operator query, no model instances for the operators). One decision
reads them once; a batch of the queue reads them once per transaction and keeps them current
itself (`Team.given`): while it holds the team lock nobody else gives tickets or pauses an
operator (a ticket closed or unassigned meanwhile counts from the next batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model
from django.db.transaction import TransactionManagementError

from ispdesk.lib.calendar import BusinessCalendar, Window, is_available
from ispdesk.lib.rawsql import Select, column, fields, rows_together, table
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
    TeamStamp,
    person_name,
)
from ispdesk.operators.stamp import STAMP_ID
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
    username, open tickets, team stamp) of every active operator whose user is active, by
    id; parameters: true, true. The open tickets are the count the database keeps
    (`tickets.loads`); the team stamp is the same on every row (`operators.stamp`)."""
    user = cast(type[Model], Operator._meta.get_field("user").related_model)
    names = ("id", "user", "is_paused", "assignment_paused", "last_assigned_at")
    user_names = ("first_name", "last_name", "username")
    columns = [column(Operator, name) for name in names]
    columns += [column(user, name) for name in user_names]
    selected: list[Field | None] = [*fields(Operator, *names), *fields(user, *user_names)]
    if vendor == "postgresql":
        # As seconds since the epoch (exact to the microsecond): parsing 200 timestamps'
        # text on every decision was a tenth of it. `_candidate` makes it a date-time again.
        at = names.index("last_assigned_at")
        columns[at] = f"EXTRACT(EPOCH FROM {columns[at]})::float8"
        selected[at] = None
    counted = column(OpenTicketCount, "open_tickets")
    stamp = (
        f"(SELECT {column(TeamStamp, 'value')} FROM {table(TeamStamp)}"  # noqa: S608 - names from model meta
        f" WHERE {column(TeamStamp, 'id')} = {STAMP_ID})"
    )
    sql = (
        f"SELECT {', '.join(columns)}, COALESCE({counted}, 0), {stamp} FROM {table(Operator)}"  # noqa: S608 - names from model meta
        f" INNER JOIN {table(user)} ON {column(user, 'id')} = {column(Operator, 'user')}"
        f" LEFT OUTER JOIN {table(OpenTicketCount)}"
        f" ON {column(OpenTicketCount, 'operator_id')} = {column(Operator, 'id')}"
        f" WHERE {column(Operator, 'active')} = %s AND {column(user, 'is_active')} = %s"
        f" ORDER BY {column(Operator, 'id')}"
    )
    return Select.of(sql, *selected, None, None)


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


def lock_team() -> None:
    """Serialise decisions that read the team's loads: every action that gives a ticket
    takes it before `lock_ticket` (the operators by id, then tickets, so concurrent actions
    never deadlock; see `tickets.actions`)."""
    lock = _team_lock()
    if lock is not None:
        lock.rows([])  # hand-written: as a queryset, building it cost more than running it


def _team_lock() -> Select | None:
    """The team lock's statement; None where a writing transaction already excludes every
    other writer (SQLite)."""
    if not connection.features.has_select_for_update:
        return None
    if connection.get_autocommit():
        raise TransactionManagementError("lock_team() needs a transaction.")
    return _select_team_lock(connection.vendor)


@cache
def _select_team_lock(vendor: str) -> Select:
    pk = column(Operator, "id")
    lock = connection.ops.for_update_sql()
    return Select.of(f"SELECT {pk} FROM {table(Operator)} ORDER BY {pk} {lock}", None)  # noqa: S608 - names from model meta


def _on_duty(day: date, kept: _Kept) -> frozenset[int]:
    """`on_duty_ids(day)`."""
    found = kept.on_duty.get(day)
    if found is None:
        params = [connection.ops.adapt_datefield_value(day)]
        rows = _select_on_duty(connection.vendor).rows(params)
        found = kept.on_duty[day] = frozenset(operator_id for (operator_id,) in rows)
    return found


@dataclass
class _Kept:
    """The facts that change only when someone edits them (windows, calendar, who is on
    duty, shift tags) as read under one team stamp (`operators.stamp`): while the stamp
    stays the same, so do they, and a process reads them once instead of on every
    decision."""

    key: tuple[str, str]  # database alias, stamp
    calendars: dict[int, BusinessCalendar] = field(default_factory=dict)  # by business year
    windows: dict[tuple[int, ...], dict[int, list[Window]]] = field(default_factory=dict)
    on_duty: dict[date, frozenset[int]] = field(default_factory=dict)
    tags: dict[str, frozenset[int]] | None = None
    # Each operator's windows of some weekdays as one hashable key (`_on_schedule`).
    window_keys: dict[tuple[int, ...], dict[int, tuple[int, ...]]] = field(default_factory=dict)


_kept: _Kept | None = None


def _kept_under(stamp: str | None) -> _Kept:
    """What this process keeps under `stamp`, emptied when the stamp is new to it. Without a
    stamp (no active operator, or the row gone) nothing is kept beyond this decision."""
    global _kept
    if stamp is None:
        return _Kept(("", ""))
    key = (connection.alias, stamp)
    kept = _kept
    if kept is None or kept.key != key:
        kept = _kept = _Kept(key)
    return kept


def _assignment_windows(days: tuple[int, ...], kept: _Kept) -> dict[int, list[Window]]:
    """`windows_by_operator(None, ASSIGNMENT, weekdays=days)`: everyone's windows (the
    inactive few are not looked up: a list of ids would cost more to send than their rows)."""
    found = kept.windows.get(days)
    if found is None:
        select = _select_windows(connection.vendor, len(days))
        found = kept.windows[days] = group_windows(select.rows([ScheduleKind.ASSIGNMENT, *days]))
    return found


def _business_calendar(now: datetime, kept: _Kept) -> BusinessCalendar:
    """`business_calendar(now)`."""
    first, last = exception_years(now)
    year = first.year + 1  # the business year of `now`
    found = kept.calendars.get(year)
    if found is None:
        params = [connection.ops.adapt_datefield_value(day) for day in (first, last)]
        rows = _select_exceptions(connection.vendor).rows(params)
        found = kept.calendars[year] = calendar_from_exceptions(now, rows)
    return found


def _on_schedule(
    days: tuple[int, ...],
    ids: Iterable[int],
    calendar: BusinessCalendar,
    now: datetime,
    kept: _Kept,
) -> dict[int, bool]:
    """Whether each operator's assignment window covers now. Operators of one shift share
    their windows (`group_windows` gives one object per span, in a stable order), so each
    distinct set is worked out once, found by the windows' identities (cheaper to hash than
    their fields; equal windows that are distinct objects are just worked out twice)."""
    windows = _assignment_windows(days, kept)
    keys = kept.window_keys.get(days)
    if keys is None:
        keys = kept.window_keys[days] = {
            operator_id: tuple(map(id, mine)) for operator_id, mine in windows.items()
        }
    known: dict[tuple[int, ...], bool] = {}
    found = {}
    for operator_id in ids:
        key = keys.get(operator_id, ())
        if key not in known:
            known[key] = is_available(windows.get(operator_id, ()), calendar, now)
        found[operator_id] = known[key]
    return found


def _shift_tags(kept: _Kept) -> dict[str, frozenset[int]]:
    """Every active tag with its members (a tag without members too: it still claims the
    text it is found in), in one query."""
    if kept.tags is not None:
        return kept.tags
    members: dict[str, set[int]] = {}
    for tag, operator_id in _select_shift_tags(connection.vendor).rows([True]):
        found = members.setdefault(tag, set())
        if operator_id is not None:
            found.add(operator_id)
    kept.tags = {tag: frozenset(ids) for tag, ids in members.items()}
    return kept.tags


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


# Candidates as built from the same row and schedule: most operators' rows do not change
# from one decision to the next, and building 200 candidates was a tenth of a decision.
_candidates: dict[tuple[Any, ...], Candidate] = {}
_CANDIDATES_KEPT = 10_000


def _candidate(row: tuple[Any, ...], on_schedule: bool) -> Candidate:
    key = (*row[:-1], on_schedule)  # the team stamp aside
    found = _candidates.get(key)
    if found is None:
        pk, _user, paused, assignment_paused, last_at, first, last, username, load, _s = row
        if len(_candidates) >= _CANDIDATES_KEPT:
            _candidates.clear()
        if isinstance(last_at, float):  # PostgreSQL's epoch seconds (`_select_operators`)
            last_at = datetime.fromtimestamp(last_at, UTC)
        found = _candidates[key] = Candidate(
            operator_id=pk,
            name=person_name(first, last, username),
            active=True,
            paused=paused,
            assignment_paused=assignment_paused,
            on_schedule=on_schedule,
            open_tickets=load,
            last_assigned_at=last_at,
        )
    return found


def read_team(now: datetime) -> Team:
    """The team's facts at `now`: one query while the windows, calendar, who is on duty and
    shift tags this process keeps are current (`_Kept`), four when they must be read again
    (five on a day off)."""
    return _team(_select_operators(connection.vendor).rows([True, True]), now)


def lock_and_read_team(
    now: datetime, then: Select, params: Sequence[Any]
) -> tuple[Team, list[tuple[Any, ...]]]:
    """`lock_team()`, `read_team(now)`, then `then`'s rows (a ticket it locks), in one round
    trip to the database where it can (`rawsql.rows_together`): what one decision reads.

    The lock is its own statement, not a locking read of the team: on PostgreSQL a `FOR
    UPDATE` that waited for the lock reads the locked rows again but the joined ones (the
    counts) as its snapshot had them before the wait, so a decision queued behind another
    would miss that one's ticket."""
    lock = _team_lock()
    reads = [(_select_operators(connection.vendor), [True, True]), (then, params)]
    found = rows_together(*([(lock, [])] if lock is not None else []), *reads)
    return _team(found[-2], now), found[-1]


def _team(operators: list[tuple[Any, ...]], now: datetime) -> Team:
    kept = _kept_under(operators[0][-1] if operators else None)
    calendar = _business_calendar(now, kept)
    days = tuple(sorted(weekdays_covering(calendar, now)))
    on_schedule = _on_schedule(days, (row[0] for row in operators), calendar, now, kept)
    candidates = {row[0]: _candidate(row, on_schedule[row[0]]) for row in operators}
    day_off = is_day_off(calendar, now)
    rules = Rules(
        is_day_off=day_off,
        # Who is on duty only counts on a day off.
        on_duty=_on_duty(now.astimezone(calendar.tz).date(), kept) if day_off else frozenset(),
        shift_tags=_shift_tags(kept),
        use_on_duty=get_config("assignment_use_on_duty"),
        use_shift_tags=get_config("assignment_use_shift_tags"),
        round_robin_fallback=get_config("assignment_round_robin_fallback"),
    )
    return Team(candidates, rules, {row[0]: row[1] for row in operators})


def team_facts(now: datetime) -> tuple[list[Candidate], Rules]:
    """Every active operator as an engine candidate, and the rules in force now."""
    team = read_team(now)
    return list(team.candidates.values()), team.rules
