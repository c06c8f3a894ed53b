"""Areas' working hours over the API, mounted at /api/working-hours.

Everyone logged in reads them (the console shows when an area opens); admins change them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.api_errors import ApiError
from ispdesk.operators.actions import TeamChangeError
from ispdesk.operators.hours_actions import (
    access_area_hours,
    area_by_id,
    do_add_area_hours,
    do_delete_area_hours,
    do_update_area_hours,
)
from ispdesk.operators.models import AreaHours
from ispdesk.operators.schemas import (
    WorkingHoursFilters,
    WorkingHoursIn,
    WorkingHoursOut,
    WorkingHoursUpdateIn,
)

router = Router(tags=["working hours"])


@contextmanager
def hours_errors() -> Iterator[None]:
    """An overlap clashes with what is stored (409); every other refusal is a bad value."""
    try:
        yield
    except TeamChangeError as exc:
        status = 409 if exc.code == "hours_overlap" else 422
        raise ApiError(status, exc.code, exc.message, exc.fields) from None


def hours_out(row: AreaHours) -> dict:
    return {
        "id": row.pk,
        "area_id": row.area_id,
        "weekday": row.weekday,
        "start": row.start,
        "end": row.end,
        "crosses_midnight": row.as_window().crosses_midnight,
        "courtesy_message": row.courtesy_message,
    }


@router.get("", response=list[WorkingHoursOut])
def list_working_hours(request: ApiRequest, filters: Query[WorkingHoursFilters]) -> list[dict]:
    rows = AreaHours.objects.order_by("area_id", "weekday", "start")
    if filters.area is not None:
        rows = rows.filter(area_id=filters.area)
    return [hours_out(row) for row in rows]


@router.post("", response={201: WorkingHoursOut | list[WorkingHoursOut]})
def add_working_hours(request: ApiRequest, payload: WorkingHoursIn) -> Status[dict | list[dict]]:
    """Answers the window for `weekday`, or the list of windows for `weekdays`."""
    api_require_admin(request.auth)
    if (payload.weekday is None) == (payload.weekdays is None):
        message = _("Send either weekday or weekdays.")
        raise ApiError(422, "validation_error", message, {"weekday": message})
    weekdays = [payload.weekday] if payload.weekday is not None else payload.weekdays or []
    with hours_errors():
        area = area_by_id(payload.area_id)
        rows = do_add_area_hours(
            request.auth,
            area,
            weekdays=weekdays,
            start=payload.start,
            end=payload.end,
            courtesy_message=payload.courtesy_message,
        )
    if payload.weekday is not None:
        return Status(201, hours_out(rows[0]))
    return Status(201, [hours_out(row) for row in rows])


@router.patch("/{hours_id}", response=WorkingHoursOut)
def update_working_hours(request: ApiRequest, hours_id: int, payload: WorkingHoursUpdateIn) -> dict:
    api_require_admin(request.auth)
    row = access_area_hours(request.auth, hours_id)
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    with hours_errors():
        row = do_update_area_hours(request.auth, row, changes)
    return hours_out(row)


@router.delete("/{hours_id}", response={204: None})
def delete_working_hours(request: ApiRequest, hours_id: int) -> Status[None]:
    api_require_admin(request.auth)
    do_delete_area_hours(request.auth, access_area_hours(request.auth, hours_id))
    return Status(204, None)
