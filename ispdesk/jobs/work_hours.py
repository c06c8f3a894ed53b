"""The work-hours window of periodic jobs: when jobs marked `work_hours_only` run on schedule.

Hours are whole hours in the business time zone, one span for weekdays and one for weekends
(defaults 8-23 and 9-21), editable as settings. **National holidays count as weekends** (the
desk runs its weekend shape on them), so a holiday Monday uses the weekend span. A span whose
end is not after its start means "no scheduled runs that kind of day"; 0-24 means all day.

A scheduled run that falls outside the window is not a run and writes no JobRun (a job every
three minutes would otherwise leave hundreds of "skipped" rows each night): the runner moves
the schedule's `next_run_at` on to the next opening, which the jobs page shows. It looks again
at least hourly, so an admin who widens the hours sees it take effect within the hour. A run
started by hand ignores the window.

The functions here are pure: the hours, holidays and time zone are passed in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ispdesk.lib.calendar import national_holidays
from ispdesk.system.config import ConfigKey, define, get_config

GROUP = _("Background jobs")
# How far ahead to look for an opening: two weeks covers any weekly pattern plus holidays.
SEARCH_DAYS = 15
# A postponed job looks again at least this often (see the module docstring).
RECHECK = timedelta(hours=1)


def _hour_key(key: str, default: int, description: Promise, minimum: int, maximum: int) -> None:
    define(
        ConfigKey(key, "int", default, description, group=GROUP, minimum=minimum, maximum=maximum)
    )


_hour_key(
    "jobs_weekday_start_hour",
    8,
    _("Hour (0-23, business time zone) from which work-hours jobs run on weekdays."),
    0,
    23,
)
_hour_key(
    "jobs_weekday_end_hour",
    23,
    _("Hour (1-24) at which work-hours jobs stop on weekdays; 24 is midnight."),
    1,
    24,
)
_hour_key(
    "jobs_weekend_start_hour",
    9,
    _("Hour (0-23) from which work-hours jobs run on Saturdays, Sundays and national holidays."),
    0,
    23,
)
_hour_key(
    "jobs_weekend_end_hour",
    21,
    _("Hour (1-24) at which work-hours jobs stop on Saturdays, Sundays and national holidays."),
    1,
    24,
)


@dataclass(frozen=True)
class WorkHours:
    """(start hour, end hour) for weekdays and for weekends/holidays."""

    weekday: tuple[int, int] = (8, 23)
    weekend: tuple[int, int] = (9, 21)


def day_off(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() >= 5 or day in holidays


def span_on(
    day: date, hours: WorkHours, holidays: Collection[date], tz: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The window of `day` as aware datetimes, or None when jobs don't run that day."""
    start, end = hours.weekend if day_off(day, holidays) else hours.weekday
    if end <= start:
        return None
    opens = datetime.combine(day, time(start), tzinfo=tz)
    closes = datetime.combine(day, time(0), tzinfo=tz) + timedelta(hours=end)
    return opens, closes


def in_work_hours(at: datetime, hours: WorkHours, holidays: Collection[date], tz: ZoneInfo) -> bool:
    local = at.astimezone(tz)
    span = span_on(local.date(), hours, holidays, tz)
    return span is not None and span[0] <= local < span[1]


def next_opening(
    at: datetime, hours: WorkHours, holidays: Collection[date], tz: ZoneInfo
) -> datetime | None:
    """`at` when inside the window, else the next time it opens (None: never, in two weeks)."""
    if in_work_hours(at, hours, holidays, tz):
        return at
    local = at.astimezone(tz)
    for offset in range(SEARCH_DAYS):
        span = span_on(local.date() + timedelta(days=offset), hours, holidays, tz)
        if span is not None and span[0] > local:
            return span[0]
    return None


def postponed_until(
    at: datetime, hours: WorkHours, holidays: Collection[date], tz: ZoneInfo
) -> datetime:
    """When a job skipped at `at` should be looked at again: the opening, or within the hour."""
    opening = next_opening(at, hours, holidays, tz)
    recheck = at + RECHECK
    return recheck if opening is None else min(opening, recheck)


# Loading the settings (the only part that touches the database) ------------------------------


def configured_hours() -> WorkHours:
    return WorkHours(
        weekday=(get_config("jobs_weekday_start_hour"), get_config("jobs_weekday_end_hour")),
        weekend=(get_config("jobs_weekend_start_hour"), get_config("jobs_weekend_end_hour")),
    )


def business_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class WorkHoursCheck:
    """Everything needed to test moments against the configured window, loaded once."""

    hours: WorkHours
    holidays: frozenset[date]
    tz: ZoneInfo

    def allows(self, at: datetime) -> bool:
        return in_work_hours(at, self.hours, self.holidays, self.tz)

    def postponed_until(self, at: datetime) -> datetime:
        return postponed_until(at, self.hours, self.holidays, self.tz)


def load_work_hours(around: datetime) -> WorkHoursCheck:
    tz = business_tz()
    year = around.astimezone(tz).year
    return WorkHoursCheck(configured_hours(), national_holidays((year, year + 1)), tz)
