"""System API: business settings, the system pause and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.accounts.schemas import Text
from ispdesk.api_errors import ApiError, parse_json_body
from ispdesk.system.actions import do_pause_system, do_resume_system, do_set_config
from ispdesk.system.config import ConfigValueError, config_keys, get_config
from ispdesk.system.models import AuditEvent, SystemState

router = Router(tags=["system"])
logs_router = Router(tags=["audit"])


class ConfigItemOut(Schema):
    key: str
    type: str
    value: Any
    default: Any
    description: str
    group: str
    minimum: int | None
    maximum: int | None
    choices: list[str]


def config_items() -> list[dict[str, Any]]:
    return [
        {
            "key": item.key,
            "type": item.type,
            "value": get_config(item.key),
            "default": item.default,
            "description": str(item.description),
            "group": str(item.group),
            "minimum": item.minimum,
            "maximum": item.maximum,
            "choices": list(item.choices),
        }
        for item in config_keys()
    ]


@router.get("/admin/config", response=list[ConfigItemOut])
def get_settings(request: ApiRequest) -> list[dict[str, Any]]:
    api_require_admin(request.auth)
    return config_items()


@router.post("/admin/config", response=list[ConfigItemOut])
def post_settings(request: ApiRequest) -> list[dict[str, Any]]:
    """Body: `{"key": value, ...}`. Every key is validated before anything is stored."""
    api_require_admin(request.auth)
    body = parse_json_body(request)
    if not isinstance(body, dict) or not body:
        raise ApiError(
            422, "validation_error", _("Send an object mapping setting keys to new values.")
        )
    errors: dict[str, str] = {}
    known = {item.key: item for item in config_keys()}
    for key, raw in body.items():
        if key not in known:
            errors[key] = _("unknown setting")
            continue
        try:
            known[key].parse(raw)
        except ConfigValueError as exc:
            errors[key] = exc.message
    if errors:
        names = ", ".join(sorted(errors))
        raise ApiError(
            422, "invalid_config", _("Invalid value for: %(keys)s") % {"keys": names}, errors
        )
    do_set_config(request.auth, body)
    return config_items()


class SystemStatusOut(Schema):
    paused: bool
    paused_at: datetime | None
    paused_by: str | None
    reason: str


class PauseIn(Schema):
    reason: Text = Field("", max_length=200)


def _status(state: SystemState) -> dict[str, Any]:
    return {
        "paused": state.paused,
        "paused_at": state.paused_at,
        "paused_by": state.paused_by.username if state.paused_by else None,
        "reason": state.reason,
    }


@router.get("/system/status", response=SystemStatusOut)
def system_status(request: ApiRequest) -> dict[str, Any]:
    return _status(SystemState.load())


@router.post("/admin/system/pause", response=SystemStatusOut)
def pause_system(request: ApiRequest, payload: PauseIn | None = None) -> dict[str, Any]:
    api_require_admin(request.auth)
    return _status(do_pause_system(request.auth, payload.reason if payload else ""))


@router.post("/admin/system/resume", response=SystemStatusOut)
def resume_system(request: ApiRequest) -> dict[str, Any]:
    api_require_admin(request.auth)
    return _status(do_resume_system(request.auth))


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor: str = Field(alias="actor_label")
    action: str
    object_type: str
    object_id: str
    object_repr: str
    before: Any
    after: Any
    ip_address: str | None


class AuditFilters(Schema):
    actor: Text | None = None
    action: Text | None = None
    object_type: Text | None = None
    object_id: Text | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Bounded so the row offset stays within what every database accepts.
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=500)

    @field_validator("since", "until")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is local time; one that UTC cannot hold is refused."""
        if value is None:
            return None
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None
        return value


class AuditPageOut(Schema):
    count: int
    page: int
    pages: int
    items: list[AuditEventOut]


def filter_audit_events(filters: AuditFilters) -> Any:
    events = AuditEvent.objects.all()
    if filters.actor:
        events = events.filter(actor_label__iexact=filters.actor)
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.object_type:
        events = events.filter(object_type=filters.object_type)
    if filters.object_id:
        events = events.filter(object_id=filters.object_id)
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lt=filters.until)
    return events


@logs_router.get("", response=AuditPageOut)
def list_logs(request: ApiRequest, filters: Query[AuditFilters]) -> dict[str, Any]:
    api_require_admin(request.auth)
    events = filter_audit_events(filters)
    count = events.count()
    pages = max(1, -(-count // filters.page_size))
    start = (filters.page - 1) * filters.page_size
    return {
        "count": count,
        "page": filters.page,
        "pages": pages,
        "items": list(events[start : start + filters.page_size]),
    }
