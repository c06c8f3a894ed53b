"""Writing audit events: who did what to which object, with before/after values."""

from __future__ import annotations

from typing import Any

from django.db import models

from ispdesk.system.models import AuditEvent


def audit_event(
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    *,
    before: Any = None,
    after: Any = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    ip_address: str | None = None,
) -> AuditEvent:
    """One audit event, not saved yet (for `bulk_create`). `actor` is a user, or None for
    the system itself."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        actor=user,
        actor_label=user.get_username() if user is not None else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        before=before,
        after=after,
        ip_address=ip_address,
    )


def record_audit(
    actor: Any, action: str, obj: models.Model | None = None, **fields: Any
) -> AuditEvent:
    """Store one audit event (the fields of `audit_event`). `actor` is a user, or None for
    the system itself."""
    event = audit_event(actor, action, obj, **fields)
    event.save(force_insert=True)
    return event
