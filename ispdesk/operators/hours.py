"""Whether an area is open: its working-hours windows over the business calendar.

`area_opening` is pure: windows, calendar and time in, an `AreaOpening` out
(`area_openings` loads them). Holidays close every area unless a
calendar exception opens the day. An area without windows is open at all hours (holidays
still close it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from django.utils.translation import ngettext, pgettext

from ispdesk.lib.calendar import BusinessCalendar, Window, current_interval, next_opening
from ispdesk.lib.memo import remembered
from ispdesk.operators.calendars import business_calendar
from ispdesk.operators.models import AreaHours

# "No windows" means open around the clock; spelled as a 24-hour window on every weekday so
# that holidays and closed exceptions still close the area through the calendar's own rules.
AROUND_THE_CLOCK = tuple(Window(day, time(0), time(0)) for day in range(7))
WEEK_DAYS = 7


@dataclass(frozen=True)
class HoursWindow:
    window: Window
    courtesy_message: str = ""


@dataclass(frozen=True)
class AreaOpening:
    open: bool
    # When the current open period ends (open) / the next one starts (closed); None = never.
    closes_at: datetime | None
    next_opening: datetime | None
    # The courtesy message of the window that opens next ("" = use the after_hours template).
    courtesy_message: str = ""


def _courtesy_message(
    windows: Sequence[HoursWindow], calendar: BusinessCalendar, opening: datetime
) -> str:
    """The message of the weekly window that starts at `opening`; "" when a calendar
    exception's special hours open that day instead of the weekly windows."""
    if opening.date() in calendar.exceptions:
        return ""
    for hours in windows:
        window = hours.window
        if window.weekday == opening.weekday() and window.start == opening.time():
            return hours.courtesy_message
    return ""


def area_opening(
    windows: Sequence[HoursWindow], calendar: BusinessCalendar, at: datetime
) -> AreaOpening:
    plain = [hours.window for hours in windows] or list(AROUND_THE_CLOCK)
    # An around-the-clock area is "open until" the end of what the calendar looks ahead at.
    interval = current_interval(plain, calendar, at, observe_holidays=True)
    if interval is not None:
        return AreaOpening(open=True, closes_at=interval.end, next_opening=None)
    opening = next_opening(plain, calendar, at, observe_holidays=True)
    if opening is None:
        return AreaOpening(open=False, closes_at=None, next_opening=None)
    return AreaOpening(
        open=False,
        closes_at=None,
        next_opening=opening,
        courtesy_message=_courtesy_message(windows, calendar, opening),
    )


def area_openings(area_ids: Sequence[int], at: datetime) -> dict[int, AreaOpening]:
    """Every listed area's opening at `at`, loaded in one query (plus the calendar's)."""
    if not area_ids:
        return {}
    by_area: dict[int, list[HoursWindow]] = defaultdict(list)
    for row in AreaHours.objects.filter(area_id__in=list(area_ids)):
        by_area[row.area_id].append(HoursWindow(row.as_window(), row.courtesy_message))
    calendar = business_calendar(at)
    return {pk: area_opening(by_area.get(pk, []), calendar, at) for pk in area_ids}


def area_opening_now(area_id: int, now: datetime) -> AreaOpening:
    """One area's opening at `now`, read once per area and minute in a batch (`lib.memo`):
    opening hours are whole minutes, so within one the answer (and the courtesy text) is the
    same."""
    minute = now.replace(second=0, microsecond=0)
    return remembered(
        ("area_opening", area_id, minute), lambda: area_openings([area_id], now)[area_id]
    )


def _on_weekday(weekday: int, hour: int, clock: str) -> str:
    # One sentence per weekday so that translators can add the article ("el lunes").
    # The hour is the plural count: Spanish says "a la 01:00" but "a las 08:00".
    sentences = [
        ngettext("on Monday at %(time)s", "on Monday at %(time)s", hour),
        ngettext("on Tuesday at %(time)s", "on Tuesday at %(time)s", hour),
        ngettext("on Wednesday at %(time)s", "on Wednesday at %(time)s", hour),
        ngettext("on Thursday at %(time)s", "on Thursday at %(time)s", hour),
        ngettext("on Friday at %(time)s", "on Friday at %(time)s", hour),
        ngettext("on Saturday at %(time)s", "on Saturday at %(time)s", hour),
        ngettext("on Sunday at %(time)s", "on Sunday at %(time)s", hour),
    ]
    return sentences[weekday] % {"time": clock}


def describe_opening(next_opening: datetime, now: datetime) -> str:
    """When an area opens again, in words for a customer: "today at 08:00", "tomorrow at
    08:00", "on Monday at 09:00", or "on 25/12 at 09:00" a week or more ahead.

    Days are counted in the opening's own time zone (the business calendar's)."""
    local_now = now.astimezone(next_opening.tzinfo) if next_opening.tzinfo else now
    days = (next_opening.date() - local_now.date()).days
    hour = next_opening.hour
    clock = f"{next_opening:%H:%M}"
    if days <= 0:
        return ngettext("today at %(time)s", "today at %(time)s", hour) % {"time": clock}
    if days == 1:
        return ngettext("tomorrow at %(time)s", "tomorrow at %(time)s", hour) % {"time": clock}
    if days < WEEK_DAYS:
        return _on_weekday(next_opening.weekday(), hour, clock)
    return ngettext("on %(date)s at %(time)s", "on %(date)s at %(time)s", hour) % {
        "date": f"{next_opening:%d/%m}",
        "time": clock,
    }


def closed_until_text(opening: AreaOpening, now: datetime) -> str:
    """The badge of a closed area: "Closed, opens tomorrow at 08:00" (or just "Closed")."""
    if opening.next_opening is None:
        return pgettext("area", "Closed")
    return pgettext("area", "Closed, opens %(when)s") % {
        "when": describe_opening(opening.next_opening, now)
    }
