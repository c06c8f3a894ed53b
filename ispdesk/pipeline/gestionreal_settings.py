"""Gestión Real's settings (one `ExternalSystem` row) and the "test connection".

`config` holds the ordinary settings (returned by the API, shown in the page); `secrets`
the API secret and the web export's password, write-only: answers, pages, audit events and
logs only say whether each is set. A value left out or blank keeps the stored one, and a
stored secret only goes to the address it was saved for: changing `base_url` (or
`login_url`) asks for the secret (or the password) again, as WhatsApp connections do.

The close sync's knobs (`closed_states`, `reopen_window_hours`, `close_sync_batch`, read by
`flow`) and the web export page's URL and selectors (`web`, read by `web_export`) are
settings too. `web` stores only what differs from `DEFAULT_WEB`, so an installation that
never changed a selector follows a corrected default. The jobs' runtime values (`cursor`,
`close_sync_cursor`) share `config` and are never touched by a save.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ispdesk.integrations.gestionreal.client import (
    DEFAULT_BASE_URL,
    GestionRealClient,
    GestionRealError,
    GestionRealSettings,
)
from ispdesk.integrations.gestionreal.mapping import argentina_date
from ispdesk.integrations.gestionreal.web_export import (
    DEFAULT_TIMEOUT,
    EXPORT_SELECTOR,
    MAX_BYTES,
    PASSWORD_SELECTOR,
    SUBMIT_SELECTOR,
    USERNAME_SELECTOR,
)
from ispdesk.lib.http import HttpClient, HttpError
from ispdesk.pipeline.csv_import import FILTER_KEYS, filters_from_config, fold
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit

logger = logging.getLogger("ispdesk.pipeline.gestionreal")

MODES = ("api", "csv", "web")
CONFIG_KEYS = (
    "mode",
    "base_url",
    "cuit",
    "login_url",
    "username",
    "watched_folder",
    "filters",
    "closed_states",
    "reopen_window_hours",
    "close_sync_batch",
    "web",
)
SECRET_KEYS = ("secret", "password")
# Which address each secret is bound to.
SECRET_ADDRESS = {"secret": "base_url", "password": "login_url"}
DETAIL_MAX_LENGTH = 500
FILTER_MAX_ITEMS = 50
FILTER_MAX_LENGTH = 100
SAMPLE_SIZE = 3
# A Splynx close is undone while the case stays open at the source for up to this long
# (30 days); 0 never reopens.
REOPEN_WINDOW_RANGE = (0, 720)
# Cases read per close sync run, one call each: 500 at up to a second a call stays inside
# the default 10-minute job lease, and at the 5-minute interval checks 6,000 cases an hour.
CLOSE_SYNC_BATCH_RANGE = (1, 500)
# The web export page, as `web_export.web_export_settings` reads `config["web"]`.
# Blank means something for these: the cases page next to the login page; press Enter
# instead of clicking; no marker of a refused login.
WEB_BLANK_ALLOWED = ("cases_url", "submit_selector", "login_error_selector")
WEB_NUMBER_RANGES = {"timeout_seconds": (5, 600), "max_megabytes": (1, 100)}
WEB_TEXT_MAX_LENGTH = 500
DEFAULT_WEB: dict[str, str | int] = {
    "cases_url": "",
    "username_selector": USERNAME_SELECTOR,
    "password_selector": PASSWORD_SELECTOR,
    "submit_selector": SUBMIT_SELECTOR,
    "login_error_selector": "",
    "export_selector": EXPORT_SELECTOR,
    "timeout_seconds": int(DEFAULT_TIMEOUT),
    "max_megabytes": MAX_BYTES // 2**20,
}
TEST_TIMEOUT = 10.0
ADMIN_GROUPS = ("role.admin",)


class SettingsError(ValueError):
    """A refused change: `code` is stable, `fields` name the bad values."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code = code
        self.message = message
        self.fields = fields or {}
        super().__init__(message)


def gestionreal_system() -> ExternalSystem:
    system, _created = ExternalSystem.objects.get_or_create(kind=SystemKind.GESTIONREAL)
    return system


