"""Gestión Real settings API (admins): `GET`/`PUT` the settings, `POST /test` to try them.

Credentials (`secret`, `password`) are write-only: answers say `has_secret` / `has_password`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema
from pydantic import Field

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.accounts.schemas import Text
from ispdesk.api_errors import ApiError
from ispdesk.pipeline.gestionreal_settings import (
    SettingsError,
    do_save_gestionreal,
    do_test_gestionreal,
    gestionreal_system,
    public_settings,
)
from ispdesk.pipeline.models import ExternalSystem

router = Router(tags=["integrations"])


class FiltersSchema(Schema):
    keywords: list[str] = []
    groups: list[str] = []
    states: list[str] = []
    exclude_states: list[str] = []


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
    last_test: LastTestOut


class GestionRealIn(Schema):
    """Keys left out keep their value; a blank or null `secret`/`password` keeps the stored one."""

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
