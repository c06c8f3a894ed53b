"""State changes of the system app: settings and the system pause."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.system.config import ConfigValueError, clear_config_cache, config_key, get_config
from ispdesk.system.models import SystemConfig, SystemState


def do_set_config(actor: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate every change first, then store them all; return the parsed values.

    Raises ConfigValueError for the first bad key, leaving everything stored untouched.
    """
    parsed = {key: config_key(key).parse(raw) for key, raw in changes.items()}
    with transaction.atomic():
        for key, value in parsed.items():
            before = get_config(key)
            if before == value:
                continue
            SystemConfig.objects.update_or_create(
                key=key, defaults={"value": value, "updated_by": actor}
            )
            record_audit(
                actor,
                "config.changed",
                object_type="system.config",
                object_id=key,
                object_repr=key,
                before=before,
                after=value,
            )
        transaction.on_commit(clear_config_cache)
        send_event_on_commit(["role.admin"], {"type": "config:update", "keys": sorted(parsed)})
    clear_config_cache()
    return parsed


def do_pause_system(actor: Any, reason: str = "") -> SystemState:
    with transaction.atomic():
        SystemState.load()
        state = SystemState.objects.select_for_update().get(pk=1)
        if not state.paused:
            state.paused = True
            state.paused_at = timezone.now()
            state.paused_by = actor if getattr(actor, "is_authenticated", False) else None
            state.reason = reason[:200]
            state.save()
            record_audit(actor, "system.paused", state, after={"reason": state.reason})
            _announce(state)
    return state


def do_resume_system(actor: Any) -> SystemState:
    with transaction.atomic():
        SystemState.load()
        state = SystemState.objects.select_for_update().get(pk=1)
        if state.paused:
            state.paused = False
            state.paused_at = None
            state.paused_by = None
            state.reason = ""
            state.save()
            record_audit(actor, "system.resumed", state)
            _announce(state)
    return state


def _announce(state: SystemState) -> None:
    send_event_on_commit(
        ["role.admin", "role.supervisor", "role.operator"],
        {"type": "system:status", "paused": state.paused},
    )


def is_system_paused() -> bool:
    return SystemState.objects.filter(pk=1, paused=True).exists()


__all__ = ["ConfigValueError", "do_pause_system", "do_resume_system", "do_set_config"]
