"""Loading the business calendar and operators' windows from the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from ispdesk.lib.calendar import BusinessCalendar, DayException, Window, national_holidays
from ispdesk.lib.memo import remembered
from ispdesk.operators.models import CalendarException, OnDuty, Schedule


def exception_years(around: datetime) -> tuple[date, date]:
    """The first and last day whose exceptions the calendar near `around` needs: those of
    last, this and next year."""
    year = around.astimezone(ZoneInfo(settings.TIME_ZONE)).year
    return date(year - 1, 1, 1), date(year + 1, 12, 31)


def business_calendar(around: datetime) -> BusinessCalendar:
    """The calendar for dates near `around`: holidays of last, this and next year. Read once
    per year asked for in a batch (`lib.memo`): a hand-over batch asks for each area's hours
    and each queue's operators."""
    first, last = exception_years(around)

    def read() -> BusinessCalendar:
        rows = CalendarException.objects.filter(day__range=(first, last))
        return calendar_from_exceptions(around, rows.values_list("day", "closed", "start", "end"))

    return remembered(("business_calendar", first), read)


def calendar_from_exceptions(
    around: datetime, rows: Iterable[tuple[date, bool, time | None, time | None]]
) -> BusinessCalendar:
    """The calendar near `around` from its exceptions' (day, closed, start, end) rows."""
    tz = ZoneInfo(settings.TIME_ZONE)
    year = around.astimezone(tz).year
    years = (year - 1, year, year + 1)
    exceptions: dict[date, DayException] = {}
    hours: dict[date, list[tuple[time, time]]] = defaultdict(list)
    closed: set[date] = set()
    for day, is_closed, start, end in rows:
        if is_closed:
            closed.add(day)
        elif start is not None and end is not None:
            hours[day].append((start, end))
    for day in closed:
        exceptions[day] = DayException(day, closed=True)
    for day, spans in hours.items():
        if day not in closed:
            exceptions[day] = DayException(day, closed=False, hours=tuple(sorted(spans)))
    return BusinessCalendar(tz=tz, holidays=national_holidays(years), exceptions=exceptions)


def windows_by_operator(
    operator_ids: Iterable[int] | None, kind: str, *, weekdays: Iterable[int] | None = None
) -> dict[int, list[Window]]:
    """Each operator's windows of one kind (of every operator when `operator_ids` is None;
    only those of `weekdays` when given), in one query, in a stable order."""
    rows = Schedule.objects.filter(kind=kind)
    if operator_ids is not None:
        rows = rows.filter(operator_id__in=list(operator_ids))
    if weekdays is not None:
        rows = rows.filter(weekday__in=list(weekdays))
    return group_windows(rows.values_list("operator", "weekday", "start", "end"))


def group_windows(rows: Iterable[tuple[int, int, time, time]]) -> dict[int, list[Window]]:
    """Each operator's windows from (operator, weekday, start, end) rows, in their order.
    One Window per distinct span: the operators of a shift share theirs."""
    found: dict[int, list[Window]] = defaultdict(list)
    spans: dict[tuple[int, time, time], Window] = {}
    for operator_id, weekday, start, end in rows:
        key = (weekday, start, end)
        window = spans.get(key)
        if window is None:
            window = spans[key] = Window(weekday, start, end)
        found[operator_id].append(window)
    return found


def weekdays_covering(calendar: BusinessCalendar, at: datetime) -> set[int]:
    """The weekdays whose windows can cover `at`: a window lasts a day at most, so only
    those starting yesterday or today (business time zone) can still be open."""
    today = at.astimezone(calendar.tz).date()
    return {today.weekday(), (today - timedelta(days=1)).weekday()}


def is_day_off(calendar: BusinessCalendar, at: datetime) -> bool:
    """A weekend day or a national holiday in the business time zone."""
    day = at.astimezone(calendar.tz).date()
    return day.weekday() >= 5 or calendar.is_holiday(day)


def on_duty_ids(day: date) -> frozenset[int]:
    return frozenset(OnDuty.objects.filter(day=day).values_list("operator_id", flat=True))


def holiday_names(years: Sequence[int]) -> dict[date, str]:
    """National holidays of the years, named in Spanish (the holidays package's names)."""
    import holidays

    names = holidays.country_holidays("AR", years=list(years), language="es")
    return {day: str(names.get(day, "")) for day in sorted(national_holidays(years))}
