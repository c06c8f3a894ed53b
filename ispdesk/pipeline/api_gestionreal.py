"""Gestión Real settings API (admins): `GET`/`PUT` the settings, `POST /test` to try them.

Credentials (`secret`, `password`) are write-only: answers say `has_secret` / `has_password`.
The close sync's knobs and the web export page (`web`) come with their defaults filled in;
a change names only what it changes (a `web` key set to null takes its default back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.accounts.schemas import Text
from ispdesk.api_errors import ApiError
from ispdesk.pipeline.gestionreal_settings import (
    CLOSE_SYNC_BATCH_RANGE,
    FILTER_MAX_ITEMS,
    REOPEN_WINDOW_RANGE,
    WEB_NUMBER_RANGES,
    WEB_TEXT_MAX_LENGTH,
    SettingsError,
    do_save_gestionreal,
    do_test_gestionreal,
    gestionreal_system,
    public_settings,
)
from ispdesk.pipeline.models import ExternalSystem

router = Router(tags=["integrations"])


def _between(what: str, bounds: tuple[int, int]) -> str:
    return f"{what}: {bounds[0]} to {bounds[1]}."


class FiltersSchema(Schema):
    keywords: list[str] = []
    groups: list[str] = []
    states: list[str] = []
    exclude_states: list[str] = []


class WebOut(Schema):
    """The web export page; `cases_url` empty: `index.php?menuitem=10` next to the login
    page; `submit_selector` empty: press Enter; `login_error_selector` empty: none."""

    cases_url: str
    username_selector: str
    password_selector: str
    submit_selector: str
    login_error_selector: str
    export_selector: str
    timeout_seconds: int | float
    max_megabytes: int | float


class WebIn(BaseModel):
    """Keys left out keep their value, null takes the default back; unknown keys are refused
    (by the settings, which name them). A pydantic model, not a Ninja `Schema`: a Schema
    reads attributes of any object and drops unknown keys, so neither could be refused."""

    model_config = ConfigDict(extra="allow")

    cases_url: Text | None = Field(None, max_length=WEB_TEXT_MAX_LENGTH)
    username_selector: Text | None = Field(None, max_length=WEB_TEXT_MAX_LENGTH)
    password_selector: Text | None = Field(None, max_length=WEB_TEXT_MAX_LENGTH)
    submit_selector: Text | None = Field(None, max_length=WEB_TEXT_MAX_LENGTH)
    login_error_selector: Text | None = Field(None, max_length=WEB_TEXT_MAX_LENGTH)
    export_selector: Text | None = Field(None, max_length=WEB_TEXT_MAX_LENGTH)
    timeout_seconds: StrictInt | None = Field(
        None,
        description=_between(
            "Seconds for the site's part of a run", WEB_NUMBER_RANGES["timeout_seconds"]
        ),
    )
    max_megabytes: StrictInt | None = Field(
        None, description=_between("Largest file", WEB_NUMBER_RANGES["max_megabytes"])
    )


class LastTestOut(Schema):
    at: datetime | None
    ok: bool | None
    detail: str


class GestionRealOut(Schema):
    enabled: bool
    mode: str
    base_url: str
    cuit: str
    has_secret: bool
    login_url: str
    username: str
    has_password: bool
    watched_folder: str
    filters: FiltersSchema
    closed_states: list[str]
    reopen_window_hours: int
    close_sync_batch: int
    web: WebOut
    last_test: LastTestOut


class GestionRealIn(Schema):
    """Keys left out keep their value; a blank or null `secret`/`password` keeps the stored one;
    null `closed_states`, `reopen_window_hours`, `close_sync_batch` or `web` sets the defaults."""

    enabled: bool | None = None
    mode: Text | None = Field(None, max_length=8)
    base_url: Text | None = Field(None, max_length=200)
    cuit: Text | None = Field(None, max_length=20)
    secret: Text | None = Field(None, max_length=500)
    login_url: Text | None = Field(None, max_length=300)
    username: Text | None = Field(None, max_length=150)
    password: Text | None = Field(None, max_length=500)
    watched_folder: Text | None = Field(None, max_length=500)
    filters: dict[str, list[Text]] | None = None
    closed_states: list[Text] | None = Field(
        None, description=f"Case states that mean closed: 1 to {FILTER_MAX_ITEMS}."
    )
    reopen_window_hours: StrictInt | None = Field(
        None, description=_between("Hours; 0 never reopens", REOPEN_WINDOW_RANGE)
    )
    close_sync_batch: StrictInt | None = Field(
        None, description=_between("Cases read per close sync run", CLOSE_SYNC_BATCH_RANGE)
    )
    web: WebIn | None = None


class CaseSampleOut(Schema):
    id: str
    asunto: str
    estado: str
    cliente_id: str
    fecha_creacion: str | None


class TestOut(Schema):
    ok: bool
    detail: str
    sample: list[CaseSampleOut]


def _out(system: ExternalSystem) -> dict[str, Any]:
    return {
        **public_settings(system),
        "last_test": {
            "at": system.last_test_at,
            "ok": system.last_test_ok,
            "detail": system.last_test_detail,
        },
    }


@router.get("", response=GestionRealOut)
def get_settings(request: ApiRequest) -> dict[str, Any]:
    api_require_admin(request.auth)
    return _out(gestionreal_system())


@router.put("", response=GestionRealOut)
def put_settings(request: ApiRequest, payload: GestionRealIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("enabled", False) is None:
        del changes["enabled"]
    try:
        system = do_save_gestionreal(request.auth, changes)
    except SettingsError as exc:
        raise ApiError(422, exc.code, exc.message, exc.fields) from None
    return _out(system)


@router.post("/test", response=TestOut)
def test_settings(request: ApiRequest) -> dict[str, Any]:
    """Try the stored settings: in API mode, one page of the last day's cases (up to 3 shown)."""
    api_require_admin(request.auth)
    outcome = do_test_gestionreal(request.auth)
    return {"ok": outcome.ok, "detail": outcome.detail, "sample": outcome.sample}
