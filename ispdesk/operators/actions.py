"""State changes on the team: operators, pauses, schedules, calendar, on-duty, tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ispdesk.jobs.actions import do_request_run
from ispdesk.jobs.models import JobSchedule
from ispdesk.jobs.registry import get_job
from ispdesk.jobs.runner import ensure_schedules
from ispdesk.lib.calendar import Window, WindowConflict, national_holidays, validate_windows
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.operators.models import (
    Area,
    CalendarException,
    OnDuty,
    Operator,
    Schedule,
    ScheduleKind,
    ShiftTag,
)
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

PauseMode = Literal["full", "assignment", "notifications"]
# The tickets app registers this job; named here so the operators app never imports tickets.
ASSIGN_UNASSIGNED_JOB = "tickets.assign_unassigned"
# Likewise the service desk's queue drain: a resumed operator can take waiting chats.
ROUTE_CHATS_JOB = "conversations.route_waiting"
TEAM_GROUPS = ("role.admin", "role.supervisor")
OPERATOR_FIELDS = (
    "person_id",
    "whatsapp",
    "active",
    "is_paused",
    "assignment_paused",
    "notifications_enabled",
    "chat_capacity",
)


class TeamChangeError(ValueError):
    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


def operator_snapshot(operator: Operator) -> dict[str, Any]:
    data = {name: getattr(operator, name) for name in OPERATOR_FIELDS}
    data["areas"] = sorted(operator.areas.values_list("pk", flat=True)) if operator.pk else []
    return data


def clean_whatsapp(raw: str) -> str:
    if not raw or not raw.strip():
        return ""
    try:
        return normalize_phone(raw, mobile=True)
    except PhoneError as exc:
        message = _("Invalid WhatsApp number: %(reason)s") % {"reason": exc.reason}
        raise TeamChangeError("invalid_phone", message, {"whatsapp": exc.reason}) from None


def _check_person_id(person_id: int | None, operator_pk: int | None) -> None:
    if person_id is None:
        return
    clash = Operator.objects.filter(person_id=person_id)
    if operator_pk is not None:
        clash = clash.exclude(pk=operator_pk)
    if clash.exists():
        raise TeamChangeError(
            "person_id_taken",
            _("Splynx administrator %(id)s is already linked to another operator.")
            % {"id": person_id},
            {"person_id": _("already linked")},
        )


def _check_user_free(user_id: int) -> None:
    if Operator.objects.filter(user_id=user_id).exists():
        raise TeamChangeError(
            "operator_exists",
            _("This user already is an operator."),
            {"user_id": _("already an operator")},
        )


def _assignable(snapshot: dict[str, Any] | None) -> bool:
    return bool(
        snapshot
        and snapshot["active"]
        and not snapshot["is_paused"]
        and not snapshot["assignment_paused"]
    )


def _wake_assignment(actor: Any, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Someone just became assignable: make the jobs that hand out waiting tickets and chats
    due now, so the work reaches them at once instead of after the jobs' interval."""
    if _assignable(before) or not _assignable(after):
        return
    ensure_schedules()
    for name in (ASSIGN_UNASSIGNED_JOB, ROUTE_CHATS_JOB):
        schedule = JobSchedule.objects.filter(name=name, enabled=True).first()
        if get_job(name) is not None and schedule is not None:
            do_request_run(actor, schedule)


def _announce(operator: Operator) -> None:
    send_event_on_commit(
        ["role.admin", "role.supervisor", f"user.{operator.user_id}"],
        {"type": "operator:update", "operator": operator.pk},
    )


def do_save_operator(actor: Any, operator: Operator, changes: dict[str, Any]) -> Operator:
    """Create (operator.pk is None) or update an operator; areas given as a list of Areas."""
    areas = changes.pop("areas", None)
    if "whatsapp" in changes:
        changes["whatsapp"] = clean_whatsapp(changes["whatsapp"] or "")
    _check_person_id(changes.get("person_id", operator.person_id), operator.pk)
    creating = operator.pk is None
    if creating:
        _check_user_free(operator.user_id)
    with transaction.atomic():
        if not creating:
            operator = Operator.objects.select_for_update().get(pk=operator.pk)
        before = None if creating else operator_snapshot(operator)
        for name, value in changes.items():
            setattr(operator, name, value)
        try:
            with transaction.atomic():
                operator.save()
        except IntegrityError:
            raise TeamChangeError(
                "conflict", _("This user already is an operator, or the Splynx id is taken.")
            ) from None
        if areas is not None:
            operator.areas.set(areas)
        after = operator_snapshot(operator)
        record_audit(
            actor,
            "operator.created" if creating else "operator.updated",
            operator,
            before=before,
            after=after,
        )
        _announce(operator)
        _wake_assignment(actor, before, after)
    return operator


