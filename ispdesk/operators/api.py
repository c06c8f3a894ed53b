"""Team API: operators, their pauses and schedules, areas, the business calendar, on-duty
cover and shift tags. Admins configure; supervisors read operators and pause or resume them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin, api_require_supervisor
from ispdesk.api_errors import ApiError
from ispdesk.lib.calendar import Window, is_available
from ispdesk.operators.access import (
    access_area,
    access_calendar_exception,
    access_operator,
    access_operator_to_pause,
    access_schedule,
    access_shift_tag,
    areas_by_ids,
    operators_by_ids,
    user_by_id,
)
from ispdesk.operators.actions import (
    PauseChange,
    TeamChangeError,
    do_add_calendar_exception,
    do_add_schedule,
    do_delete_calendar_exception,
    do_delete_schedule,
    do_replace_schedules,
    do_save_operator,
    do_save_shift_tag,
    do_set_on_duty,
    do_set_pause,
)
from ispdesk.operators.calendars import business_calendar, holiday_names, windows_by_operator
from ispdesk.operators.hours import area_openings
from ispdesk.operators.hours_actions import do_save_area_and_members
from ispdesk.operators.models import (
    Area,
    CalendarException,
    OnDuty,
    Operator,
    Schedule,
    ScheduleKind,
    ShiftTag,
)
from ispdesk.operators.schemas import (
    AreaCreateIn,
    AreaOut,
    AreaUpdateIn,
    CalendarExceptionIn,
    CalendarExceptionOut,
    DateRange,
    Day,
    HolidayOut,
    HolidayYear,
    OnDutyDayOut,
    OnDutyIn,
    OperatorCreateIn,
    OperatorOut,
    OperatorUpdateIn,
    PauseIn,
    ScheduleFilters,
    ScheduleIn,
    ScheduleOut,
    ShiftTagCreateIn,
    ShiftTagOut,
    ShiftTagUpdateIn,
    WeekIn,
)

router = Router(tags=["operators"])

# Errors that mean "this clashes with what is stored"; every other refusal is a bad value.
CONFLICT_CODES = frozenset(
    {
        "area_name_taken",
        "calendar_exception_conflict",
        "conflict",
        "operator_exists",
        "person_id_taken",
        "schedule_overlap",
        "tag_taken",
    }
)
MAX_ON_DUTY_RANGE_DAYS = 366
DEFAULT_ON_DUTY_RANGE_DAYS = 31


@contextmanager
def team_errors() -> Iterator[None]:
    """Answer an action's refusal with its code: 409 for a clash, 422 for a bad value."""
    try:
        yield
    except TeamChangeError as exc:
        status = 409 if exc.code in CONFLICT_CODES else 422
        raise ApiError(status, exc.code, exc.message, exc.fields) from None


def _today() -> date:
    return timezone.localdate()


# Operators


def _operators() -> QuerySet[Operator]:
    return Operator.objects.select_related("user").prefetch_related(
        Prefetch("areas", queryset=Area.objects.order_by("name"))
    )


def operators_out(operators: Sequence[Operator], now: datetime | None = None) -> list[dict]:
    """Operators with whether their assignment schedule covers `now`, in a fixed number of
    queries whatever their number (areas must be prefetched)."""
    now = now or timezone.now()
    calendar = business_calendar(now)
    windows = windows_by_operator([operator.pk for operator in operators], ScheduleKind.ASSIGNMENT)
    return [
        {
            "id": operator.pk,
            "user": {
                "id": operator.user_id,
                "username": operator.user.username,
                "name": operator.user.display_name,
            },
            "person_id": operator.person_id,
            "whatsapp": operator.whatsapp,
            "active": operator.active,
            "is_paused": operator.is_paused,
            "assignment_paused": operator.assignment_paused,
            "notifications_enabled": operator.notifications_enabled,
            "chat_capacity": operator.chat_capacity,
            "areas": [{"id": area.pk, "name": area.name} for area in operator.areas.all()],
            "on_assignment_schedule": is_available(windows.get(operator.pk, []), calendar, now),
        }
        for operator in operators
    ]


def _operator_out(operator: Operator) -> dict:
    (out,) = operators_out([_operators().get(pk=operator.pk)])
    return out


