"""Gestión Real's web export, run now: the browser downloads the cases CSV and the CSV
importer turns it into tickets (once each: a re-run finds them already there).

Settings come from the Gestión Real `ExternalSystem` row: `config["login_url"]`,
`config["username"]`, the write-only `secrets["password"]`, and optional overrides in
`config["web"]`: `cases_url`, `username_selector`, `password_selector`, `submit_selector`,
`login_error_selector`, `export_selector`, `timeout_seconds` (the site's part of a run,
default 60; Chromium's start has its own limit), `max_megabytes` (default 20).
`ISPDESK_CHROMIUM` names the browser binary.

`do_run_web_export` never raises for a failure of the site or the browser: it returns the
outcome in words, audits it and tells admin pages to refresh. The password is only typed
into the login form of the address it was saved for; it is never logged or shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ispdesk.integrations.gestionreal.csv import CsvFileError
from ispdesk.integrations.gestionreal.web_export import (
    DEFAULT_CHROMIUM,
    DEFAULT_TIMEOUT,
    MAX_BYTES,
    WebExportError,
    WebExportSettings,
    export_cases_csv,
)
from ispdesk.lib.env import Env
from ispdesk.pipeline.csv_import import Outcome, import_csv
from ispdesk.pipeline.gestionreal_settings import WEB_NUMBER_RANGES, gestionreal_system
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.realtime.events import send_event_on_commit
from ispdesk.system.audit import record_audit
from ispdesk.tickets.models import Source

logger = logging.getLogger("ispdesk.pipeline.web_export")

env = Env()
SELECTOR_KEYS = (
    "username_selector",
    "password_selector",
    "submit_selector",
    "login_error_selector",
    "export_selector",
)
# The same bounds the settings page enforces (defaults: `gestionreal_settings.DEFAULT_WEB`).
TIMEOUT_RANGE = WEB_NUMBER_RANGES["timeout_seconds"]  # seconds
MEGABYTES_RANGE = WEB_NUMBER_RANGES["max_megabytes"]
PROBLEMS_SHOWN = 20
ADMIN_GROUPS = ("role.admin",)
SETTINGS_CODE = "settings"


@dataclass(frozen=True)
class WebExportOutcome:
    """What a run did. `counts` are the CSV import's (create, exists, skipped, invalid);
    `problems` name each invalid row and why; `code` says why a failed run failed."""

    ok: bool
    detail: str
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    code: str = ""
    permanent: bool = False
    file_name: str = ""


def _number(raw: Mapping[str, Any], key: str, default: float, bounds: tuple[int, int]) -> float:
    value = raw.get(key)
    if value is None or value == "":
        return default
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise WebExportError(
            _("The web export setting %(key)s must be a number from %(low)s to %(high)s.")
            % {"key": f"web.{key}", "low": low, "high": high},
            permanent=True,
            code=SETTINGS_CODE,
        )
    return float(value)


def web_export_settings(system: ExternalSystem) -> WebExportSettings:
    """The adapter's settings from the stored row; `WebExportError` names a bad value."""
    config = system.config or {}
    raw = config.get("web") or {}
    if not isinstance(raw, Mapping):
        raw = {}
    overrides: dict[str, Any] = {}
    for key in ("cases_url", *SELECTOR_KEYS):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise WebExportError(
                _("The web export setting %(key)s must be text.") % {"key": f"web.{key}"},
                permanent=True,
                code=SETTINGS_CODE,
            )
        # A blank submit selector means "press Enter"; a blank other one, the default.
        if value.strip() or key == "submit_selector":
            overrides[key] = value.strip()
    megabytes = _number(raw, "max_megabytes", MAX_BYTES / 2**20, MEGABYTES_RANGE)
    return WebExportSettings(
        login_url=str(config.get("login_url") or ""),
        username=str(config.get("username") or ""),
        password=str((system.secrets or {}).get("password") or ""),
        timeout=_number(raw, "timeout_seconds", DEFAULT_TIMEOUT, TIMEOUT_RANGE),
        max_bytes=int(megabytes * 2**20),
        chromium=env.str("ISPDESK_CHROMIUM", DEFAULT_CHROMIUM),
        **overrides,
    )


def _export(system: ExternalSystem) -> tuple[bytes, str] | WebExportOutcome:
    """The downloaded file, or the failed outcome."""
    try:
        settings = web_export_settings(system)
        exported = export_cases_csv(settings)
    except WebExportError as exc:
        return WebExportOutcome(
            False,
            _("Web export failed: %(reason)s") % {"reason": exc.message},
            code=exc.code,
            permanent=exc.permanent,
        )
    except Exception as exc:  # report, never break the page or the job (logged for us)
        logger.warning("gestionreal web export failed unexpectedly: %s", type(exc).__name__)
        return WebExportOutcome(
            False,
            _("Web export failed unexpectedly: %(kind)s") % {"kind": type(exc).__name__},
            code="unexpected",
        )
    return exported.data, exported.file_name


def _import(actor: Any, data: bytes, file_name: str) -> WebExportOutcome:
    try:
        plan = import_csv(actor, data, source=Source.CSV, file_name=file_name)
    except CsvFileError as exc:
        return WebExportOutcome(
            False,
            _("The downloaded file is not a cases export: %(reason)s") % {"reason": exc.message},
            code="not_a_cases_export",
            permanent=True,
            file_name=file_name,
        )
    problems = [
        _("Row %(row)s (%(number)s): %(reason)s")
        % {"row": row.row, "number": row.number or "—", "reason": row.reason}
        for row in plan.rows
        if row.outcome == Outcome.INVALID
    ]
    detail = _(
        "Web export done (%(file)s, %(size)s). Tickets created: %(create)s; already there: "
        "%(exists)s; filtered out: %(skipped)s; invalid rows: %(invalid)s."
    ) % {"file": file_name, "size": filesizeformat(len(data)), **plan.counts}
    # The tickets of cases already here that the export closed or reopened count too.
    counts = {**plan.counts, "closed": plan.closed, "reopened": plan.reopened}
    return WebExportOutcome(True, detail, counts, problems, file_name=file_name)


def do_run_web_export(actor: Any) -> WebExportOutcome:
    """Download the cases CSV through Gestión Real's web UI now and import it; audit the
    outcome. The browser runs outside any transaction: it may take up to the timeout."""
    system = gestionreal_system()
    exported = _export(system)
    if isinstance(exported, WebExportOutcome):
        outcome = exported
        logger.warning("gestionreal web export: %s", outcome.detail)
    else:
        outcome = _import(actor, *exported)
    record_audit(
        actor,
        "gestionreal.web_export",
        system,
        after={
            "ok": outcome.ok,
            "detail": outcome.detail[:500],
            "code": outcome.code,
            "counts": outcome.counts,
            "file_name": outcome.file_name,
        },
    )
    send_event_on_commit(ADMIN_GROUPS, {"type": "integration:update", "kind": system.kind})
    return outcome
