"""The Splynx connection settings: load, save, test, the live catalog, operator mapping.

Credentials (password, API key, API secret) live in `ExternalSystem.secrets`: never returned,
rendered or logged; a change that leaves one out keeps it, unless the base URL changes, which
needs the credentials typed again (a stored secret only goes to the address it was saved
for; see `ispdesk.messaging.connections`). Splynx calls happen outside any transaction.

A save owns only `CONFIG_KEYS` of `ExternalSystem.config`: anything else there (a runtime
value a job keeps, a key this version does not know) survives it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ispdesk.integrations.splynx.client import AUTH_TYPES, SplynxClient, SplynxSettings
from ispdesk.integrations.splynx.errors import SplynxError
from ispdesk.lib.numbers import ascii_int
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.splynx_sync_customers import MATCH_MODES
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.tickets.models import Status

ADMIN_GROUPS = ("role.admin",)
SECRET_FIELDS = ("password", "api_key", "api_secret")
# Which credentials each scheme sends.
NEEDED_SECRETS = {
    "admin": ("password",),
    "api_key": ("api_key", "api_secret"),
    "basic": ("api_key", "api_secret"),
}
MAPPING_IDS = ("default_group_id", "default_type_id", "resolved_status_id", "new_status_id")
# What a save owns in `config`; the customer keys are read by `splynx_sync_customers`.
CONFIG_KEYS = (
    "base_url",
    "auth_type",
    "login",
    "mappings",
    "time_zone",
    "customer_match",
    "dni_attribute",
)
CUSTOMER_KEYS = ("time_zone", "customer_match", "dni_attribute")
# An IANA name such as UTC, Etc/GMT+3 or America/Argentina/Buenos_Aires.
ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*", re.ASCII)
# Files in the zone folder that are this machine's choice, not zones.
NOT_ZONES = frozenset({"localtime", "posixrules"})
MAX_ZONE = 64
# Splynx additional attribute names are identifiers; the name goes into a query key.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}", re.ASCII)
# A test is a person waiting on a button: one attempt, a shorter wait than the jobs use.
TEST_TIMEOUT = 10.0
MAX_TEXT = 200
MAX_ID = 2**31 - 1
DETAIL_MAX_LENGTH = 500


class SplynxSettingsError(ValueError):
    """A refused change: `code` is stable, `fields` name the bad values."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


@dataclass(frozen=True)
class Cleaned:
    enabled: bool
    config: dict[str, Any]
    secrets: dict[str, str]


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    detail: str
    administrators: list[dict[str, Any]] = field(default_factory=list)


# Reading -------------------------------------------------------------------------------------


def splynx_system() -> ExternalSystem:
    system, _created = ExternalSystem.objects.get_or_create(kind=SystemKind.SPLYNX)
    return system


def empty_mappings() -> dict[str, Any]:
    return {"statuses": {}, **dict.fromkeys(MAPPING_IDS)}


def mappings_of(config: Mapping[str, Any]) -> dict[str, Any]:
    stored = config.get("mappings") or {}
    return {**empty_mappings(), **stored}


def settings_out(system: ExternalSystem) -> dict[str, Any]:
    """The settings as the API and the pages show them: credentials only as `has_*`."""
    config, secrets = system.config or {}, system.secrets or {}
    return {
        "enabled": system.enabled,
        "base_url": config.get("base_url", ""),
        "auth_type": config.get("auth_type", "api_key"),
        "login": config.get("login", ""),
        "has_password": bool(secrets.get("password")),
        "has_api_key": bool(secrets.get("api_key")),
        "has_api_secret": bool(secrets.get("api_secret")),
        "mappings": mappings_of(config),
        # Blank (or never set) means the project's own zone, as `splynx_zone` reads it.
        "time_zone": str(config.get("time_zone") or settings.TIME_ZONE),
        "customer_match": str(config.get("customer_match") or "login"),
        "dni_attribute": str(config.get("dni_attribute") or ""),
        "last_test": {
            "at": system.last_test_at,
            "ok": system.last_test_ok,
            "detail": system.last_test_detail,
        },
    }