def _operator_changes(payload: OperatorCreateIn | OperatorUpdateIn) -> dict[str, Any]:
    changes = payload.dict(exclude_unset=True, exclude={"user_id"})
    # null unlinks the Splynx id; for every other field it means "leave as is".
    changes = {
        name: value for name, value in changes.items() if value is not None or name == "person_id"
    }
    if "areas" in changes:
        changes["areas"] = areas_by_ids(changes["areas"])
    return changes


@router.get("/admin/operators", response=list[OperatorOut])
def list_operators(request: ApiRequest) -> list[dict]:
    api_require_supervisor(request.auth)
    return operators_out(list(_operators()))


@router.post("/admin/operators", response={201: OperatorOut})
def create_operator(request: ApiRequest, payload: OperatorCreateIn) -> Status[dict]:
    api_require_admin(request.auth)
    with team_errors():
        user = user_by_id(payload.user_id)
        operator = do_save_operator(request.auth, Operator(user=user), _operator_changes(payload))
    return Status(201, _operator_out(operator))


@router.put("/admin/operators/{operator_id}", response=OperatorOut)
def update_operator(request: ApiRequest, operator_id: int, payload: OperatorUpdateIn) -> dict:
    api_require_admin(request.auth)
    operator = access_operator(request.auth, operator_id)
    with team_errors():
        operator = do_save_operator(request.auth, operator, _operator_changes(payload))
    return _operator_out(operator)


def _set_pause(
    request: ApiRequest, operator_id: int, payload: PauseIn | None, paused: bool
) -> dict:
    api_require_supervisor(request.auth)
    operator = access_operator_to_pause(request.auth, operator_id)
    mode = payload.mode if payload is not None else "full"
    operator = do_set_pause(request.auth, operator, PauseChange(mode, paused))
    return _operator_out(operator)


@router.post("/admin/operators/{operator_id}/pause", response=OperatorOut)
def pause_operator(request: ApiRequest, operator_id: int, payload: PauseIn | None = None) -> dict:
    return _set_pause(request, operator_id, payload, paused=True)


@router.post("/admin/operators/{operator_id}/resume", response=OperatorOut)
def resume_operator(request: ApiRequest, operator_id: int, payload: PauseIn | None = None) -> dict:
    return _set_pause(request, operator_id, payload, paused=False)


# Schedules


def _schedule_out(row: Schedule) -> dict:
    return {
        "id": row.pk,
        "operator": row.operator_id,
        "kind": row.kind,
        "weekday": row.weekday,
        "start": row.start,
        "end": row.end,
        "crosses_midnight": row.as_window().crosses_midnight,
    }


@router.get("/admin/schedules", response=list[ScheduleOut])
def list_schedules(request: ApiRequest, filters: Query[ScheduleFilters]) -> list[dict]:
    api_require_admin(request.auth)
    rows = Schedule.objects.all()
    if filters.operator is not None:
        rows = rows.filter(operator_id=filters.operator)
    if filters.kind is not None:
        rows = rows.filter(kind=filters.kind)
    return [_schedule_out(row) for row in rows]


@router.post("/admin/schedules", response={201: ScheduleOut})
def add_schedule(request: ApiRequest, payload: ScheduleIn) -> Status[dict]:
    api_require_admin(request.auth)
    with team_errors():
        (operator,) = operators_by_ids([payload.operator], field="operator")
        row = do_add_schedule(
            request.auth,
            operator,
            kind=payload.kind,
            weekday=payload.weekday,
            start=payload.start,
            end=payload.end,
        )
    return Status(201, _schedule_out(row))


@router.delete("/admin/schedules/{schedule_id}", response={204: None})
def delete_schedule(request: ApiRequest, schedule_id: int) -> Status[None]:
    api_require_admin(request.auth)
    do_delete_schedule(request.auth, access_schedule(request.auth, schedule_id))
    return Status(204, None)


@router.put("/admin/operators/{operator_id}/schedules", response=list[ScheduleOut])
def replace_schedules(request: ApiRequest, operator_id: int, payload: WeekIn) -> list[dict]:
    """The weekly editor's save: every window of one kind at once, all or nothing."""
    api_require_admin(request.auth)
    operator = access_operator(request.auth, operator_id)
    windows = [Window(w.weekday, w.start, w.end) for w in payload.windows]
    with team_errors():
        rows = do_replace_schedules(request.auth, operator, kind=payload.kind, windows=windows)
    return [_schedule_out(row) for row in rows]