def _config(system: ExternalSystem) -> dict[str, Any]:
    config = dict(system.config)
    return {
        "mode": config.get("mode") or "api",
        "base_url": config.get("base_url") or DEFAULT_BASE_URL,
        "cuit": config.get("cuit") or "",
        "login_url": config.get("login_url") or "",
        "username": config.get("username") or "",
        "watched_folder": config.get("watched_folder") or "",
        "filters": filters_from_config(config).as_config(),
        **_close_sync_config(config),
        "web": web_config(config),
    }


def _close_sync_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The close sync's settings as its job reads them (defaults for what is not stored)."""
    # Imported here: flow imports this module (for `client_for`).
    from ispdesk.pipeline import flow

    hours = int(flow.reopen_window(config).total_seconds()) // 3600
    if config.get("reopen_window_hours") in (0, "0"):
        hours = 0  # never reopen
    return {
        "closed_states": list(flow.closed_states(config)),
        "reopen_window_hours": hours,
        "close_sync_batch": flow.close_sync_batch(config),
    }


def _close_sync_default(name: str) -> Any:
    """What a key left unset means (null in a change sets it back to this)."""
    return _close_sync_config({})[name]


def web_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of the web export page, the default where nothing usable is stored (a blank
    selector takes the default, as the export does, unless blank means something)."""
    raw = config.get("web")
    stored: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    shown: dict[str, Any] = dict(DEFAULT_WEB)
    for key in DEFAULT_WEB:
        value = stored.get(key)
        if key in WEB_NUMBER_RANGES:
            if isinstance(value, int | float) and not isinstance(value, bool):
                shown[key] = int(value) if float(value).is_integer() else value
        elif isinstance(value, str) and (value.strip() or key in WEB_BLANK_ALLOWED):
            shown[key] = value.strip()
    return shown


def public_settings(system: ExternalSystem) -> dict[str, Any]:
    """The settings as the API and the page show them: secrets only as `has_*`."""
    return {
        "enabled": system.enabled,
        **_config(system),
        "has_secret": bool(system.secrets.get("secret")),
        "has_password": bool(system.secrets.get("password")),
    }


def _snapshot(system: ExternalSystem) -> dict[str, Any]:
    return public_settings(system)


# Cleaning ------------------------------------------------------------------------------------


def cuit_is_valid(digits: str) -> bool:
    """An 11-digit CUIT whose last digit is the AFIP check digit."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    rest = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    check = {11: 0, 10: 9}.get(rest, rest)
    return check == int(digits[10])


