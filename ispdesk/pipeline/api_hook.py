"""The inbound ticket webhook's settings (admins): on/off, the URL to give the sender (it holds
the secret, so only admins ever see it), the field mapping, and a new secret."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from ninja import Router, Schema

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.api_errors import ApiError
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.ticket_hook import (
    MappingError,
    do_rotate_hook_secret,
    do_save_hook_settings,
    hook_path,
    hook_system,
    stored_mapping,
)

router = Router(tags=["integrations"])


class TicketHookOut(Schema):
    enabled: bool
    url: str
    close_url: str
    mapping: dict[str, str]


class TicketHookIn(Schema):
    enabled: bool | None = None
    # Their field name → ours; validated by the action, which names the bad entries.
    mapping: dict[str, Any] | None = None


def _out(request: ApiRequest, system: ExternalSystem) -> dict[str, Any]:
    close_path = reverse("ticket_hook_close", args=[system.hook_secret])
    return {
        "enabled": system.enabled,
        "url": request.build_absolute_uri(hook_path(system)),
        "close_url": request.build_absolute_uri(close_path),
        "mapping": stored_mapping(system),
    }


@router.get("", response=TicketHookOut)
def get_ticket_hook(request: ApiRequest) -> dict[str, Any]:
    api_require_admin(request.auth)
    return _out(request, hook_system())


@router.put("", response=TicketHookOut)
def update_ticket_hook(request: ApiRequest, payload: TicketHookIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    try:
        system = do_save_hook_settings(
            request.auth, enabled=payload.enabled, mapping=payload.mapping
        )
    except MappingError as exc:
        fields = {
            name if name == "mapping" else f"mapping.{name}": reason
            for name, reason in exc.fields.items()
        }
        raise ApiError(422, "validation_error", exc.message, fields) from None
    return _out(request, system)


@router.post("/rotate", response=TicketHookOut)
def rotate_ticket_hook(request: ApiRequest) -> dict[str, Any]:
    api_require_admin(request.auth)
    return _out(request, do_rotate_hook_secret(request.auth))
