"""Whether an area is open: working-hours windows over a fixed business calendar (no
database), and when it opens again in words."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.lib.calendar import BusinessCalendar, DayException, Window
from ispdesk.operators.hours import (
    AreaOpening,
    HoursWindow,
    area_opening,
    closed_until_text,
    describe_opening,
)

TZ = ZoneInfo("America/Argentina/Buenos_Aires")
CAL = BusinessCalendar(tz=TZ)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MONDAY = date(2026, 11, 23)  # a Monday


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY + timedelta(days=day_offset), time(hour, minute), tzinfo=TZ)


def hours(weekday: int, start: int, end: int, message: str = "") -> HoursWindow:
    return HoursWindow(Window(weekday, time(start), time(end)), message)


def weekdays(start: int, end: int, message: str = "") -> list[HoursWindow]:
    return [hours(day, start, end, message) for day in range(5)]


OFFICE = weekdays(8, 16)
SPLIT = [hours(MON, 8, 12, "mañana"), hours(MON, 14, 18, "tarde")]
HOLIDAY_MONDAY = BusinessCalendar(tz=TZ, holidays=frozenset({MONDAY}))


def opened(until: datetime) -> AreaOpening:
    return AreaOpening(open=True, closes_at=until, next_opening=None)


def closed(opens: datetime | None, message: str = "") -> AreaOpening:
    return AreaOpening(open=False, closes_at=None, next_opening=opens, courtesy_message=message)


@pytest.mark.parametrize(
    ("case", "windows", "calendar", "moment", "expected"),
    [
        ("inside a window", OFFICE, CAL, at(MON, 9), opened(at(MON, 16))),
        ("at the first minute", OFFICE, CAL, at(MON, 8), opened(at(MON, 16))),
        ("at the end, exclusive", OFFICE, CAL, at(MON, 16), closed(at(TUE, 8))),
        ("before opening", OFFICE, CAL, at(MON, 7, 59), closed(at(MON, 8))),
        ("friday evening waits for monday", OFFICE, CAL, at(FRI, 20), closed(at(7, 8))),
        ("in the morning of a split day", SPLIT, CAL, at(MON, 10), opened(at(MON, 12))),
        ("at lunch of a split day", SPLIT, CAL, at(MON, 13), closed(at(MON, 14), "tarde")),
        ("in the afternoon of a split day", SPLIT, CAL, at(MON, 15), opened(at(MON, 18))),
        ("a night window late", [hours(FRI, 22, 6)], CAL, at(FRI, 23), opened(at(SAT, 6))),
        ("a night window after midnight", [hours(FRI, 22, 6)], CAL, at(SAT, 3), opened(at(SAT, 6))),
        ("a night window is over", [hours(FRI, 22, 6)], CAL, at(SAT, 6), closed(at(7 + FRI, 22))),
        (
            "sunday night reaches monday",
            [hours(SUN, 20, 2)],
            CAL,
            at(MON, 1),
            opened(at(MON, 2)),
        ),
        ("a holiday closes", OFFICE, HOLIDAY_MONDAY, at(MON, 9), closed(at(TUE, 8))),
        (
            "contiguous windows merge",
            [hours(MON, 8, 12), hours(MON, 12, 16)],
            CAL,
            at(MON, 9),
            opened(at(MON, 16)),
        ),
        (
            "contiguous windows merge across midnight",
            [hours(MON, 20, 0), hours(TUE, 0, 4)],
            CAL,
            at(MON, 21),
            opened(at(TUE, 4)),
        ),
        (
            "a gap does not merge",
            [hours(MON, 8, 12), hours(MON, 12, 16), hours(MON, 17, 19)],
            CAL,
            at(MON, 15),
            opened(at(MON, 16)),
        ),
    ],
)
def test_it_tells_whether_an_area_is_open(case, windows, calendar, moment, expected):
    assert area_opening(windows, calendar, moment) == expected, case


def test_an_exception_opens_a_holiday_with_special_hours():
    calendar = BusinessCalendar(
        tz=TZ,
        holidays=frozenset({MONDAY}),
        exceptions={MONDAY: DayException(MONDAY, closed=False, hours=((time(10), time(13)),))},
    )
    windows = weekdays(8, 16, "volvemos a las 8")
    assert area_opening(windows, calendar, at(MON, 11)) == opened(at(MON, 13))
    # The special hours belong to no window: the after-hours template speaks for them.
    assert area_opening(windows, calendar, at(MON, 9)) == closed(at(MON, 10))
    assert area_opening(windows, calendar, at(MON, 14)) == closed(at(TUE, 8), "volvemos a las 8")


def test_a_closed_exception_closes_an_ordinary_day():
    calendar = BusinessCalendar(tz=TZ, exceptions={MONDAY: DayException(MONDAY, closed=True)})
    assert area_opening(OFFICE, calendar, at(MON, 9)) == closed(at(TUE, 8))


def test_an_area_without_hours_is_open_around_the_clock():
    for moment in (at(MON, 0), at(WED, 3, 30), at(SAT, 23, 59), at(SUN, 12)):
        result = area_opening([], CAL, moment)
        assert result.open
        assert result.closes_at is not None and result.closes_at > moment + timedelta(days=6)


def test_holidays_and_closed_days_still_close_an_area_without_hours():
    assert area_opening([], HOLIDAY_MONDAY, at(MON, 12)) == closed(at(TUE, 0))
    # Open on Sunday until the holiday starts.
    assert area_opening([], HOLIDAY_MONDAY, at(-1, 12)) == opened(at(MON, 0))
    tuesday = MONDAY + timedelta(days=1)
    calendar = BusinessCalendar(tz=TZ, exceptions={tuesday: DayException(tuesday, closed=True)})
    assert area_opening([], calendar, at(TUE, 12)) == closed(at(WED, 0))


def test_it_gives_the_courtesy_message_of_the_window_that_opens_next():
    windows = [
        *[hours(day, 8, 12, "Abrimos a las 8") for day in range(5)],
        hours(MON, 14, 18, "Abrimos a las 14"),
        hours(SAT, 9, 13, ""),
    ]
    assert area_opening(windows, CAL, at(MON, 7)).courtesy_message == "Abrimos a las 8"
    assert area_opening(windows, CAL, at(MON, 13)).courtesy_message == "Abrimos a las 14"
    assert area_opening(windows, CAL, at(MON, 19)).courtesy_message == "Abrimos a las 8"
    assert area_opening(windows, CAL, at(FRI, 13)) == closed(at(SAT, 9), "")
    assert area_opening(windows, CAL, at(MON, 10)).courtesy_message == ""  # open: none


def test_it_never_opens_when_every_day_ahead_is_closed():
    every_day = frozenset(MONDAY + timedelta(days=offset) for offset in range(-2, 400))
    calendar = BusinessCalendar(tz=TZ, holidays=every_day)
    assert area_opening(OFFICE, calendar, at(MON, 9)) == closed(None)
    assert area_opening([], calendar, at(MON, 9)) == closed(None)


def test_it_answers_in_the_business_time_zone_for_a_utc_moment():
    moment = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 09:00 in Buenos Aires
    result = area_opening(OFFICE, CAL, moment)
    assert result == opened(at(MON, 16))
    assert result.closes_at is not None and result.closes_at.tzinfo == TZ


# Property: open and closed are told consistently ------------------------------------------


def _half_hour(index: int) -> time:
    return time(index % 48 // 2, 30 * (index % 2))


# Windows on a half-hour grid, 30 minutes to 24 hours long, overlapping or not.
window_strategy = st.builds(
    lambda day, start, length: HoursWindow(
        Window(day, _half_hour(start), _half_hour(start + length)), f"{day}-{start}"
    ),
    st.integers(0, 6),
    st.integers(0, 47),
    st.integers(1, 48),
)


moments = st.builds(
    lambda minutes: at(0, 0) + timedelta(minutes=minutes), st.integers(0, 14 * 24 * 60)
)
holiday_sets = st.frozensets(
    st.builds(lambda offset: MONDAY + timedelta(days=offset), st.integers(-1, 15)), max_size=5
)


@given(st.lists(window_strategy, max_size=6), holiday_sets, moments)
def test_open_is_told_by_closes_at_and_a_closed_area_opens_later(windows, holidays, moment):
    calendar = BusinessCalendar(tz=TZ, holidays=holidays)
    result = area_opening(windows, calendar, moment)
    assert result.open == (result.closes_at is not None)
    if result.open:
        assert result.closes_at is not None and result.closes_at > moment
        assert result.next_opening is None
    elif result.next_opening is not None:
        assert result.next_opening > moment
        assert area_opening(windows, calendar, result.next_opening).open


# In words ---------------------------------------------------------------------------------


@pytest.fixture
def english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("opening", "now", "words"),
    [
        (at(MON, 8), at(MON, 7), "today at 08:00"),
        (at(MON, 14, 30), at(MON, 13), "today at 14:30"),
        (at(TUE, 8), at(MON, 20), "tomorrow at 08:00"),
        (at(TUE, 0), at(MON, 23, 59), "tomorrow at 00:00"),
        (at(THU, 9), at(MON, 20), "on Thursday at 09:00"),
        (at(SUN, 9), at(MON, 20), "on Sunday at 09:00"),
        (at(7, 9), at(MON, 20), "on 30/11 at 09:00"),
        (at(32, 9), at(MON, 20), "on 25/12 at 09:00"),
        # 01:00 UTC on Tuesday is still Monday evening in Buenos Aires.
        (at(TUE, 8), datetime(2026, 11, 24, 1, 0, tzinfo=UTC), "tomorrow at 08:00"),
    ],
)
def test_it_says_when_an_area_opens_again(opening, now, words):
    assert describe_opening(opening, now) == words


@pytest.mark.usefixtures("english")
def test_the_badge_of_a_closed_area_says_when_it_opens():
    assert closed_until_text(closed(at(TUE, 8)), at(MON, 20)) == "Closed, opens tomorrow at 08:00"
    assert closed_until_text(closed(None), at(MON, 20)) == "Closed"