def _text(value: Any, name: str, max_length: int, bad: dict[str, str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        bad[name] = _("must be text")
        return ""
    value = value.strip()
    if len(value) > max_length:
        bad[name] = _("At most %(max)s characters.") % {"max": max_length}
    return value


def _url(value: str, name: str, bad: dict[str, str]) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        bad[name] = _("Enter an http:// or https:// URL, without a query string.")
    return value


def _filters(value: Any, bad: dict[str, str]) -> dict[str, list[str]]:
    if value is None:
        return {key: [] for key in FILTER_KEYS}
    if not isinstance(value, Mapping):
        bad["filters"] = _("must be an object with the lists %(keys)s") % {
            "keys": ", ".join(FILTER_KEYS)
        }
        return {}
    cleaned: dict[str, list[str]] = {}
    for key, items in value.items():
        if key not in FILTER_KEYS:
            bad[f"filters.{key}"] = _("unknown filter")
            continue
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            bad[f"filters.{key}"] = _("must be a list of texts")
            continue
        kept = [item.strip() for item in items if item.strip()]
        if len(kept) > FILTER_MAX_ITEMS or any(
            len(item) > FILTER_MAX_LENGTH or "\x00" in item for item in kept
        ):
            bad[f"filters.{key}"] = _(
                "At most %(items)s values of at most %(length)s characters."
            ) % {"items": FILTER_MAX_ITEMS, "length": FILTER_MAX_LENGTH}
            continue
        cleaned[key] = list(dict.fromkeys(kept))
    return {key: cleaned.get(key, []) for key in FILTER_KEYS}


def _closed_states(value: Any, bad: dict[str, str]) -> list[str]:
    if value is None:
        return _close_sync_default("closed_states")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        bad["closed_states"] = _("must be a list of texts")
        return []
    states = [item.strip() for item in value]
    if any(not state for state in states):
        bad["closed_states"] = _("Enter each state without blank values.")
    elif not states:
        bad["closed_states"] = _("Enter at least one state.")
    elif len(states) > FILTER_MAX_ITEMS or any(
        len(state) > FILTER_MAX_LENGTH or "\x00" in state for state in states
    ):
        bad["closed_states"] = _("At most %(items)s values of at most %(length)s characters.") % {
            "items": FILTER_MAX_ITEMS,
            "length": FILTER_MAX_LENGTH,
        }
    # "cerrado" and "Cerrado" are one state to the close sync: the first spelling stays.
    kept: dict[str, str] = {}
    for state in states:
        kept.setdefault(fold(state), state)
    return list(kept.values())


def _whole_number(
    value: Any, name: str, bounds: tuple[int, int], default: int, bad: dict[str, str]
) -> int:
    if value is None:
        return default
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bad[name] = _("Enter a whole number from %(low)s to %(high)s.") % {
            "low": low,
            "high": high,
        }
        return default
    return value


def _web_url(value: str, name: str, bad: dict[str, str]) -> str:
    # The cases page may need its query string (`index.php?menuitem=10`).
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc or " " in value):
        bad[name] = _("Enter an http:// or https:// URL.")
    return value


def _web(value: Any, shown: Mapping[str, Any], bad: dict[str, str]) -> dict[str, Any]:
    """The web export page's overrides to store: `shown` (the current values) changed by
    `value`; a key set to null takes its default back, left out keeps its value."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        bad["web"] = _("must be an object with the keys %(keys)s") % {
            "keys": ", ".join(DEFAULT_WEB)
        }
        return {}
    merged = dict(shown)
    for key, item in value.items():
        name = f"web.{key}"
        if key not in DEFAULT_WEB:
            bad[name] = _("unknown setting")
        elif item is None:
            merged[key] = DEFAULT_WEB[key]
        elif key in WEB_NUMBER_RANGES:
            merged[key] = _whole_number(item, name, WEB_NUMBER_RANGES[key], 0, bad)
        else:
            text = _text(item, name, WEB_TEXT_MAX_LENGTH, bad)
            if not text and key not in WEB_BLANK_ALLOWED and name not in bad:
                bad[name] = _("Enter a CSS selector.")
            merged[key] = _web_url(text, name, bad) if key == "cases_url" else text
    return {key: item for key, item in merged.items() if item != DEFAULT_WEB[key]}


@dataclass(frozen=True)
class CleanedSettings:
    enabled: bool
    config: dict[str, Any]
    secrets: dict[str, str]


def clean_settings(system: ExternalSystem, submitted: Mapping[str, Any]) -> CleanedSettings:
    """Validate a change (keys left out keep their value) and return what to store."""
    unknown = set(submitted) - {"enabled", *CONFIG_KEYS, *SECRET_KEYS}
    if unknown:
        name = sorted(unknown)[0]
        raise SettingsError(
            "validation_error", _("This cannot be changed."), {name: _("unknown setting")}
        )
    stored = _config(system)
    bad: dict[str, str] = {}
    config = dict(stored)
    for name, limit in (
        ("mode", 8),
        ("base_url", 200),
        ("cuit", 20),
        ("login_url", 300),
        ("username", 150),
        ("watched_folder", 500),
    ):
        if name in submitted:
            config[name] = _text(submitted[name], name, limit, bad)
    if "filters" in submitted:
        config["filters"] = _filters(submitted["filters"], bad)
    if "closed_states" in submitted:
        config["closed_states"] = _closed_states(submitted["closed_states"], bad)
    for name, bounds in (
        ("reopen_window_hours", REOPEN_WINDOW_RANGE),
        ("close_sync_batch", CLOSE_SYNC_BATCH_RANGE),
    ):
        if name in submitted:
            default = _close_sync_default(name)
            config[name] = _whole_number(submitted[name], name, bounds, default, bad)
    if "web" in submitted:
        config["web"] = _web(submitted["web"], stored["web"], bad)
    else:
        del config["web"]  # stored as it is: only overrides are kept there
    if config["mode"] not in MODES:
        bad["mode"] = _("choose one of: %(modes)s") % {"modes": ", ".join(MODES)}
    config["base_url"] = _url(config["base_url"] or DEFAULT_BASE_URL, "base_url", bad)
    config["login_url"] = _url(config["login_url"], "login_url", bad)
    cuit = "".join(ch for ch in config["cuit"] if ch not in "-. ")
    if cuit and not cuit_is_valid(cuit):
        bad["cuit"] = _("A CUIT has 11 digits and a valid check digit.")
    config["cuit"] = cuit
    folder = config["watched_folder"]
    if folder and not Path(folder).is_absolute():
        bad["watched_folder"] = _("Enter an absolute path, e.g. /srv/gestionreal/export.")

    secrets: dict[str, str] = {}
    for name in SECRET_KEYS:
        value = submitted.get(name)
        if isinstance(value, str) and value.strip():
            if "\x00" in value or len(value) > 500:
                bad[name] = _("At most %(max)s characters.") % {"max": 500}
            secrets[name] = value.strip()
        elif value is not None and not isinstance(value, str):
            bad[name] = _("must be text")
        elif system.secrets.get(name):
            address = SECRET_ADDRESS[name]
            old = str(stored[address]).rstrip("/")
            new = str(config[address]).rstrip("/")
            if old and old != new:
                bad[name] = _("required again with a new address")
            else:
                secrets[name] = str(system.secrets[name])

    enabled = system.enabled
    if "enabled" in submitted:
        if not isinstance(submitted["enabled"], bool):
            bad["enabled"] = _("must be true or false")
        else:
            enabled = submitted["enabled"]
    if enabled and not bad:
        needs = {
            "api": (("cuit", config["cuit"]), ("secret", secrets.get("secret"))),
            "web": (
                ("login_url", config["login_url"]),
                ("username", config["username"]),
                ("password", secrets.get("password")),
            ),
            "csv": (),
        }[config["mode"]]
        for name, value in needs:
            if not value:
                bad[name] = _("required to enable this mode")
    if bad:
        code = (
            "secrets_required"
            if set(bad.values()) == {_("required again with a new address")}
            else "validation_error"
        )
        message = (
            _("Enter the secrets again to use a new address.")
            if code == "secrets_required"
            else _("Invalid values for: %(fields)s") % {"fields": ", ".join(sorted(bad))}
        )
        raise SettingsError(code, message, bad)
    return CleanedSettings(enabled=enabled, config=config, secrets=secrets)


def do_save_gestionreal(actor: Any, changes: Mapping[str, Any]) -> ExternalSystem:
    """Store a settings change; audit it without secret values."""
    gestionreal_system()  # the row exists before it is locked
    with transaction.atomic():
        system = ExternalSystem.objects.select_for_update().get(kind=SystemKind.GESTIONREAL)
        cleaned = clean_settings(system, changes)
        before = _snapshot(system)
        replaced = [
            name
            for name in SECRET_KEYS
            if system.secrets.get(name) and cleaned.secrets.get(name) != system.secrets.get(name)
        ]
        system.enabled = cleaned.enabled
        # Keys the settings do not own (the jobs' cursors) stay.
        system.config = {**system.config, **cleaned.config}
        system.secrets = cleaned.secrets
        after = _snapshot(system)
        for name in replaced:
            after[f"{name}_replaced"] = True
        if after == before:
            return system
        system.save(update_fields=["enabled", "config", "secrets", "updated_at"])
        record_audit(actor, "integration.updated", system, before=before, after=after)
        send_event_on_commit(ADMIN_GROUPS, {"type": "integration:update", "kind": system.kind})
    return system


# The test ------------------------------------------------------------------------------------


def client_for(system: ExternalSystem, *, attempts: int = 4) -> GestionRealClient:
    config = _config(system)
    settings = GestionRealSettings(
        cuit=config["cuit"],
        secret=str(system.secrets.get("secret") or ""),
        base_url=config["base_url"],
        attempts=attempts,
        field_names={
            key: tuple(names)
            for key, names in (system.config.get("field_names") or {}).items()
            if isinstance(names, list)
        },
    )
    return GestionRealClient(settings)


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    detail: str
    sample: list[dict[str, Any]] = field(default_factory=list)


def _hide(text: str, system: ExternalSystem) -> str:
    for value in system.secrets.values():
        if value:
            text = text.replace(str(value), "***")
    return text[:DETAIL_MAX_LENGTH]


def _test_api(system: ExternalSystem, now: datetime) -> TestOutcome:
    config = _config(system)
    if not config["cuit"] or not system.secrets.get("secret"):
        return TestOutcome(False, _("Enter the CUIT and the secret first."))
    since = argentina_date(now - timedelta(days=1))
    # One attempt only: an admin waits for this answer.
    page = client_for(system, attempts=1).casos_page("crea", since)
    sample = [
        {
            "id": caso.id,
            "asunto": caso.asunto,
            "estado": caso.estado,
            "cliente_id": caso.cliente_id,
            "fecha_creacion": caso.fecha_creacion.isoformat() if caso.fecha_creacion else None,
        }
        for caso in page.casos[:SAMPLE_SIZE]
    ]
    found = len(page.casos)
    detail = ngettext(
        "Gestión Real answered: %(count)s case created since %(day)s.",
        "Gestión Real answered: %(count)s cases created since %(day)s.",
        found,
    ) % {"count": found if found < 100 else "100+", "day": since.strftime("%d-%m-%Y")}
    return TestOutcome(True, detail, sample)


def _test_csv(system: ExternalSystem) -> TestOutcome:
    folder = _config(system)["watched_folder"]
    if not folder:
        return TestOutcome(True, _("No watched folder: CSV files are uploaded by hand."))
    path = Path(folder)
    if not path.is_dir():
        return TestOutcome(
            False, _("The watched folder %(path)s does not exist.") % {"path": folder}
        )
    waiting = sum(1 for item in path.glob("*.csv") if item.is_file())
    return TestOutcome(
        True,
        ngettext(
            "The watched folder exists; %(count)s CSV file waits to be imported.",
            "The watched folder exists; %(count)s CSV files wait to be imported.",
            waiting,
        )
        % {"count": waiting},
    )


def _test_web(system: ExternalSystem) -> TestOutcome:
    url = _config(system)["login_url"]
    if not url:
        return TestOutcome(False, _("Enter the login page's URL first."))
    response = HttpClient(timeout=TEST_TIMEOUT).request("GET", url)
    if response.status_code >= 400:
        return TestOutcome(
            False,
            _("The login page answered HTTP %(status)s.") % {"status": response.status_code},
        )
    if "myusername" not in response.text:
        return TestOutcome(False, _("The page answered, but it has no login form (myusername)."))
    return TestOutcome(True, _("The login page answered with its login form."))


def do_test_gestionreal(actor: Any, *, now: datetime | None = None) -> TestOutcome:
    """Try the stored settings for the chosen mode; store and audit the outcome. Never
    raises for a failure of the other side."""
    system = gestionreal_system()
    now = now or timezone.now()
    mode = _config(system)["mode"]
    try:
        if mode == "api":
            outcome = _test_api(system, now)
        elif mode == "csv":
            outcome = _test_csv(system)
        else:
            outcome = _test_web(system)
    except GestionRealError as exc:
        outcome = TestOutcome(False, exc.message)
    except HttpError as exc:
        outcome = TestOutcome(False, _("No answer: %(reason)s") % {"reason": exc})
    except Exception as exc:  # a test must report, never fail the page (logged for us)
        logger.warning("gestionreal test failed: %s", _hide(repr(exc), system))
        outcome = TestOutcome(
            False, _("Unexpected failure: %(kind)s") % {"kind": type(exc).__name__}
        )
    outcome = TestOutcome(outcome.ok, _hide(outcome.detail, system), outcome.sample)
    with transaction.atomic():
        ExternalSystem.objects.filter(pk=system.pk).update(
            last_test_at=now, last_test_ok=outcome.ok, last_test_detail=outcome.detail
        )
        record_audit(
            actor,
            "integration.tested",
            system,
            after={"ok": outcome.ok, "detail": outcome.detail, "mode": mode},
        )
        send_event_on_commit(ADMIN_GROUPS, {"type": "integration:update", "kind": system.kind})
    return outcome