@dataclass(frozen=True)
class PauseChange:
    mode: PauseMode
    paused: bool


def do_set_pause(actor: Any, operator: Operator, change: PauseChange) -> Operator:
    """Pause or resume: everything, only new assignments, or only notifications."""
    with transaction.atomic():
        locked = Operator.objects.select_for_update().get(pk=operator.pk)
        before = operator_snapshot(locked)
        if change.mode == "full":
            locked.is_paused = change.paused
        elif change.mode == "assignment":
            locked.assignment_paused = change.paused
        else:
            locked.notifications_enabled = not change.paused
        after = operator_snapshot(locked)
        if after == before:
            return locked  # already in that state: nothing to store, audit or announce
        locked.save()
        record_audit(
            actor,
            "operator.paused" if change.paused else "operator.resumed",
            locked,
            before=before,
            after=after,
        )
        _announce(locked)
        _wake_assignment(actor, before, after)
    return locked


def do_add_schedule(
    actor: Any, operator: Operator, *, kind: str, weekday: int, start: time, end: time
) -> Schedule:
    """Add a window; refuse one that overlaps another of the same kind, naming both."""
    if kind not in ScheduleKind.values:
        raise TeamChangeError("validation_error", _("Unknown schedule kind."), {"kind": kind})
    with transaction.atomic():
        # Lock the operator row so two concurrent additions cannot both pass the check.
        Operator.objects.select_for_update().get(pk=operator.pk)
        existing = [s.as_window() for s in Schedule.objects.filter(operator=operator, kind=kind)]
        try:
            new_window = Window(weekday, start, end)
            validate_windows([*existing, new_window])
        except WindowConflict as exc:
            raise TeamChangeError(
                "schedule_overlap",
                _("This window overlaps an existing one: %(detail)s") % {"detail": str(exc)},
                {"start": str(exc)},
            ) from None
        except ValueError as exc:
            raise TeamChangeError("validation_error", str(exc), {"weekday": str(exc)}) from None
        schedule = Schedule.objects.create(
            operator=operator, kind=kind, weekday=weekday, start=start, end=end
        )
        record_audit(
            actor,
            "schedule.added",
            schedule,
            after={"kind": kind, "weekday": weekday, "start": str(start), "end": str(end)},
        )
        _announce(operator)
    return schedule


def do_delete_schedule(actor: Any, schedule: Schedule) -> None:
    with transaction.atomic():
        record_audit(
            actor,
            "schedule.deleted",
            schedule,
            before={
                "kind": schedule.kind,
                "weekday": schedule.weekday,
                "start": str(schedule.start),
                "end": str(schedule.end),
            },
        )
        operator = schedule.operator
        schedule.delete()
        _announce(operator)


def _window_data(window: Window) -> dict[str, Any]:
    return {"weekday": window.weekday, "start": str(window.start), "end": str(window.end)}


def do_replace_schedules(
    actor: Any, operator: Operator, *, kind: str, windows: Sequence[Window]
) -> list[Schedule]:
    """Replace every window of one kind at once; overlapping windows change nothing."""
    if kind not in ScheduleKind.values:
        raise TeamChangeError("validation_error", _("Unknown schedule kind."), {"kind": kind})
    try:
        validate_windows(windows)
    except WindowConflict as exc:
        raise TeamChangeError(
            "schedule_overlap",
            _("Two windows overlap: %(detail)s") % {"detail": str(exc)},
            {"windows": str(exc)},
        ) from None
    with transaction.atomic():
        Operator.objects.select_for_update().get(pk=operator.pk)
        current = Schedule.objects.filter(operator=operator, kind=kind)
        before = [_window_data(row.as_window()) for row in current]
        current.delete()
        Schedule.objects.bulk_create(
            Schedule(operator=operator, kind=kind, weekday=w.weekday, start=w.start, end=w.end)
            for w in sorted(windows)
        )
        record_audit(
            actor,
            "schedule.replaced",
            operator,
            before={"kind": kind, "windows": before},
            after={"kind": kind, "windows": [_window_data(w) for w in sorted(windows)]},
        )
        _announce(operator)
    # Read back: MySQL does not return the primary keys of bulk-created rows.
    return list(Schedule.objects.filter(operator=operator, kind=kind))


