from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ispdesk.lib.calendar import (
    BusinessCalendar,
    DayException,
    Window,
    WindowConflict,
    find_overlap,
    is_available,
    national_holidays,
    next_opening,
    validate_windows,
    window_end,
)

TZ = ZoneInfo("America/Argentina/Buenos_Aires")
CAL = BusinessCalendar(tz=TZ)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
# 2026-11-23 is a Monday.
MONDAY = date(2026, 11, 23)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY + timedelta(days=day_offset), time(hour, minute), tzinfo=TZ)


def weekdays(start: str, end: str, days=range(5)) -> list[Window]:
    return [Window(d, time.fromisoformat(start), time.fromisoformat(end)) for d in days]


OFFICE = weekdays("08:00", "16:00")


def test_it_is_available_inside_a_window_and_not_outside():
    assert is_available(OFFICE, CAL, at(0, 8))
    assert is_available(OFFICE, CAL, at(0, 15, 59))
    assert not is_available(OFFICE, CAL, at(0, 16))
    assert not is_available(OFFICE, CAL, at(0, 7, 59))
    assert not is_available(OFFICE, CAL, at(SAT, 10))


def test_it_understands_a_window_that_crosses_midnight():
    night = [Window(FRI, time(22), time(6))]
    assert is_available(night, CAL, at(FRI, 23))
    assert is_available(night, CAL, at(SAT, 5, 59))
    assert not is_available(night, CAL, at(SAT, 6))
    assert window_end(night, CAL, at(FRI, 23)) == at(SAT, 6)


def test_a_window_from_sunday_night_reaches_monday_morning():
    night = [Window(SUN, time(20), time(2))]
    assert is_available(night, CAL, at(0, 1))  # Monday 01:00, from the Sunday before
    assert window_end(night, CAL, at(0, 1)) == at(0, 2)


def test_it_merges_contiguous_windows_when_telling_the_end():
    split = [Window(MON, time(8), time(12)), Window(MON, time(12), time(16))]
    assert window_end(split, CAL, at(0, 9)) == at(0, 16)


def test_the_end_of_a_window_is_none_when_closed():
    assert window_end(OFFICE, CAL, at(0, 20)) is None


def test_next_opening_is_now_when_open_and_the_next_start_otherwise():
    assert next_opening(OFFICE, CAL, at(0, 9)) == at(0, 9)
    assert next_opening(OFFICE, CAL, at(0, 17)) == at(1, 8)
    assert next_opening(OFFICE, CAL, at(FRI, 17)) == at(7, 8)
    assert next_opening([], CAL, at(0, 9)) is None


def test_a_holiday_closes_a_schedule_that_observes_holidays():
    holiday = BusinessCalendar(tz=TZ, holidays=frozenset({MONDAY}))
    assert not is_available(OFFICE, holiday, at(0, 9), observe_holidays=True)
    assert is_available(OFFICE, holiday, at(0, 9), observe_holidays=False)
    assert next_opening(OFFICE, holiday, at(0, 9), observe_holidays=True) == at(1, 8)


def test_an_exception_opens_a_holiday_with_special_hours():
    cal = BusinessCalendar(
        tz=TZ,
        holidays=frozenset({MONDAY}),
        exceptions={MONDAY: DayException(MONDAY, closed=False, hours=((time(9), time(13)),))},
    )
    assert is_available(OFFICE, cal, at(0, 10), observe_holidays=True)
    assert not is_available(OFFICE, cal, at(0, 14), observe_holidays=True)
    assert window_end(OFFICE, cal, at(0, 10), observe_holidays=True) == at(0, 13)


def test_an_exception_closes_an_ordinary_day():
    tuesday = MONDAY + timedelta(days=1)
    cal = BusinessCalendar(tz=TZ, exceptions={tuesday: DayException(tuesday, closed=True)})
    assert not is_available(OFFICE, cal, at(1, 10))
    assert next_opening(OFFICE, cal, at(1, 10)) == at(2, 8)


def test_it_answers_in_the_business_time_zone_whatever_the_input_zone():
    utc_noon = at(0, 12).astimezone(ZoneInfo("UTC"))
    assert is_available(OFFICE, CAL, utc_noon)
    assert window_end(OFFICE, CAL, utc_noon) == at(0, 16)


def test_it_knows_argentine_national_holidays():
    days = national_holidays([2026])
    assert date(2026, 5, 25) in days  # Revolución de Mayo
    assert date(2026, 7, 9) in days  # Independencia
    assert date(2026, 11, 23) in days  # Soberanía Nacional, moved to the Monday
    assert date(2026, 11, 24) not in days


@pytest.mark.parametrize(
    "windows",
    [
        [Window(MON, time(8), time(12)), Window(MON, time(11), time(14))],
        [Window(MON, time(22), time(6)), Window(TUE, time(5), time(9))],
        [Window(SUN, time(22), time(6)), Window(MON, time(5), time(9))],
        [Window(MON, time(0), time(0)), Window(MON, time(10), time(11))],
    ],
)
def test_it_rejects_overlapping_windows_naming_them(windows):
    with pytest.raises(WindowConflict) as caught:
        validate_windows(windows)
    assert {caught.value.first, caught.value.second} == set(windows)


def test_touching_windows_do_not_overlap():
    assert find_overlap([Window(MON, time(8), time(12)), Window(MON, time(12), time(16))]) is None
    assert find_overlap([Window(SUN, time(20), time(0)), Window(MON, time(0), time(4))]) is None


quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
windows_strategy = st.lists(
    st.builds(Window, st.integers(0, 6), quarter_hours, quarter_hours), max_size=6
)
moments = st.builds(
    lambda day, minute: at(day, 0) + timedelta(minutes=minute),
    st.integers(0, 13),
    st.integers(0, 1439),
)


@given(windows=windows_strategy, moment=moments)
def test_next_opening_is_never_in_the_past_and_is_open(windows, moment):
    assume(find_overlap(windows) is None)
    opening = next_opening(windows, CAL, moment)
    if opening is None:
        assert not windows
        return
    assert opening >= moment
    assert is_available(windows, CAL, opening)
    assert (opening == moment) == is_available(windows, CAL, moment)
    if opening > moment:
        halfway = moment + (opening - moment) / 2
        assert not is_available(windows, CAL, halfway)


@given(windows=windows_strategy, moment=moments)
def test_the_window_end_is_after_now_and_the_minute_before_it_is_open(windows, moment):
    assume(find_overlap(windows) is None)
    end = window_end(windows, CAL, moment)
    if end is None:
        assert not is_available(windows, CAL, moment)
        return
    assert end > moment
    assert is_available(windows, CAL, end - timedelta(minutes=1))


def test_preloading_works_out_the_holidays_around_today_once():
    from datetime import date

    from ispdesk.lib.calendar import _holidays_of, national_holidays, preload_holidays

    _holidays_of.cache_clear()
    preload_holidays(date(2026, 11, 25))
    assert _holidays_of.cache_info().currsize == 3

    holidays_2027 = national_holidays([2027])

    assert _holidays_of.cache_info().hits == 1
    assert date(2027, 7, 9) in holidays_2027  # Independence Day
