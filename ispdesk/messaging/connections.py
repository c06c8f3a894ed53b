"""State changes on WhatsApp connections: settings, the default, the gateway session, the bot.

Settings are validated by the adapter's config class. Secrets are write-only: answers, pages
and audit events show only whether each is set, and an update that leaves one out (or blank)
keeps the stored value. Gateway calls happen outside any transaction (never an HTTP call under
a row lock); what they learn is recorded afterwards in a short one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ispdesk.integrations.whatsapp.base import GatewayConfig, GatewayError, SessionInfo
from ispdesk.integrations.whatsapp.registry import KINDS, adapter_class, build
from ispdesk.lib.http import HttpError
from ispdesk.lib.phones import PhoneError, normalize_phone
from ispdesk.messaging.models import (
    ConnectionStatus,
    GatewayConnection,
    GatewayKind,
    OutboundMessage,
    OutboundStatus,
)
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

ADMIN_GROUPS = ("role.admin",)
NAME_MAX_LENGTH = 80
DETAIL_MAX_LENGTH = 300
MAX_RATE_PER_SECOND = 1000.0
# Messages still to leave: a connection holding them is not deleted without `force`.
PENDING_STATUSES = (OutboundStatus.QUEUED, OutboundStatus.SENDING)
# Names that hold credentials even when an adapter forgets to list them in `secret_fields`.
_SECRET_LIKE = re.compile(r"(?i)(key|secret|token|password)")
# What a QR may be: an image data URL (adapters hand one over; anything else is not shown).
_QR_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$")


class ConnectionChangeError(ValueError):
    """A refused change: `code` is stable, `fields` name the bad values."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


# Settings ------------------------------------------------------------------------------------


def check_kind(kind: str) -> str:
    if kind not in KINDS or kind not in GatewayKind.values:
        raise ConnectionChangeError(
            "validation_error",
            _("Unknown connection kind %(kind)s.") % {"kind": repr(kind)[:40]},
            {"kind": _("choose one of: %(kinds)s") % {"kinds": ", ".join(GatewayKind.values)}},
        )
    return kind


def config_class(kind: str) -> type[GatewayConfig]:
    return adapter_class(check_kind(kind)).config_class


