"""Typed bodies and answers of the team API."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from ispdesk.accounts.schemas import Text
from ispdesk.operators.models import SHIFT_TAG_PATTERN

FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_ID = 2**31 - 1  # the largest value every supported database stores in an integer key
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TAG = re.compile(SHIFT_TAG_PATTERN)


def _parse_hh_mm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not (match := _HH_MM.match(value.strip())):
        raise ValueError("use HH:MM, from 00:00 to 23:59")
    return time(int(match.group(1)), int(match.group(2)))


def _strip(value: Any) -> Any:
    # MySQL ignores trailing spaces when comparing, so "Soporte " would collide with "Soporte".
    return value.strip() if isinstance(value, str) else value


def _check_year(value: date) -> date:
    # Far enough for any plan; keeps date arithmetic and holiday lookups away from year 9999.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _check_tag(value: str) -> str:
    if not _TAG.match(value):
        raise ValueError("a tag is 1 to 18 letters, digits, '-' or '_' in brackets, like [TT]")
    return value


# A time of day written "HH:MM": read strictly, answered without seconds.
HourMinute = Annotated[time, BeforeValidator(_parse_hh_mm)]
HourMinuteOut = Annotated[time, PlainSerializer(lambda value: f"{value:%H:%M}", return_type=str)]
Day = Annotated[date, AfterValidator(_check_year)]
Name = Annotated[Text, BeforeValidator(_strip)]
Tag = Annotated[Text, BeforeValidator(_strip), AfterValidator(_check_tag)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Kind = Literal["work", "assignment", "alert"]
PauseMode = Literal["full", "assignment", "notifications"]


# Operators


class UserRef(Schema):
    id: int
    username: str
    name: str


class AreaRef(Schema):
    id: int
    name: str


class OperatorRef(Schema):
    id: int
    name: str


class OperatorOut(Schema):
    id: int
    user: UserRef
    person_id: int | None
    whatsapp: str
    active: bool
    is_paused: bool
    assignment_paused: bool
    notifications_enabled: bool
    chat_capacity: int
    areas: list[AreaRef]
    on_assignment_schedule: bool


class OperatorFieldsIn(Schema):
    person_id: Id | None = None
    whatsapp: Text | None = Field(None, max_length=40)
    active: bool | None = None
    is_paused: bool | None = None
    assignment_paused: bool | None = None
    notifications_enabled: bool | None = None
    chat_capacity: int | None = Field(None, ge=0, le=999)
    areas: list[Id] | None = Field(None, max_length=100)


class OperatorCreateIn(OperatorFieldsIn):
    user_id: Id


class OperatorUpdateIn(OperatorFieldsIn):
    pass


class PauseIn(Schema):
    mode: PauseMode = "full"


# Schedules


class WindowIn(Schema):
    weekday: int = Field(ge=0, le=6)
    start: HourMinute
    end: HourMinute


class ScheduleIn(WindowIn):
    operator: Id
    kind: Kind


class ScheduleFilters(Schema):
    operator: int | None = None
    kind: Kind | None = None


class ScheduleOut(Schema):
    id: int
    operator: int
    kind: str
    weekday: int
    start: HourMinuteOut
    end: HourMinuteOut
    crosses_midnight: bool


class WeekIn(Schema):
    kind: Kind
    windows: list[WindowIn] = Field(max_length=100)


# Areas


MAX_AUTO_CLOSE_MINUTES = 43_200  # 30 days
MAX_COURTESY_CHARS = 1000
# Minutes of silence before an idle chat of the area closes; null = the general setting.
AutoCloseMinutes = Annotated[int, Field(ge=0, le=MAX_AUTO_CLOSE_MINUTES)]
Weekday = Annotated[int, Field(ge=0, le=6)]


class AreaOut(Schema):
    id: int
    name: str
    description: str
    active: bool
    auto_close_minutes: int | None
    members: list[OperatorRef]
    # Whether the area's working hours (and the business calendar) cover this moment.
    open_now: bool


class AreaCreateIn(Schema):
    name: Name = Field(min_length=1, max_length=80)
    description: Name = Field("", max_length=300)
    active: bool = True
    auto_close_minutes: AutoCloseMinutes | None = None
    members: list[Id] = Field([], max_length=500)


class AreaUpdateIn(Schema):
    """Only the fields sent change; `auto_close_minutes: null` returns to the general setting."""

    name: Name | None = Field(None, min_length=1, max_length=80)
    description: Name | None = Field(None, max_length=300)
    active: bool | None = None
    auto_close_minutes: AutoCloseMinutes | None = None
    members: list[Id] | None = Field(None, max_length=500)


# Areas' working hours


class WorkingHoursFilters(Schema):
    area: int | None = None


class WorkingHoursOut(Schema):
    id: int
    area_id: int
    weekday: int
    start: HourMinuteOut
    end: HourMinuteOut
    crosses_midnight: bool
    courtesy_message: str


class WorkingHoursIn(Schema):
    """One window on `weekday`, or the same window on each of `weekdays` (all or nothing)."""

    area_id: Id
    weekday: Weekday | None = None
    weekdays: list[Weekday] | None = Field(None, min_length=1, max_length=7)
    start: HourMinute
    end: HourMinute
    courtesy_message: Text = Field("", max_length=MAX_COURTESY_CHARS)


class WorkingHoursUpdateIn(Schema):
    weekday: Weekday | None = None
    start: HourMinute | None = None
    end: HourMinute | None = None
    courtesy_message: Text | None = Field(None, max_length=MAX_COURTESY_CHARS)


# Business calendar


class CalendarExceptionOut(Schema):
    id: int
    day: date
    closed: bool
    start: HourMinuteOut | None
    end: HourMinuteOut | None
    note: str


class CalendarExceptionIn(Schema):
    day: Day
    closed: bool = True
    start: HourMinute | None = None
    end: HourMinute | None = None
    note: Name = Field("", max_length=200)


class DateRange(Schema):
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD`, both optional."""

    first: Day | None = Field(None, alias="from")
    last: Day | None = Field(None, alias="to")


class HolidayYear(Schema):
    year: int | None = Field(None, ge=FIRST_YEAR, le=LAST_YEAR)


class HolidayOut(Schema):
    day: date
    weekday: int
    name: str


# On-duty


class OnDutyDayOut(Schema):
    day: date
    weekday: int
    weekend: bool
    holiday: str | None
    operators: list[OperatorRef]


class OnDutyIn(Schema):
    operators: list[Id] = Field(max_length=100)
    force: bool = False


# Shift tags


class ShiftTagOut(Schema):
    id: int
    tag: str
    name: str
    active: bool
    operators: list[OperatorRef]


class ShiftTagCreateIn(Schema):
    tag: Tag = Field(max_length=20)
    name: Name = Field(min_length=1, max_length=80)
    operators: list[Id] = Field([], max_length=100)
    active: bool = True


class ShiftTagUpdateIn(Schema):
    tag: Tag | None = Field(None, max_length=20)
    name: Name | None = Field(None, min_length=1, max_length=80)
    operators: list[Id] | None = Field(None, max_length=100)
    active: bool | None = None