def client_settings(config: Mapping[str, Any], secrets: Mapping[str, str]) -> SplynxSettings:
    return SplynxSettings(
        base_url=str(config.get("base_url") or ""),
        auth_type=str(config.get("auth_type") or "api_key"),
        login=str(config.get("login") or ""),
        password=str(secrets.get("password") or ""),
        api_key=str(secrets.get("api_key") or ""),
        api_secret=str(secrets.get("api_secret") or ""),
        # Workers in several processes share the key: each signs only its token logins.
        api_key_token=True,
    )


def build_client(system: ExternalSystem | None = None, **overrides: Any) -> SplynxClient:
    """The client for the stored settings (the pipeline's jobs use this)."""
    system = system or splynx_system()
    settings = client_settings(system.config or {}, system.secrets or {})
    if overrides:
        settings = SplynxSettings(**{**settings.__dict__, **overrides})
    return SplynxClient(settings)


def is_configured(system: ExternalSystem) -> bool:
    config, secrets = system.config or {}, system.secrets or {}
    auth_type = config.get("auth_type") or "api_key"
    needed = NEEDED_SECRETS.get(auth_type, ())
    return bool(config.get("base_url")) and all(secrets.get(name) for name in needed)


# Validation ----------------------------------------------------------------------------------


def _text(value: Any, name: str, bad: dict[str, str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value or len(value) > MAX_TEXT:
        bad[name] = _("At most %(max)s characters of text.") % {"max": MAX_TEXT}
        return ""
    return value.strip()


def _url(value: str, bad: dict[str, str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        bad["base_url"] = _("Enter an http:// or https:// URL, without a query string.")
    return value.rstrip("/")


def _id(value: Any, name: str, bad: dict[str, str]) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = ascii_int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        bad[name] = _("A Splynx id: a whole number from 1.")
        return None
    return value


def _clean_mappings(value: Any, bad: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        bad["mappings"] = _("An object is required.")
        return empty_mappings()
    cleaned = empty_mappings()
    for name in MAPPING_IDS:
        cleaned[name] = _id(value.get(name), f"mappings.{name}", bad)
    statuses = value.get("statuses") or {}
    if not isinstance(statuses, Mapping):
        bad["mappings.statuses"] = _("An object is required.")
        return cleaned
    for ours, theirs in statuses.items():
        if ours not in Status.values:
            bad[f"mappings.statuses.{str(ours)[:40]}"] = _("Not one of our ticket statuses.")
            continue
        splynx_id = _id(theirs, f"mappings.statuses.{ours}", bad)
        if splynx_id is not None:
            cleaned["statuses"][ours] = splynx_id
    return cleaned


def _zone(value: Any, bad: dict[str, str]) -> str:
    """An IANA zone name, or "" for the project's own zone."""
    name = value.strip() if isinstance(value, str) else value
    if name is None or name == "":
        return ""
    known = (
        isinstance(name, str)
        and len(name) <= MAX_ZONE
        and ZONE_NAME.fullmatch(name) is not None
        and name not in NOT_ZONES
    )
    if known:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            known = False
    if not known:
        bad["time_zone"] = _(
            "Unknown time zone: enter an IANA name such as UTC or America/Argentina/Buenos_Aires."
        )
        return ""
    return str(name)


def _match_mode(value: Any, bad: dict[str, str]) -> str:
    if value not in MATCH_MODES:
        bad["customer_match"] = _("Choose one of: %(modes)s.") % {"modes": ", ".join(MATCH_MODES)}
        return "login"
    return str(value)


def _attribute(value: Any, bad: dict[str, str]) -> str:
    """The Splynx customer attribute holding the DNI, or "" to leave DNI matching off."""
    name = value.strip() if isinstance(value, str) else value
    if name is None or name == "":
        return ""
    if not isinstance(name, str) or ATTRIBUTE_NAME.fullmatch(name) is None:
        bad["dni_attribute"] = _(
            "The name of a Splynx customer attribute: letters, digits and _, at most 64."
        )
        return ""
    return name


CUSTOMER_CLEANERS = {"time_zone": _zone, "customer_match": _match_mode, "dni_attribute": _attribute}


def clean_settings(system: ExternalSystem, submitted: Mapping[str, Any]) -> Cleaned:
    """Validate submitted settings over the stored ones (keys left out are kept). The
    cleaned config holds only `CONFIG_KEYS`: the save merges it over the stored row.

    Raises SplynxSettingsError: `validation_error` naming each bad field, or
    `secret_required` when the base URL changed and stored credentials were not re-sent.
    """
    stored_config, stored_secrets = dict(system.config or {}), dict(system.secrets or {})
    bad: dict[str, str] = {}
    unknown = set(submitted) - {"enabled", *CONFIG_KEYS, *SECRET_FIELDS}
    for name in sorted(unknown):
        bad[str(name)[:40]] = _("There is no such setting.")
    enabled = submitted.get("enabled", system.enabled)
    if not isinstance(enabled, bool):
        bad["enabled"] = _("true or false.")
    base_url = _text(submitted.get("base_url", stored_config.get("base_url", "")), "base_url", bad)
    if base_url:
        base_url = _url(base_url, bad)
    auth_type = submitted.get("auth_type", stored_config.get("auth_type", "api_key"))
    if auth_type not in AUTH_TYPES:
        bad["auth_type"] = _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(AUTH_TYPES)}
        auth_type = "api_key"
    login = _text(submitted.get("login", stored_config.get("login", "")), "login", bad)
    mappings = _clean_mappings(submitted.get("mappings", mappings_of(stored_config)), bad)
    # Validated when sent; a stored value is kept as it is (the sync falls back on its own).
    customer = {
        name: CUSTOMER_CLEANERS[name](submitted[name], bad)
        if name in submitted
        else stored_config[name]
        for name in CUSTOMER_KEYS
        if name in submitted or name in stored_config
    }
    given: dict[str, str] = {}
    for name in SECRET_FIELDS:
        value = _text(submitted.get(name), name, bad)
        if value:
            given[name] = value
    if bad:
        raise _invalid(bad)
    needed = NEEDED_SECRETS[auth_type]
    moved = bool(stored_config.get("base_url")) and stored_config.get("base_url") != base_url
    if moved:
        missing = [name for name in needed if name not in given and stored_secrets.get(name)]
        if missing:
            raise SplynxSettingsError(
                "secret_required",
                _("Enter the credentials again to use a new address."),
                {name: _("required again with a new address") for name in missing},
            )
        # Credentials saved for the old address never follow it to the new one.
        stored_secrets = {}
    secrets = {**stored_secrets, **given}
    secrets = {name: secrets[name] for name in needed if secrets.get(name)}
    if enabled:
        required = {
            "base_url": base_url,
            **({"login": login} if auth_type == "admin" else {}),
            **{name: secrets.get(name, "") for name in needed},
        }
        missing_fields = {
            name: _("This field is required.") for name, v in required.items() if not v
        }
        if missing_fields:
            raise _invalid(missing_fields)
    config = {
        "base_url": base_url,
        "auth_type": auth_type,
        "login": login,
        "mappings": mappings,
        **customer,
    }
    return Cleaned(enabled=bool(enabled), config=config, secrets=secrets)


def _invalid(bad: dict[str, str]) -> SplynxSettingsError:
    message = _("Invalid values for: %(fields)s") % {"fields": ", ".join(sorted(bad))}
    return SplynxSettingsError("validation_error", message, bad)


def _snapshot(enabled: bool, config: Mapping[str, Any], secrets: Mapping[str, str]) -> dict:
    """What the audit log keeps: settings and which credentials are set, never their values
    (nor the runtime values kept beside the settings)."""
    return {
        "enabled": enabled,
        **{key: value for key, value in config.items() if key in CONFIG_KEYS},
        **{f"has_{name}": bool(secrets.get(name)) for name in SECRET_FIELDS},
    }


def _announce() -> None:
    send_event_on_commit(ADMIN_GROUPS, {"type": "integration:update", "system": "splynx"})


# Actions -------------------------------------------------------------------------------------


def do_save_splynx_settings(actor: Any, submitted: Mapping[str, Any]) -> ExternalSystem:
    splynx_system()
    with transaction.atomic():
        system = ExternalSystem.objects.select_for_update().get(kind=SystemKind.SPLYNX)
        cleaned = clean_settings(system, submitted)
        before = _snapshot(system.enabled, system.config or {}, system.secrets or {})
        after = _snapshot(cleaned.enabled, cleaned.config, cleaned.secrets)
        replaced = [
            name
            for name in SECRET_FIELDS
            if cleaned.secrets.get(name)
            and (system.secrets or {}).get(name)
            and cleaned.secrets[name] != system.secrets[name]
        ]
        changed = before != after or replaced or (system.secrets or {}) != cleaned.secrets
        if not changed:
            return system
        if replaced:
            after["replaced"] = replaced
        system.enabled = cleaned.enabled
        # Merged under the lock: what the save does not own (a job's runtime value) stays.
        system.config = {**(system.config or {}), **cleaned.config}
        system.secrets = cleaned.secrets
        system.save(update_fields=["enabled", "config", "secrets", "updated_at"])
        record_audit(actor, "integration.splynx.updated", system, before=before, after=after)
        _announce()
    return system


def _reason_words(exc: SplynxError) -> str:
    """Why a test failed, in the user's language (the client's own words are English)."""
    words = {
        "credentials": _("Bad credentials: Splynx rejected them."),
        "permission": _("The credentials lack permission to list administrators."),
        "connect": _("Cannot connect to Splynx at that address."),
        "timeout": _("Timeout: Splynx did not answer in time."),
        "unexpected": _(
            "Unexpected answer: check the address (the Splynx server, "
            "e.g. https://splynx.example.com)."
        ),
        "not_found": _(
            "Unexpected answer: check the address (the Splynx server, "
            "e.g. https://splynx.example.com)."
        ),
        "rate_limited": _("Splynx is limiting requests; try again in a minute."),
    }
    if exc.reason in words:
        return words[exc.reason]
    if exc.status:
        return _("Splynx answered with an error (HTTP %(status)s).") % {"status": exc.status}
    return _("Unexpected answer from Splynx.")


def probe(config: Mapping[str, Any], secrets: Mapping[str, str]) -> TestOutcome:
    """Log in and list the administrators; never raises for what Splynx does."""
    if not config.get("base_url"):
        return TestOutcome(False, _("Enter the Splynx address first."))
    settings = client_settings(config, secrets)
    settings = SplynxSettings(**{**settings.__dict__, "timeout": TEST_TIMEOUT, "max_attempts": 1})
    client = SplynxClient(settings)
    try:
        admins = client.administrators()
    except SplynxError as exc:
        return TestOutcome(False, _reason_words(exc))
    finally:
        client.logout()
    listed = [{"id": admin.id, "name": admin.name, "login": admin.login} for admin in admins]
    detail = ngettext(
        "Connected: %(count)s administrator.", "Connected: %(count)s administrators.", len(listed)
    ) % {"count": len(listed)}
    return TestOutcome(True, detail, listed)


def do_test_splynx(actor: Any, submitted: Mapping[str, Any] | None = None) -> TestOutcome:
    """Try the stored settings, or `submitted` ones over them (nothing is saved; the outcome
    is stored only when what was tried is what is stored)."""
    system = splynx_system()
    if submitted is None:
        config, secrets = dict(system.config or {}), dict(system.secrets or {})
    else:
        cleaned = clean_settings(system, {**submitted, "enabled": False})
        config, secrets = cleaned.config, cleaned.secrets
    outcome = probe(config, secrets)
    stored = config.get("base_url") == (system.config or {}).get("base_url") and secrets == (
        system.secrets or {}
    )
    with transaction.atomic():
        if stored:
            ExternalSystem.objects.filter(pk=system.pk).update(
                last_test_at=timezone.now(),
                last_test_ok=outcome.ok,
                last_test_detail=outcome.detail[:DETAIL_MAX_LENGTH],
            )
        record_audit(
            actor,
            "integration.splynx.tested",
            system,
            after={"ok": outcome.ok, "detail": outcome.detail, "stored_settings": stored},
        )
        if stored:
            _announce()
    return outcome


def fetch_catalog(system: ExternalSystem | None = None) -> dict[str, list[dict[str, Any]]]:
    """Statuses, groups, types and administrators, live (raises SplynxSettingsError)."""
    system = system or splynx_system()
    if not is_configured(system):
        raise SplynxSettingsError(
            "not_configured", _("Save the Splynx address and credentials first.")
        )
    client = build_client(system, timeout=TEST_TIMEOUT, max_attempts=1)
    try:
        return {
            "statuses": [e.__dict__ for e in client.ticket_statuses()],
            "groups": [e.__dict__ for e in client.ticket_groups()],
            "types": [e.__dict__ for e in client.ticket_types()],
            "administrators": [a.__dict__ for a in client.administrators()],
        }
    except SplynxError as exc:
        raise SplynxSettingsError("splynx_unavailable", _reason_words(exc)) from None
    finally:
        client.logout()


def do_map_operators(actor: Any, mapping: Mapping[int, int | None]) -> list[Operator]:
    """Link operators to Splynx administrators (`person_id`; None unlinks). Swaps work; two
    operators on one administrator → `person_id_taken` naming the operator."""
    bad: dict[str, str] = {}
    for operator_id, person_id in mapping.items():
        _id(person_id, str(operator_id), bad)
    if bad:
        raise _invalid(bad)
    with transaction.atomic():
        operators = {
            operator.pk: operator
            for operator in Operator.objects.select_for_update()
            .select_related("user")
            .order_by("pk")
        }
        unknown = [str(pk) for pk in mapping if pk not in operators]
        if unknown:
            raise SplynxSettingsError(
                "not_found",
                ngettext("No such operator: %(ids)s.", "No such operators: %(ids)s.", len(unknown))
                % {"ids": ", ".join(unknown)},
                dict.fromkeys(unknown, _("no such operator")),
            )
        final = {pk: operator.person_id for pk, operator in operators.items()}
        final.update(mapping)
        holders: dict[int, int] = {}
        for pk, person_id in final.items():
            if person_id is None:
                continue
            if person_id in holders:
                clash = operators[pk if pk in mapping else holders[person_id]]
                other = operators[holders[person_id] if pk in mapping else pk]
                raise SplynxSettingsError(
                    "person_id_taken",
                    _("Splynx administrator %(id)s is already linked to %(name)s.")
                    % {"id": person_id, "name": other.user.display_name},
                    {
                        str(clash.pk): _("already linked to %(name)s")
                        % {"name": other.user.display_name}
                    },
                )
            holders[person_id] = pk
        changed = [pk for pk in mapping if operators[pk].person_id != mapping[pk]]
        if not changed:
            return list(operators.values())
        before = {str(pk): operators[pk].person_id for pk in changed}
        # Unlink first, then link: a swap must never meet the unique index half-done.
        Operator.objects.filter(pk__in=changed).update(person_id=None)
        try:
            for pk in changed:
                if mapping[pk] is not None:
                    Operator.objects.filter(pk=pk).update(person_id=mapping[pk])
        except IntegrityError:
            raise SplynxSettingsError(
                "person_id_taken", _("A Splynx administrator is already linked.")
            ) from None
        for pk in changed:
            operators[pk].person_id = mapping[pk]
        record_audit(
            actor,
            "integration.splynx.operators_mapped",
            object_type="operators.operator",
            object_repr=_("Operators ↔ Splynx administrators"),
            before=before,
            after={str(pk): mapping[pk] for pk in changed},
        )
        send_event_on_commit(
            ["role.admin", "role.supervisor"], {"type": "operator:update", "operators": changed}
        )
    return list(operators.values())
