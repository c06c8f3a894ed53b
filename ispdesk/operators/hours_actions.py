"""State changes of areas' working hours and membership.

Every change locks the area row, so two admins adding windows at once cannot both pass the
overlap check, writes an audit event and tells the team pages and the area's consoles
(`area:update`) once the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any

from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from ispdesk.lib.calendar import Window, WindowConflict, validate_windows
from ispdesk.operators.actions import TEAM_GROUPS, TeamChangeError, do_save_area
from ispdesk.operators.models import Area, AreaHours, Operator
from ispdesk.operators.schemas import MAX_AUTO_CLOSE_MINUTES, MAX_COURTESY_CHARS
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit


def access_area_hours(actor: Any, hours_id: int) -> AreaHours:
    """A working-hours window to change: admins only, 404 otherwise."""
    if not getattr(actor, "is_admin", False):
        raise Http404
    row = AreaHours.objects.select_related("area").filter(pk=hours_id).first()
    if row is None:
        raise Http404
    return row


def area_by_id(area_id: int, field: str = "area_id") -> Area:
    """The area named in a request body; an unknown id is a bad value in that field."""
    area = Area.objects.filter(pk=area_id).first()
    if area is None:
        raise TeamChangeError(
            "unknown_area",
            _("There is no area with id %(id)s.") % {"id": area_id},
            {field: _("unknown area")},
        )
    return area


def hours_data(row: AreaHours) -> dict[str, Any]:
    return {
        "area": row.area_id,
        "weekday": row.weekday,
        "start": f"{row.start:%H:%M}",
        "end": f"{row.end:%H:%M}",
        "courtesy_message": row.courtesy_message,
    }


def _announce_area(area_id: int) -> None:
    send_event_on_commit(
        [*TEAM_GROUPS, f"area.{area_id}"], {"type": "area:update", "area": area_id}
    )


def _check_windows(existing: Sequence[Window], new: Sequence[Window]) -> None:
    """Refuse windows that overlap each other or the area's others, naming both."""
    try:
        validate_windows([*existing, *new])
    except WindowConflict as exc:
        raise TeamChangeError(
            "hours_overlap",
            _("These hours overlap others of the area: %(detail)s") % {"detail": str(exc)},
            {"start": str(exc)},
        ) from None


def _check_message(message: str) -> str:
    message = message.strip()
    if len(message) > MAX_COURTESY_CHARS:
        text = _("At most %(count)s characters.") % {"count": MAX_COURTESY_CHARS}
        raise TeamChangeError("validation_error", text, {"courtesy_message": text})
    return message


def _new_windows(weekdays: Sequence[int], start: time, end: time) -> list[Window]:
    if not weekdays:
        text = _("Choose at least one weekday.")
        raise TeamChangeError("validation_error", text, {"weekdays": text})
    try:
        return [Window(day, start, end) for day in sorted(set(weekdays))]
    except ValueError as exc:
        raise TeamChangeError("validation_error", str(exc), {"weekday": str(exc)}) from None


def do_add_area_hours(
    actor: Any,
    area: Area,
    *,
    weekdays: Sequence[int],
    start: time,
    end: time,
    courtesy_message: str = "",
) -> list[AreaHours]:
    """The same window on each of `weekdays`; all or nothing."""
    windows = _new_windows(weekdays, start, end)
    message = _check_message(courtesy_message)
    with transaction.atomic():
        Area.objects.select_for_update().get(pk=area.pk)
        existing = [row.as_window() for row in AreaHours.objects.filter(area=area)]
        _check_windows(existing, windows)
        rows = []
        for window in windows:
            row = AreaHours.objects.create(
                area=area,
                weekday=window.weekday,
                start=start,
                end=end,
                courtesy_message=message,
            )
            record_audit(actor, "area_hours.added", row, after=hours_data(row))
            rows.append(row)
        _announce_area(area.pk)
    return rows


HOURS_FIELDS = ("weekday", "start", "end", "courtesy_message")


def do_update_area_hours(actor: Any, row: AreaHours, changes: dict[str, Any]) -> AreaHours:
    """Change a window's day, times or message; the result must not overlap the others."""
    unknown = set(changes) - set(HOURS_FIELDS)
    if unknown:
        raise ValueError(f"not a working-hours field: {sorted(unknown)}")
    with transaction.atomic():
        Area.objects.select_for_update().get(pk=row.area_id)
        row = AreaHours.objects.select_related("area").get(pk=row.pk)
        before = hours_data(row)
        for name, value in changes.items():
            setattr(row, name, value)
        row.courtesy_message = _check_message(row.courtesy_message)
        (window,) = _new_windows([row.weekday], row.start, row.end)
        others = AreaHours.objects.filter(area_id=row.area_id).exclude(pk=row.pk)
        _check_windows([other.as_window() for other in others], [window])
        after = hours_data(row)
        if after == before:
            return row  # nothing changed: nothing to store, audit or announce
        row.save()
        record_audit(actor, "area_hours.updated", row, before=before, after=after)
        _announce_area(row.area_id)
    return row


def do_delete_area_hours(actor: Any, row: AreaHours) -> None:
    with transaction.atomic():
        Area.objects.select_for_update().get(pk=row.area_id)
        record_audit(actor, "area_hours.deleted", row, before=hours_data(row))
        row.delete()
        _announce_area(row.area_id)


# Membership and the auto-close override


def _routing_snapshot(area: Area) -> dict[str, Any]:
    members = sorted(area.operators.values_list("pk", flat=True)) if area.pk else []
    return {"members": members, "auto_close_minutes": area.auto_close_minutes}


def _check_auto_close(minutes: int | None) -> None:
    if minutes is not None and not 0 <= minutes <= MAX_AUTO_CLOSE_MINUTES:
        text = _("Between 0 and %(max)s minutes, or empty for the general setting.") % {
            "max": MAX_AUTO_CLOSE_MINUTES
        }
        raise TeamChangeError("validation_error", text, {"auto_close_minutes": text})


def do_save_area_and_members(actor: Any, area: Area, changes: dict[str, Any]) -> Area:
    """`do_save_area` plus the members (a list of Operators under "members") and the
    auto-close override. Who answers an area's chats and when they close change routing,
    so they get their own audit event (`area.routing_updated`) when they change."""
    changes = dict(changes)
    members: Sequence[Operator] | None = changes.pop("members", None)
    if "auto_close_minutes" in changes:
        _check_auto_close(changes["auto_close_minutes"])
    with transaction.atomic():
        before = _routing_snapshot(area)
        area = do_save_area(actor, area, changes)
        if members is not None:
            area.operators.set(members)
        after = _routing_snapshot(area)
        if after != before:
            record_audit(actor, "area.routing_updated", area, before=before, after=after)
            changed = set(before["members"]) ^ set(after["members"])
            for pk in sorted(changed):
                # The operators page lists each operator's areas.
                send_event_on_commit(TEAM_GROUPS, {"type": "operator:update", "operator": pk})
    return area