# Areas


def area_snapshot(area: Area) -> dict[str, Any]:
    return {"name": area.name, "description": area.description, "active": area.active}


def _area_name_taken(name: str) -> TeamChangeError:
    return TeamChangeError(
        "area_name_taken",
        _("There already is an area named %(name)s.") % {"name": name},
        {"name": _("already taken")},
    )


def do_save_area(actor: Any, area: Area, changes: dict[str, Any]) -> Area:
    """Create (area.pk is None) or update an area; names are unique whatever their case."""
    name = changes.get("name")
    # Case-insensitive on every database (MySQL's collation already is; PostgreSQL's is not).
    if name is not None and Area.objects.filter(name__iexact=name).exclude(pk=area.pk).exists():
        raise _area_name_taken(name)
    creating = area.pk is None
    with transaction.atomic():
        if not creating:
            area = Area.objects.select_for_update().get(pk=area.pk)
        before = None if creating else area_snapshot(area)
        for field, value in changes.items():
            setattr(area, field, value)
        try:
            with transaction.atomic():
                area.save()
        except IntegrityError:
            raise _area_name_taken(area.name) from None
        record_audit(
            actor,
            "area.created" if creating else "area.updated",
            area,
            before=before,
            after=area_snapshot(area),
        )
        send_event_on_commit(
            [*TEAM_GROUPS, f"area.{area.pk}"], {"type": "area:update", "area": area.pk}
        )
    return area


# The business calendar


def _exception_data(exception: CalendarException) -> dict[str, Any]:
    return {
        "day": exception.day.isoformat(),
        "closed": exception.closed,
        "start": str(exception.start) if exception.start is not None else None,
        "end": str(exception.end) if exception.end is not None else None,
        "note": exception.note,
    }


def _check_exception_hours(closed: bool, start: time | None, end: time | None) -> None:
    if closed and (start is not None or end is not None):
        field = "start" if start is not None else "end"
        raise TeamChangeError(
            "validation_error",
            _("A closed day has no opening hours."),
            {field: _("must be empty on a closed day")},
        )
    if not closed and (start is None or end is None):
        missing = {
            name: _("required for special opening hours")
            for name, value in (("start", start), ("end", end))
            if value is None
        }
        raise TeamChangeError(
            "validation_error", _("Special opening hours need a start and an end."), missing
        )


def _check_exception_fits(day: date, closed: bool, start: time | None, end: time | None) -> None:
    """A day is either closed once, or open in special hours that do not overlap."""
    existing = list(CalendarException.objects.filter(day=day))
    if any(row.closed for row in existing):
        raise TeamChangeError(
            "calendar_exception_conflict",
            _("%(day)s is already closed.") % {"day": day.isoformat()},
            {"day": _("already closed")},
        )
    if closed and existing:
        raise TeamChangeError(
            "calendar_exception_conflict",
            _("%(day)s already has special opening hours; delete them first.")
            % {"day": day.isoformat()},
            {"day": _("has special opening hours")},
        )
    if not closed and start is not None and end is not None:
        spans = [
            Window(day.weekday(), row.start, row.end)
            for row in existing
            if row.start is not None and row.end is not None
        ]
        try:
            validate_windows([*spans, Window(day.weekday(), start, end)])
        except WindowConflict as exc:
            raise TeamChangeError(
                "calendar_exception_conflict",
                _("These hours overlap others of the same day: %(detail)s") % {"detail": str(exc)},
                {"start": str(exc)},
            ) from None


def do_add_calendar_exception(
    actor: Any,
    *,
    day: date,
    closed: bool,
    start: time | None = None,
    end: time | None = None,
    note: str = "",
) -> CalendarException:
    _check_exception_hours(closed, start, end)
    with transaction.atomic():
        _check_exception_fits(day, closed, start, end)
        exception = CalendarException.objects.create(
            day=day,
            closed=closed,
            start=None if closed else start,
            end=None if closed else end,
            note=note,
        )
        record_audit(actor, "calendar_exception.added", exception, after=_exception_data(exception))
        send_event_on_commit(TEAM_GROUPS, {"type": "calendar:update"})
    return exception