# Areas


def _areas() -> QuerySet[Area]:
    members = Operator.objects.select_related("user")
    return Area.objects.order_by("name").prefetch_related(Prefetch("operators", queryset=members))


def areas_out(areas: Sequence[Area], now: datetime | None = None) -> list[dict]:
    """Areas with their members and whether they are open `now`, in a fixed number of
    queries whatever their number (members must be prefetched)."""
    now = now or timezone.now()
    openings = area_openings([area.pk for area in areas], now)
    rows = []
    for area in areas:
        members = sorted(area.operators.all(), key=lambda operator: (operator.name, operator.pk))
        rows.append(
            {
                "id": area.pk,
                "name": area.name,
                "description": area.description,
                "active": area.active,
                "auto_close_minutes": area.auto_close_minutes,
                "members": [{"id": operator.pk, "name": operator.name} for operator in members],
                "open_now": openings[area.pk].open,
            }
        )
    return rows


def _area_out(area: Area) -> dict:
    (out,) = areas_out([_areas().get(pk=area.pk)])
    return out


def _area_changes(payload: AreaCreateIn | AreaUpdateIn) -> dict[str, Any]:
    changes = payload.dict(exclude_unset=True)
    # null returns the auto-close to the general setting; elsewhere it means "leave as is".
    changes = {
        name: value
        for name, value in changes.items()
        if value is not None or name == "auto_close_minutes"
    }
    if "members" in changes:
        changes["members"] = operators_by_ids(changes["members"], field="members")
    return changes


@router.get("/areas", response=list[AreaOut])
def list_areas(request: ApiRequest, active: bool | None = None) -> list[dict]:
    rows = _areas()
    if active is not None:
        rows = rows.filter(active=active)
    return areas_out(list(rows))


@router.post("/areas", response={201: AreaOut})
def create_area(request: ApiRequest, payload: AreaCreateIn) -> Status[dict]:
    api_require_admin(request.auth)
    with team_errors():
        changes = _area_changes(payload)
        changes.setdefault("description", payload.description)
        changes.setdefault("active", payload.active)
        area = do_save_area_and_members(request.auth, Area(), changes)
    return Status(201, _area_out(area))


@router.put("/areas/{area_id}", response=AreaOut)
def update_area(request: ApiRequest, area_id: int, payload: AreaUpdateIn) -> dict:
    api_require_admin(request.auth)
    area = access_area(request.auth, area_id)
    with team_errors():
        area = do_save_area_and_members(request.auth, area, _area_changes(payload))
    return _area_out(area)


# The business calendar


@router.get("/admin/calendar/exceptions", response=list[CalendarExceptionOut])
def list_calendar_exceptions(
    request: ApiRequest,
    dates: Query[DateRange],
) -> list[CalendarException]:
    api_require_admin(request.auth)
    rows = CalendarException.objects.order_by("day", "start")
    if dates.first is not None:
        rows = rows.filter(day__gte=dates.first)
    if dates.last is not None:
        rows = rows.filter(day__lte=dates.last)
    return list(rows)


@router.post("/admin/calendar/exceptions", response={201: CalendarExceptionOut})
def add_calendar_exception(
    request: ApiRequest, payload: CalendarExceptionIn
) -> Status[CalendarException]:
    api_require_admin(request.auth)
    with team_errors():
        row = do_add_calendar_exception(
            request.auth,
            day=payload.day,
            closed=payload.closed,
            start=payload.start,
            end=payload.end,
            note=payload.note,
        )
    return Status(201, row)


@router.delete("/admin/calendar/exceptions/{exception_id}", response={204: None})
def delete_calendar_exception(request: ApiRequest, exception_id: int) -> Status[None]:
    api_require_admin(request.auth)
    do_delete_calendar_exception(
        request.auth, access_calendar_exception(request.auth, exception_id)
    )
    return Status(204, None)


@router.get("/admin/calendar/holidays", response=list[HolidayOut])
def list_holidays(
    request: ApiRequest,
    query: Query[HolidayYear],
) -> list[dict]:
    api_require_admin(request.auth)
    names = holiday_names([query.year or _today().year])
    return [{"day": day, "weekday": day.weekday(), "name": name} for day, name in names.items()]


