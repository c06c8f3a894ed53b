"""Schedule arithmetic: the only place that knows about windows, holidays and exceptions.

Pure functions over dataclasses with `now`/`at` passed in. A `Window` is a weekly span on a
weekday from `start` to `end` in the business time zone; `end <= start` means it crosses
midnight into the next day (`end == start` is the whole 24 hours). Holidays close a schedule
that observes them unless a `DayException` opens that day with special hours; an exception can
also close an ordinary day.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

WEEKDAYS = range(7)  # Monday = 0, as datetime.weekday()
MAX_SEARCH_DAYS = 370


@dataclass(frozen=True, order=True)
class Window:
    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.weekday not in WEEKDAYS:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes from the start of the week (end may exceed one week)."""
        start = self.weekday * 1440 + self.start.hour * 60 + self.start.minute
        end = self.weekday * 1440 + self.end.hour * 60 + self.end.minute
        if self.crosses_midnight:
            end += 1440
        return start, end


@dataclass(frozen=True)
class DayException:
    """An admin-entered exception for one date: closed, or open with special hours."""

    day: date
    closed: bool = True
    hours: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True)
class BusinessCalendar:
    tz: ZoneInfo
    holidays: frozenset[date] = frozenset()
    exceptions: dict[date, DayException] = field(default_factory=dict)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


class WindowConflict(ValueError):
    def __init__(self, first: Window, second: Window) -> None:
        self.first = first
        self.second = second
        super().__init__(
            _("%(a)s overlaps %(b)s") % {"a": describe_window(first), "b": describe_window(second)}
        )


def weekday_name(weekday: int) -> str:
    names = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
             _("Saturday"), _("Sunday")]  # fmt: skip
    return names[weekday]


def describe_window(window: Window) -> str:
    return f"{weekday_name(window.weekday)} {window.start:%H:%M}-{window.end:%H:%M}"


def find_overlap(windows: Iterable[Window]) -> tuple[Window, Window] | None:
    """The first pair of windows that overlap in the weekly cycle, or None."""
    spans: list[tuple[int, int, Window]] = []
    for window in windows:
        start, end = window.minutes()
        if window.start == window.end:
            end = start + 1440
        spans.append((start, end, window))
        # A window reaching past Sunday midnight also occupies the start of the week.
        if end > 7 * 1440:
            spans.append((start - 7 * 1440, end - 7 * 1440, window))
    spans.sort(key=lambda item: (item[0], item[1]))
    for (_s1, end1, first), (start2, _e2, second) in itertools.pairwise(spans):
        if start2 < end1 and first is not second:
            return first, second
    return None


def validate_windows(windows: Iterable[Window]) -> None:
    """Raise WindowConflict naming the first two overlapping windows."""
    overlap = find_overlap(windows)
    if overlap is not None:
        raise WindowConflict(*overlap)


def _local(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz)


def intervals_on(
    windows: Sequence[Window], calendar: BusinessCalendar, day: date, *, observe_holidays: bool
) -> list[Interval]:
    """The intervals that start on `day` (a crossing window ends the next day)."""
    exception = calendar.exceptions.get(day)
    if exception is not None:
        if exception.closed:
            return []
        spans = list(exception.hours)
    elif observe_holidays and calendar.is_holiday(day):
        return []
    else:
        spans = [(w.start, w.end) for w in windows if w.weekday == day.weekday()]
    intervals = []
    for start, end in spans:
        begins = _local(day, start, calendar.tz)
        ends_day = day + timedelta(days=1) if end <= start else day
        intervals.append(Interval(begins, _local(ends_day, end, calendar.tz)))
    return sorted(intervals, key=lambda item: item.start)


def _intervals_around(
    windows: Sequence[Window],
    calendar: BusinessCalendar,
    first_day: date,
    days: int,
    observe_holidays: bool,
) -> list[Interval]:
    found: list[Interval] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        found.extend(intervals_on(windows, calendar, day, observe_holidays=observe_holidays))
    return sorted(found, key=lambda item: item.start)


def current_interval(
    windows: Sequence[Window],
    calendar: BusinessCalendar,
    at: datetime,
    *,
    observe_holidays: bool = False,
) -> Interval | None:
    """The interval covering `at`, merged with any that continue it without a gap."""
    local = at.astimezone(calendar.tz)
    intervals = _intervals_around(
        windows, calendar, local.date() - timedelta(days=1), 9, observe_holidays
    )
    for index, interval in enumerate(intervals):
        if interval.contains(local):
            end = interval.end
            for following in intervals[index + 1 :]:
                if following.start > end:
                    break
                end = max(end, following.end)
            return Interval(interval.start, end)
    return None


def is_available(
    windows: Sequence[Window],
    calendar: BusinessCalendar,
    at: datetime,
    *,
    observe_holidays: bool = False,
) -> bool:
    return current_interval(windows, calendar, at, observe_holidays=observe_holidays) is not None


def window_end(
    windows: Sequence[Window],
    calendar: BusinessCalendar,
    at: datetime,
    *,
    observe_holidays: bool = False,
) -> datetime | None:
    """When the current window (with any contiguous continuation) ends; None if closed now."""
    interval = current_interval(windows, calendar, at, observe_holidays=observe_holidays)
    return interval.end if interval else None


def next_opening(
    windows: Sequence[Window],
    calendar: BusinessCalendar,
    at: datetime,
    *,
    observe_holidays: bool = False,
) -> datetime | None:
    """`at` itself when open, else the start of the next interval (None if never)."""
    local = at.astimezone(calendar.tz)
    if is_available(windows, calendar, local, observe_holidays=observe_holidays):
        return local
    day = local.date()
    for offset in range(MAX_SEARCH_DAYS):
        for interval in intervals_on(
            windows, calendar, day + timedelta(days=offset), observe_holidays=observe_holidays
        ):
            if interval.start > local:
                return interval.start
    return None


def national_holidays(years: Iterable[int], country: str = "AR") -> frozenset[date]:
    """National holidays of the given years (Argentina by default)."""
    return frozenset().union(*(_holidays_of(year, country) for year in set(years)))


def preload_holidays(today: date | None = None, country: str = "AR") -> None:
    """Work out last, this and next year's holidays now: the first calendar read of a
    process otherwise imports the `holidays` tables (~0.5 s) while a customer or a console
    waits. Called as a server process starts."""
    year = (today or date.today()).year
    national_holidays((year - 1, year, year + 1), country)


@functools.lru_cache(maxsize=64)
def _holidays_of(year: int, country: str) -> frozenset[date]:
    # A year's holidays never change, and computing them costs ~4 ms: every routing
    # decision and courtesy check reads the calendar, so each year is computed once.
    import holidays

    return frozenset(holidays.country_holidays(country, years=[year]).keys())