def do_delete_calendar_exception(actor: Any, exception: CalendarException) -> None:
    with transaction.atomic():
        record_audit(
            actor, "calendar_exception.deleted", exception, before=_exception_data(exception)
        )
        exception.delete()
        send_event_on_commit(TEAM_GROUPS, {"type": "calendar:update"})


# On-duty cover of weekends and holidays


def is_day_off(day: date) -> bool:
    """A weekend day or a national holiday: the days on-duty cover is for."""
    return day.weekday() >= 5 or day in national_holidays([day.year])


def do_set_on_duty(
    actor: Any, day: date, operators: Sequence[Operator], *, force: bool = False
) -> list[Operator]:
    """Replace who covers `day`; a working day needs `force` (an unusual, deliberate cover)."""
    if operators and not force and not is_day_off(day):
        raise TeamChangeError(
            "not_a_day_off",
            _("%(day)s is neither a weekend day nor a holiday; send force to set cover anyway.")
            % {"day": day.isoformat()},
            {"day": _("not a weekend day or holiday")},
        )
    wanted = sorted({operator.pk for operator in operators})
    with transaction.atomic():
        # Lock the team in the order ticket assignment does: two edits of one day then
        # serialise instead of both inserting, and no assignment reads a half-written day.
        list(Operator.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        current = OnDuty.objects.filter(day=day)
        before = sorted(current.values_list("operator_id", flat=True))
        current.exclude(operator_id__in=wanted).delete()
        OnDuty.objects.bulk_create(
            OnDuty(day=day, operator_id=pk) for pk in wanted if pk not in before
        )
        record_audit(
            actor,
            "on_duty.updated",
            object_type=OnDuty._meta.label_lower,
            object_id=day.isoformat(),
            object_repr=_("On duty on %(day)s") % {"day": day.isoformat()},
            before={"operators": before},
            after={"operators": wanted},
        )
        send_event_on_commit(TEAM_GROUPS, {"type": "on_duty:update", "day": day.isoformat()})
    return sorted(operators, key=lambda operator: operator.pk)


# Shift tags


def shift_tag_snapshot(tag: ShiftTag) -> dict[str, Any]:
    members = sorted(tag.operators.values_list("pk", flat=True)) if tag.pk else []
    return {"tag": tag.tag, "name": tag.name, "active": tag.active, "operators": members}


def _tag_taken(tag: str) -> TeamChangeError:
    return TeamChangeError(
        "tag_taken",
        _("The tag %(tag)s is already in use.") % {"tag": tag},
        {"tag": _("already in use")},
    )


def do_save_shift_tag(actor: Any, shift_tag: ShiftTag, changes: dict[str, Any]) -> ShiftTag:
    """Create (pk None) or update a tag; operators given as a list of Operators."""
    members = changes.pop("operators", None)
    tag = changes.get("tag")
    # Tickets match tags whatever their case, so "[tt]" and "[TT]" would be one tag.
    if (
        tag is not None
        and ShiftTag.objects.filter(tag__iexact=tag).exclude(pk=shift_tag.pk).exists()
    ):
        raise _tag_taken(tag)
    creating = shift_tag.pk is None
    with transaction.atomic():
        if not creating:
            shift_tag = ShiftTag.objects.select_for_update().get(pk=shift_tag.pk)
        before = None if creating else shift_tag_snapshot(shift_tag)
        for field, value in changes.items():
            setattr(shift_tag, field, value)
        try:
            with transaction.atomic():
                shift_tag.save()
        except IntegrityError:
            raise _tag_taken(shift_tag.tag) from None
        if members is not None:
            shift_tag.operators.set(members)
        record_audit(
            actor,
            "shift_tag.created" if creating else "shift_tag.updated",
            shift_tag,
            before=before,
            after=shift_tag_snapshot(shift_tag),
        )
        send_event_on_commit(TEAM_GROUPS, {"type": "shift_tag:update", "shift_tag": shift_tag.pk})
    return shift_tag