# On-duty cover


def _on_duty_days(first: date, last: date) -> list[dict]:
    """Every weekend day and holiday from `first` to `last`, and any other day with cover."""
    holidays = holiday_names(range(first.year, last.year + 1))
    cover: dict[date, list[dict]] = {}
    rows = OnDuty.objects.filter(day__range=(first, last)).select_related("operator__user")
    for row in rows.order_by("day", "operator__user__first_name", "operator__user__username"):
        cover.setdefault(row.day, []).append({"id": row.operator_id, "name": row.operator.name})
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        weekend = day.weekday() >= 5
        if weekend or day in holidays or day in cover:
            days.append(
                {
                    "day": day,
                    "weekday": day.weekday(),
                    "weekend": weekend,
                    "holiday": holidays.get(day),
                    "operators": cover.get(day, []),
                }
            )
    return days


@router.get("/admin/on-duty", response=list[OnDutyDayOut])
def list_on_duty(
    request: ApiRequest,
    dates: Query[DateRange],
) -> list[dict]:
    api_require_admin(request.auth)
    first = dates.first or _today()
    last = dates.last or first + timedelta(days=DEFAULT_ON_DUTY_RANGE_DAYS - 1)
    if last < first:
        raise ApiError(
            422, "validation_error", _("'to' is before 'from'."), {"to": _("before 'from'")}
        )
    if (last - first).days >= MAX_ON_DUTY_RANGE_DAYS:
        message = _("Ask for at most %(days)s days at once.") % {"days": MAX_ON_DUTY_RANGE_DAYS}
        raise ApiError(422, "validation_error", message, {"to": message})
    return _on_duty_days(first, last)


@router.put("/admin/on-duty/{day}", response=OnDutyDayOut)
def set_on_duty(request: ApiRequest, day: Day, payload: OnDutyIn) -> dict:
    api_require_admin(request.auth)
    with team_errors():
        operators = operators_by_ids(payload.operators)
        do_set_on_duty(request.auth, day, operators, force=payload.force)
    (entry,) = _on_duty_days(day, day) or [
        {"day": day, "weekday": day.weekday(), "weekend": False, "holiday": None, "operators": []}
    ]
    return entry


# Shift tags


def _shift_tags() -> QuerySet[ShiftTag]:
    members = Operator.objects.select_related("user")
    return ShiftTag.objects.prefetch_related(Prefetch("operators", queryset=members))


def _shift_tag_out(tag: ShiftTag) -> dict:
    members = sorted(tag.operators.all(), key=lambda operator: (operator.name, operator.pk))
    return {
        "id": tag.pk,
        "tag": tag.tag,
        "name": tag.name,
        "active": tag.active,
        "operators": [{"id": operator.pk, "name": operator.name} for operator in members],
    }


def _shift_tag_changes(payload: ShiftTagCreateIn | ShiftTagUpdateIn) -> dict[str, Any]:
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    if "operators" in changes:
        changes["operators"] = operators_by_ids(changes["operators"])
    return changes


@router.get("/admin/shift-tags", response=list[ShiftTagOut])
def list_shift_tags(request: ApiRequest) -> list[dict]:
    api_require_admin(request.auth)
    return [_shift_tag_out(tag) for tag in _shift_tags()]


@router.post("/admin/shift-tags", response={201: ShiftTagOut})
def create_shift_tag(request: ApiRequest, payload: ShiftTagCreateIn) -> Status[dict]:
    api_require_admin(request.auth)
    with team_errors():
        tag = do_save_shift_tag(request.auth, ShiftTag(), _shift_tag_changes(payload))
    return Status(201, _shift_tag_out(_shift_tags().get(pk=tag.pk)))


@router.put("/admin/shift-tags/{tag_id}", response=ShiftTagOut)
def update_shift_tag(request: ApiRequest, tag_id: int, payload: ShiftTagUpdateIn) -> dict:
    api_require_admin(request.auth)
    tag = access_shift_tag(request.auth, tag_id)
    with team_errors():
        tag = do_save_shift_tag(request.auth, tag, _shift_tag_changes(payload))
    return _shift_tag_out(_shift_tags().get(pk=tag.pk))
