"""WhatsApp connections API and the earlier system's bot controls (admins only).

Answers never hold a stored secret: settings show `{"set": true|false}` for each secret, and
`webhook_url` is built from the request so it names the host the admin reached us by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.api_errors import ApiError
from ispdesk.messaging.access import access_connection
from ispdesk.messaging.connections import (
    PENDING_STATUSES,
    ConnectionChangeError,
    GatewayActionFailed,
    Probe,
    default_rate,
    do_connect,
    do_create_connection,
    do_delete_connection,
    do_logout,
    do_restart,
    do_set_bot_metadata,
    do_set_bot_paused,
    do_set_default,
    do_test_connection,
    do_update_connection,
    pending_count,
    public_config,
    safe_qr,
    webhook_path,
)
from ispdesk.messaging.models import GatewayConnection
from ispdesk.messaging.outbox import NoConnection, default_connection
from ispdesk.messaging.schemas import (
    BotMetadataIn,
    BotStatusOut,
    ConnectionCreateIn,
    ConnectionOut,
    ConnectionUpdateIn,
    SessionOut,
)

router = Router(tags=["whatsapp connections"])
bot_router = Router(tags=["whatsapp bot"])

# Refusals that clash with what is stored; every other refusal is a bad value.
CONFLICT_CODES = frozenset({"name_taken", "has_queued_messages", "no_connection"})


@contextmanager
def connection_errors() -> Iterator[None]:
    """Answer an action's refusal: 502 when the gateway failed, 409 for a clash, else 422."""
    try:
        yield
    except GatewayActionFailed as exc:
        raise ApiError(502, exc.code, exc.message) from None
    except ConnectionChangeError as exc:
        status = 409 if exc.code in CONFLICT_CODES else 422
        raise ApiError(status, exc.code, exc.message, exc.fields) from None


def connection_out(
    request: HttpRequest, connection: GatewayConnection, queued: int | None = None
) -> dict[str, Any]:
    return {
        "id": connection.pk,
        "kind": connection.kind,
        "name": connection.name,
        "enabled": connection.enabled,
        "is_default": connection.is_default,
        "status": connection.status,
        "status_detail": connection.status_detail,
        "status_changed_at": connection.status_changed_at,
        "qr": safe_qr(connection.last_qr) or None,
        "webhook_url": request.build_absolute_uri(webhook_path(connection)),
        "config": public_config(connection.kind, connection.config),
        "rate_per_second": connection.rate_per_second,
        "default_rate_per_second": default_rate(connection.kind),
        "queued": pending_count(connection) if queued is None else queued,
        "bot_paused": connection.bot_paused,
        "display_name": connection.display_name,
        "phone_number": connection.phone_number,
        "created_at": connection.created_at,
        "updated_at": connection.updated_at,
    }


def connections_with_queue() -> Sequence[GatewayConnection]:
    """Every connection with `queued`, its waiting messages, in one query."""
    pending = Count("outbound_messages", filter=Q(outbound_messages__status__in=PENDING_STATUSES))
    return list(GatewayConnection.objects.annotate(queued=pending).order_by("name", "pk"))


def _session_out(
    request: HttpRequest, connection: GatewayConnection, outcome: Probe
) -> dict[str, Any]:
    connection.refresh_from_db()
    return {
        "ok": outcome.ok,
        "state": outcome.state,
        "detail": outcome.detail,
        "qr": outcome.qr or None,
        "connection": connection_out(request, connection),
    }


# Connections


@router.get("", response=list[ConnectionOut])
def list_connections(request: ApiRequest) -> list[dict[str, Any]]:
    api_require_admin(request.auth)
    return [
        connection_out(request, connection, connection.queued)  # type: ignore[attr-defined]
        for connection in connections_with_queue()
    ]


@router.post("", response={201: ConnectionOut})
def create_connection(request: ApiRequest, payload: ConnectionCreateIn) -> Status[dict[str, Any]]:
    api_require_admin(request.auth)
    with connection_errors():
        connection = do_create_connection(
            request.auth,
            kind=payload.kind,
            name=payload.name,
            config=payload.config,
            enabled=payload.enabled,
            rate_per_second=payload.rate_per_second,
            is_default=payload.is_default,
        )
    return Status(201, connection_out(request, connection, 0))


@router.get("/{connection_id}", response=ConnectionOut)
def get_connection(request: ApiRequest, connection_id: int) -> dict[str, Any]:
    api_require_admin(request.auth)
    return connection_out(request, access_connection(request.auth, connection_id))


@router.patch("/{connection_id}", response=ConnectionOut)
def update_connection(
    request: ApiRequest, connection_id: int, payload: ConnectionUpdateIn
) -> dict[str, Any]:
    api_require_admin(request.auth)
    connection = access_connection(request.auth, connection_id)
    changes = payload.dict(exclude_unset=True)
    # null means "leave as is", except for the rate, where it means "the kind's default".
    changes = {
        name: value
        for name, value in changes.items()
        if value is not None or name == "rate_per_second"
    }
    with connection_errors():
        connection = do_update_connection(request.auth, connection, changes)
    return connection_out(request, connection)


@router.delete("/{connection_id}", response={204: None})
def delete_connection(request: ApiRequest, connection_id: int, force: bool = False) -> Status[None]:
    """Refused with 409 while messages wait to be sent through it, unless `force=true`."""
    api_require_admin(request.auth)
    connection = access_connection(request.auth, connection_id)
    with connection_errors():
        do_delete_connection(request.auth, connection, force=force)
    return Status(204, None)