def secret_names(kind: str, config: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The keys whose values are never shown: the adapter's list, plus any credential-like
    name, in the config class or in what is stored."""
    declared = set(config_class(kind).secret_fields)
    names = set(config_class(kind).model_fields) | set(config or ())
    return frozenset(declared | {name for name in names if _SECRET_LIKE.search(name)})


def public_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as shown: every secret replaced by whether it is set."""
    secrets = secret_names(kind, config)
    shown: dict[str, Any] = {}
    for name in config_class(kind).model_fields:
        if name in secrets:
            shown[name] = {"set": bool(config.get(name))}
        elif name in config:
            shown[name] = config[name]
    for name, value in config.items():
        if name not in shown:
            shown[name] = {"set": bool(value)} if name in secrets else value
    return shown


def secret_values(kind: str, config: Mapping[str, Any]) -> list[str]:
    secrets = secret_names(kind, config)
    return [str(config[name]) for name in secrets if config.get(name)]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _keeps_stored(value: Any) -> bool:
    # Blank (a form's empty password input), null, or the `{"set": …}` shape our answers show.
    return (
        value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, dict)
    )


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def clean_config(
    kind: str,
    submitted: Mapping[str, Any],
    stored: Mapping[str, Any] | None = None,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """Validate settings with the kind's config class and return what to store.

    `stored` is the current config of an existing connection: a secret left out, blank or null
    keeps its stored value. `partial` (an API PATCH) also keeps every other key left out.
    Raises ConnectionChangeError naming each bad key as `config.<key>`.
    """
    if not isinstance(submitted, Mapping):
        raise ConnectionChangeError(
            "validation_error", _("The settings must be an object."), {"config": _("not an object")}
        )
    stored = stored or {}
    secrets = secret_names(kind, {**stored, **submitted})
    merged: dict[str, Any] = dict(stored) if partial else {}
    for name, value in submitted.items():
        if name in secrets and _keeps_stored(value):
            merged.pop(name, None)
        else:
            merged[name] = value
    kept = [name for name in sorted(secrets) if name not in merged and stored.get(name)]
    for name in kept:
        merged[name] = stored[name]
    _check_secrets_follow_address(stored, merged, kept)
    bad = {
        f"config.{name}": _("must not contain NUL characters")
        for name, value in merged.items()
        if _has_nul(name) or _has_nul(value)
    }
    if bad:
        raise ConnectionChangeError("validation_error", _("Invalid settings."), bad)
    try:
        validated = config_class(kind).model_validate(merged)
    except pydantic.ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            # Never pydantic's `input`: it may be a secret.
            location = ".".join(str(part) for part in error.get("loc", ())) or "config"
            fields.setdefault(f"config.{location}", _config_error(error))
        message = _("Invalid settings for: %(fields)s") % {"fields": ", ".join(fields)}
        raise ConnectionChangeError("validation_error", message, fields) from None
    return validated.model_dump(mode="json")


def _check_secrets_follow_address(
    stored: Mapping[str, Any], merged: Mapping[str, Any], kept: list[str]
) -> None:
    """Stored secrets only ever go to the address they were saved for: pointing a connection
    (or a test) at a new base URL needs them typed again, or an admin session could send
    them to a server of its choosing."""
    old = str(stored.get("base_url") or "").rstrip("/")
    new = str(merged.get("base_url") or "").rstrip("/")
    if not kept or not old or old == new:
        return
    raise ConnectionChangeError(
        "secrets_required",
        _("Enter the secrets again to use a new address."),
        {f"config.{name}": _("required again with a new address") for name in kept},
    )


def _config_error(error: Mapping[str, Any]) -> str:
    """pydantic's reason for a bad setting, in the user's language (its own text is English)."""
    kind = error.get("type", "")
    limits = error.get("ctx") or {}
    if kind in ("missing", "string_too_short"):
        return _("This field is required.")
    if kind == "string_too_long" and "max_length" in limits:
        return _("At most %(max)s characters.") % {"max": limits["max_length"]}
    if kind == "string_pattern_mismatch":
        return _("This value is not in the expected format.")
    if kind == "extra_forbidden":
        return _("This kind has no such setting.")
    if kind == "value_error":  # the adapters' URL checks are the only ones
        return _("Enter an http:// or https:// URL, without a query string.")
    return _("invalid value")


def _clean_name(name: Any, exclude_pk: int | None) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or "\x00" in cleaned or len(cleaned) > NAME_MAX_LENGTH:
        message = _("A name of 1 to %(max)s characters is required.") % {"max": NAME_MAX_LENGTH}
        raise ConnectionChangeError("validation_error", message, {"name": message})
    # Case-insensitive on every database (MySQL's collation already is; PostgreSQL's is not).
    taken = GatewayConnection.objects.filter(name__iexact=cleaned)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise _name_taken(cleaned)
    return cleaned


def _name_taken(name: str) -> ConnectionChangeError:
    return ConnectionChangeError(
        "name_taken",
        _("There already is a connection named %(name)s.") % {"name": name},
        {"name": _("already taken")},
    )


def _clean_rate(rate: Any) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1000:
        message = _("Between 0 (unlimited) and %(max)s messages per second.") % {
            "max": int(MAX_RATE_PER_SECOND)
        }
        raise ConnectionChangeError("validation_error", message, {"rate_per_second": message})
    return float(rate)


def _all_checks(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and return their results; if any refuses, raise one error naming
    every bad field (a single refusal keeps its own code, e.g. `name_taken`)."""
    results: list[Any] = []
    refusals: list[ConnectionChangeError] = []
    for check in checks:
        try:
            results.append(check())
        except ConnectionChangeError as exc:
            refusals.append(exc)
            results.append(None)
    if len(refusals) == 1:
        raise refusals[0]
    if refusals:
        fields = {name: text for exc in refusals for name, text in exc.fields.items()}
        message = _("Invalid values for: %(fields)s") % {"fields": ", ".join(fields)}
        raise ConnectionChangeError("validation_error", message, fields)
    return results


def connection_snapshot(connection: GatewayConnection) -> dict[str, Any]:
    """What the audit log keeps: settings without any secret value."""
    return {
        "kind": connection.kind,
        "name": connection.name,
        "enabled": connection.enabled,
        "is_default": connection.is_default,
        "rate_per_second": connection.rate_per_second,
        "config": public_config(connection.kind, connection.config),
    }


def webhook_path(connection: GatewayConnection) -> str:
    """Where the gateway posts events for this connection (the secret authenticates it)."""
    return reverse("whatsapp_webhook", args=[connection.webhook_secret])


def default_rate(kind: str) -> float | None:
    return adapter_class(check_kind(kind)).default_rate_per_second


def _announce(connection: GatewayConnection) -> None:
    send_event_on_commit(ADMIN_GROUPS, {"type": "connection:update", "connection": connection.pk})


def _mark_replaced_secrets(
    after: dict[str, Any], old: Mapping[str, Any], new: Mapping[str, Any], kind: str
) -> None:
    # Both sides show {"set": true}; say that the value changed without saying what it was.
    for name in secret_names(kind, {**old, **new}):
        if new.get(name) and old.get(name) != new.get(name) and old.get(name):
            after["config"][name] = {"set": True, "replaced": True}


def _lock_all() -> list[GatewayConnection]:
    """Lock every connection, always in the same order, so default changes run one at a time."""
    return list(GatewayConnection.objects.select_for_update().order_by("pk"))


def _make_only_default(connection: GatewayConnection) -> None:
    GatewayConnection.objects.filter(is_default=True).exclude(pk=connection.pk).update(
        is_default=False
    )
    connection.is_default = True


def do_create_connection(
    actor: Any,
    *,
    kind: str,
    name: str,
    config: Mapping[str, Any],
    enabled: bool = True,
    rate_per_second: float | None = None,
    is_default: bool | None = None,
) -> GatewayConnection:
    """Create a connection; the first one becomes the default unless told otherwise."""
    check_kind(kind)
    cleaned_name, cleaned, rate = _all_checks(
        lambda: _clean_name(name, None),
        lambda: clean_config(kind, config),
        lambda: _clean_rate(rate_per_second),
    )
    with transaction.atomic():
        others = _lock_all()
        connection = GatewayConnection(
            kind=kind, name=cleaned_name, config=cleaned, enabled=enabled, rate_per_second=rate
        )
        if is_default is None:
            # The simulator (created by visiting its page) never keeps a real number from
            # becoming the default for operator alerts.
            real_others = [other for other in others if other.kind != GatewayKind.SIMULATOR]
            is_default = not others or (kind != GatewayKind.SIMULATOR and not real_others)
        try:
            with transaction.atomic():
                connection.save()
        except IntegrityError:
            raise _name_taken(cleaned_name) from None
        if is_default:
            _make_only_default(connection)
            connection.save(update_fields=["is_default"])
        record_audit(actor, "connection.created", connection, after=connection_snapshot(connection))
        _announce(connection)
    return connection


def do_update_connection(
    actor: Any, connection: GatewayConnection, changes: Mapping[str, Any], *, partial: bool = True
) -> GatewayConnection:
    """Change name, config, enabled, rate_per_second or is_default (keys left out stay).

    With `partial` the config is merged over the stored one (an API PATCH); without it the
    config given is the whole config (a form), except for secrets left blank.
    """
    unknown = set(changes) - {"name", "config", "enabled", "rate_per_second", "is_default"}
    if unknown:
        field = sorted(unknown)[0]
        raise ConnectionChangeError(
            "validation_error", _("This cannot be changed."), {field: _("cannot be changed")}
        )
    name, rate, _config = _all_checks(
        lambda: _clean_name(changes["name"], connection.pk) if "name" in changes else None,
        lambda: _clean_rate(changes.get("rate_per_second")),
        # Checked here too so that every bad field is named at once; cleaned again under the
        # lock below, over the config stored then.
        lambda: (
            clean_config(
                connection.kind, changes.get("config") or {}, connection.config, partial=partial
            )
            if "config" in changes
            else None
        ),
    )
    with transaction.atomic():
        if "is_default" in changes:
            _lock_all()
        locked = GatewayConnection.objects.select_for_update().get(pk=connection.pk)
        before = connection_snapshot(locked)
        old_config = dict(locked.config)
        if "config" in changes:
            locked.config = clean_config(
                locked.kind, changes["config"] or {}, old_config, partial=partial
            )
        if name is not None:
            locked.name = name
        if "enabled" in changes and changes["enabled"] is not None:
            locked.enabled = bool(changes["enabled"])
        if "rate_per_second" in changes:
            locked.rate_per_second = rate
        if changes.get("is_default") is True:
            _make_only_default(locked)
        elif changes.get("is_default") is False:
            locked.is_default = False
        after = connection_snapshot(locked)
        _mark_replaced_secrets(after, old_config, locked.config, locked.kind)
        if after == before:
            return locked  # nothing changed: nothing to store, audit or announce
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise _name_taken(locked.name) from None
        record_audit(actor, "connection.updated", locked, before=before, after=after)
        _announce(locked)
    return locked


def pending_count(connection: GatewayConnection) -> int:
    return OutboundMessage.objects.filter(
        connection=connection, status__in=PENDING_STATUSES
    ).count()


def do_delete_connection(actor: Any, connection: GatewayConnection, *, force: bool = False) -> None:
    """Delete a connection; refused while messages wait to leave through it, unless forced
    (those messages are then deleted with it)."""
    with transaction.atomic():
        locked = GatewayConnection.objects.select_for_update().get(pk=connection.pk)
        pending = pending_count(locked)
        if pending and not force:
            raise ConnectionChangeError(
                "has_queued_messages",
                _(
                    "%(count)s messages are waiting to be sent through %(name)s. Delete anyway "
                    "to drop them."
                )
                % {"count": pending, "name": locked.name},
            )
        before = connection_snapshot(locked)
        record_audit(
            actor,
            "connection.deleted",
            locked,
            before=before,
            after={"dropped_messages": pending} if pending else None,
        )
        pk = locked.pk
        locked.delete()
        send_event_on_commit(ADMIN_GROUPS, {"type": "connection:update", "connection": pk})


def do_set_default(actor: Any, connection: GatewayConnection) -> GatewayConnection:
    """Make this the connection for operator alerts; the previous default stops being one."""
    return do_update_connection(actor, connection, {"is_default": True})


# The gateway session -------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What a call to the gateway learned: `ok` is False when the call failed (`detail` says
    why, without secrets)."""

    ok: bool
    state: str
    detail: str = ""
    qr: str = ""

    @property
    def state_label(self) -> str:
        if self.state in ConnectionStatus.values:
            return str(ConnectionStatus(self.state).label)
        return self.state


def safe_qr(image: str) -> str:
    """The QR as an image data URL, or "" when it is not one (never echo other URLs)."""
    return image if image and _QR_DATA_URL.match(image) else ""


def _failure(exc: Exception, secrets: list[str]) -> Probe:
    if isinstance(exc, GatewayError):
        reason = exc.message or str(exc)
    elif isinstance(exc, pydantic.ValidationError):
        reason = _("The stored settings are not valid for this kind: edit and save them again.")
    else:
        reason = str(exc) or exc.__class__.__name__
    reason = redact(reason, secrets)[:DETAIL_MAX_LENGTH]
    return Probe(ok=False, state=ConnectionStatus.DISCONNECTED, detail=reason)


def _from_session(info: SessionInfo, secrets: list[str]) -> Probe:
    state = info.state.state if info.state.state in ConnectionStatus.values else "unknown"
    detail = redact(info.state.detail or "", secrets)[:DETAIL_MAX_LENGTH]
    qr = safe_qr(info.qr.image) if info.qr is not None else ""
    # Gateways without a session (Cloud API) answer a failed check as a state with the
    # error's code in `extra` instead of raising: that is a failed test too.
    failed = bool(info.extra.get("code"))
    return Probe(ok=not failed, state=state, detail=detail, qr=qr)


def probe(kind: str, config: Mapping[str, Any]) -> Probe:
    """Ask the gateway for its session state with these settings; never raises for a gateway
    failure (bad credentials, refused connection, timeout)."""
    secrets = secret_values(kind, config)
    try:
        return _from_session(build(kind, dict(config)).session(), secrets)
    except (GatewayError, HttpError, pydantic.ValidationError) as exc:
        return _failure(exc, secrets)


def record_session_state(connection: GatewayConnection, result: Probe) -> GatewayConnection:
    """Store a state learned from a gateway call and tell the pages (webhook events are
    stored by `receiving.py` the same way).

    The QR is kept while the session waits for a scan and dropped once connected or logged
    out; `session:status` and `session:qr` go out only when something changed.
    """
    with transaction.atomic():
        locked = GatewayConnection.objects.select_for_update().get(pk=connection.pk)
        status = result.state if result.state in ConnectionStatus.values else "unknown"
        if status in (ConnectionStatus.CONNECTED, ConnectionStatus.DISCONNECTED):
            qr = ""
        else:
            qr = safe_qr(result.qr) or locked.last_qr
        status_changed = (locked.status, locked.status_detail) != (status, result.detail)
        qr_changed = locked.last_qr != qr
        if not status_changed and not qr_changed:
            return locked
        if locked.status != status:
            locked.status_changed_at = timezone.now()
        locked.status = status
        locked.status_detail = result.detail[:DETAIL_MAX_LENGTH]
        locked.last_qr = qr
        locked.save(update_fields=["status", "status_detail", "last_qr", "status_changed_at"])
        if status_changed:
            send_event_on_commit(
                ADMIN_GROUPS,
                {
                    "type": "session:status",
                    "connection": locked.pk,
                    "status": locked.status,
                    "detail": locked.status_detail,
                },
            )
        if qr_changed:
            send_event_on_commit(ADMIN_GROUPS, {"type": "session:qr", "connection": locked.pk})
    return locked


def refresh_status(connection: GatewayConnection) -> Probe:
    """Ask the gateway for the session state and store it (no audit: the system may call it)."""
    result = probe(connection.kind, connection.config)
    record_session_state(connection, result)
    return result


def _probe_record(outcome: Probe) -> dict[str, Any]:
    return {"ok": outcome.ok, "state": outcome.state, "detail": outcome.detail}


def do_test_connection(
    actor: Any, connection: GatewayConnection, config: Mapping[str, Any] | None = None
) -> Probe:
    """Try the stored settings (and store the state learned), or `config`, settings about to
    be saved (cleaned with `clean_config`; nothing is stored unless they equal the stored)."""
    if config is None or dict(config) == connection.config:
        outcome = refresh_status(connection)
    else:
        outcome = probe(connection.kind, config)
    record_audit(actor, "connection.tested", connection, after=_probe_record(outcome))
    return outcome


def do_test_new_connection(actor: Any, kind: str, config: Mapping[str, Any]) -> Probe:
    """Try settings of a connection not yet saved (the add form's "Test connection")."""
    outcome = probe(kind, config)
    record_audit(
        actor,
        "connection.tested",
        object_type="messaging.gatewayconnection",
        object_repr=_("new %(kind)s connection") % {"kind": kind},
        after=_probe_record(outcome),
    )
    return outcome


class GatewayActionFailed(ConnectionChangeError):
    """The gateway refused or could not be reached; the reason is stored as the status detail."""

    def __init__(self, outcome: Probe) -> None:
        self.outcome = outcome
        super().__init__("gateway_error", outcome.detail or _("The gateway call failed."))


def _session_call(actor: Any, connection: GatewayConnection, action: str, call: Any) -> Probe:
    secrets = secret_values(connection.kind, connection.config)
    try:
        gateway = build(connection.kind, dict(connection.config))
        outcome = call(gateway, secrets)
    except (GatewayError, HttpError, pydantic.ValidationError) as exc:
        outcome = _failure(exc, secrets)
    record_session_state(connection, outcome)
    record_audit(actor, action, connection, after=_probe_record(outcome))
    if not outcome.ok:
        raise GatewayActionFailed(outcome)
    return outcome


def do_connect(actor: Any, connection: GatewayConnection, webhook_url: str) -> Probe:
    """Start the session, register our webhook on the gateway, and store the state and QR."""
    return _session_call(
        actor,
        connection,
        "connection.connected",
        lambda gateway, secrets: _from_session(gateway.connect(webhook_url), secrets),
    )


def do_restart(actor: Any, connection: GatewayConnection, webhook_url: str) -> Probe:
    """Restart the session; gateways that set the webhook on start (WPPConnect) get ours."""
    return _session_call(
        actor,
        connection,
        "connection.restarted",
        lambda gateway, secrets: _from_session(gateway.restart(webhook_url), secrets),
    )


def _logout(gateway: Any, secrets: list[str]) -> Probe:
    gateway.logout()
    return Probe(ok=True, state=ConnectionStatus.DISCONNECTED, detail=_("Logged out"))


def do_logout(actor: Any, connection: GatewayConnection) -> Probe:
    """Close the WhatsApp session on the gateway (the phone must scan a QR again)."""
    return _session_call(actor, connection, "connection.logged_out", _logout)


# The bot (the earlier system's controls) -----------------------------------------------------


def bot_snapshot(connection: GatewayConnection) -> dict[str, Any]:
    return {
        "bot_paused": connection.bot_paused,
        "display_name": connection.display_name,
        "phone_number": connection.phone_number,
    }


def do_set_bot_paused(actor: Any, connection: GatewayConnection, paused: bool) -> GatewayConnection:
    """While paused the service desk's bot stays silent on this connection."""
    with transaction.atomic():
        locked = GatewayConnection.objects.select_for_update().get(pk=connection.pk)
        if locked.bot_paused == paused:
            return locked
        before = bot_snapshot(locked)
        locked.bot_paused = paused
        locked.save(update_fields=["bot_paused", "updated_at"])
        record_audit(
            actor,
            "bot.paused" if paused else "bot.resumed",
            locked,
            before=before,
            after=bot_snapshot(locked),
        )
        _announce(locked)
    return locked


def clean_number(raw: str) -> str:
    if not raw or not raw.strip():
        return ""
    try:
        return normalize_phone(raw, mobile=True)
    except PhoneError as exc:
        raise ConnectionChangeError(
            "validation_error",
            _("Invalid WhatsApp number: %(reason)s") % {"reason": exc.reason},
            {"number": exc.reason},
        ) from None


def do_set_bot_metadata(
    actor: Any,
    connection: GatewayConnection,
    *,
    display_name: str | None = None,
    number: str | None = None,
) -> GatewayConnection:
    """The bot's display name and number as shown to people (None leaves a value as it is)."""
    if display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > NAME_MAX_LENGTH or "\x00" in display_name:
            message = _("At most %(max)s characters.") % {"max": NAME_MAX_LENGTH}
            raise ConnectionChangeError("validation_error", message, {"display_name": message})
    phone = clean_number(number) if number is not None else None
    with transaction.atomic():
        locked = GatewayConnection.objects.select_for_update().get(pk=connection.pk)
        before = bot_snapshot(locked)
        if display_name is not None:
            locked.display_name = display_name
        if phone is not None:
            locked.phone_number = phone
        after = bot_snapshot(locked)
        if after == before:
            return locked
        locked.save(update_fields=["display_name", "phone_number", "updated_at"])
        record_audit(actor, "bot.metadata_updated", locked, before=before, after=after)
        _announce(locked)
    return locked
