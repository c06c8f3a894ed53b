"""State changes on the team: operators, pauses, schedules, calendar, on-duty, tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ispdesk.lib.calendar import Window, WindowConflict, validate_windows
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.operators.models import Operator, Schedule, ScheduleKind
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

PauseMode = Literal["full", "assignment", "notifications"]
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
    clash = Operator.objects.filter(person_id=person_id).exclude(pk=operator_pk)
    if clash.exists():
        raise TeamChangeError(
            "person_id_taken",
            _("Splynx administrator %(id)s is already linked to another operator.")
            % {"id": person_id},
            {"person_id": _("already linked")},
        )


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
        locked.save()
        record_audit(
            actor,
            "operator.paused" if change.paused else "operator.resumed",
            locked,
            before=before,
            after=operator_snapshot(locked),
        )
        _announce(locked)
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