@router.post("/{connection_id}/test", response=SessionOut)
def test_connection(request: ApiRequest, connection_id: int) -> dict[str, Any]:
    """Ask the gateway for the session state. A failure (unreachable, bad credentials)
    answers 200 with `ok: false` and the reason in `detail`."""
    api_require_admin(request.auth)
    connection = access_connection(request.auth, connection_id)
    outcome = do_test_connection(request.auth, connection)
    return _session_out(request, connection, outcome)


def _session_action(
    request: ApiRequest, connection_id: int, action: Callable[[GatewayConnection], Probe]
) -> dict[str, Any]:
    api_require_admin(request.auth)
    connection = access_connection(request.auth, connection_id)
    with connection_errors():
        outcome = action(connection)
    return _session_out(request, connection, outcome)


@router.post("/{connection_id}/connect", response=SessionOut)
def connect_connection(request: ApiRequest, connection_id: int) -> dict[str, Any]:
    """Start the session and register our webhook on the gateway; 502 if the gateway fails."""
    return _session_action(
        request,
        connection_id,
        lambda c: do_connect(request.auth, c, request.build_absolute_uri(webhook_path(c))),
    )


@router.post("/{connection_id}/restart", response=SessionOut)
def restart_connection(request: ApiRequest, connection_id: int) -> dict[str, Any]:
    return _session_action(
        request,
        connection_id,
        lambda c: do_restart(request.auth, c, request.build_absolute_uri(webhook_path(c))),
    )


@router.post("/{connection_id}/logout", response=SessionOut)
def logout_connection(request: ApiRequest, connection_id: int) -> dict[str, Any]:
    return _session_action(request, connection_id, lambda c: do_logout(request.auth, c))


@router.post("/{connection_id}/default", response=ConnectionOut)
def make_default(request: ApiRequest, connection_id: int) -> dict[str, Any]:
    """Make this the connection for operator alerts (the previous default stops being one)."""
    api_require_admin(request.auth)
    connection = access_connection(request.auth, connection_id)
    with connection_errors():
        connection = do_set_default(request.auth, connection)
    return connection_out(request, connection)


# The bot (the earlier system's API): it acts on the default connection.


def _bot_connection() -> GatewayConnection:
    try:
        return default_connection()
    except NoConnection:
        raise ApiError(
            409, "no_connection", _("No WhatsApp connection is enabled: add one first.")
        ) from None


def _bot_status(connection: GatewayConnection | None) -> dict[str, Any]:
    if connection is None:
        return {
            "connection": None,
            "state": "unknown",
            "detail": _("No WhatsApp connection is enabled."),
            "qr": None,
            "paused": False,
            "queue_depth": 0,
            "display_name": "",
            "number": "",
        }
    return {
        "connection": {"id": connection.pk, "name": connection.name, "kind": connection.kind},
        "state": connection.status,
        "detail": connection.status_detail,
        "qr": safe_qr(connection.last_qr) or None,
        "paused": connection.bot_paused,
        "queue_depth": pending_count(connection),
        "display_name": connection.display_name,
        "number": connection.phone_number,
    }


@bot_router.get("/status", response=BotStatusOut)
def bot_status(request: ApiRequest) -> dict[str, Any]:
    """The default connection's stored state (no gateway call), pause flag and queue."""
    api_require_admin(request.auth)
    try:
        connection: GatewayConnection | None = default_connection()
    except NoConnection:
        connection = None
    return _bot_status(connection)


def _bot_session(request: ApiRequest, action: Callable[[GatewayConnection], Probe]) -> dict:
    api_require_admin(request.auth)
    connection = _bot_connection()
    with connection_errors():
        action(connection)
    connection.refresh_from_db()
    return _bot_status(connection)


@bot_router.post("/start", response=BotStatusOut)
def bot_start(request: ApiRequest) -> dict[str, Any]:
    """Connect the default connection (the answer carries the QR if one must be scanned)."""
    return _bot_session(
        request, lambda c: do_connect(request.auth, c, request.build_absolute_uri(webhook_path(c)))
    )


@bot_router.post("/stop", response=BotStatusOut)
def bot_stop(request: ApiRequest) -> dict[str, Any]:
    """Log the default connection out of WhatsApp."""
    return _bot_session(request, lambda c: do_logout(request.auth, c))


def _bot_pause(request: ApiRequest, paused: bool) -> dict[str, Any]:
    api_require_admin(request.auth)
    connection = do_set_bot_paused(request.auth, _bot_connection(), paused)
    return _bot_status(connection)


@bot_router.post("/pause", response=BotStatusOut)
def bot_pause(request: ApiRequest) -> dict[str, Any]:
    """The service desk's bot stays silent on the default connection until resumed."""
    return _bot_pause(request, True)


@bot_router.post("/resume", response=BotStatusOut)
def bot_resume(request: ApiRequest) -> dict[str, Any]:
    return _bot_pause(request, False)


@bot_router.patch("/metadata", response=BotStatusOut)
def bot_metadata(request: ApiRequest, payload: BotMetadataIn) -> dict[str, Any]:
    """Display name and number; the number is normalised (Argentine mobiles to +549…)."""
    api_require_admin(request.auth)
    connection = _bot_connection()
    with connection_errors():
        connection = do_set_bot_metadata(
            request.auth, connection, display_name=payload.display_name, number=payload.number
        )
    return _bot_status(connection)
