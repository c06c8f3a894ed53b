"""Splynx settings API (admins): the connection, its test, the live catalog for the mapping
pickers, and operators ↔ Splynx administrators. Credentials are write-only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

import pydantic
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict

from ispdesk.accounts.auth import ApiRequest
from ispdesk.accounts.permissions import api_require_admin
from ispdesk.api_errors import ApiError, parse_json_body
from ispdesk.lib.numbers import ascii_int
from ispdesk.pipeline.splynx_settings import (
    SplynxSettingsError,
    do_map_operators,
    do_save_splynx_settings,
    do_test_splynx,
    fetch_catalog,
    settings_out,
    splynx_system,
)

router = Router(tags=["integrations"])

STATUS_BY_CODE = {
    "not_found": 404,
    "person_id_taken": 409,
    "not_configured": 409,
    "splynx_unavailable": 502,
}


@contextmanager
def settings_errors() -> Iterator[None]:
    try:
        yield
    except SplynxSettingsError as exc:
        status = STATUS_BY_CODE.get(exc.code, 422)
        raise ApiError(status, exc.code, exc.message, exc.fields or None) from None


class MappingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    statuses: dict[str, int | None] | None = None
    default_group_id: int | None = None
    default_type_id: int | None = None
    resolved_status_id: int | None = None
    new_status_id: int | None = None


class SplynxSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    base_url: str | None = None
    auth_type: Literal["admin", "api_key", "basic"] | None = None
    login: str | None = None
    # Write-only; left out (or blank) keeps the stored value.
    password: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    mappings: MappingsIn | None = None
    # Checked by `clean_settings` (stable codes and our words, as for the mappings).
    # An IANA zone; "" for the project's own.
    time_zone: str | None = None
    # `login` (the Gestión Real client number is the Splynx login) or `none`.
    customer_match: str | None = None
    # The Splynx customer attribute holding the DNI; "" leaves DNI matching off.
    dni_attribute: str | None = None


class MappingsOut(Schema):
    statuses: dict[str, int]
    default_group_id: int | None
    default_type_id: int | None
    resolved_status_id: int | None
    new_status_id: int | None


class LastTestOut(Schema):
    at: datetime | None
    ok: bool | None
    detail: str


class SplynxSettingsOut(Schema):
    enabled: bool
    base_url: str
    auth_type: str
    login: str
    has_password: bool
    has_api_key: bool
    has_api_secret: bool
    mappings: MappingsOut
    time_zone: str
    customer_match: str
    dni_attribute: str
    last_test: LastTestOut


class AdministratorOut(Schema):
    id: int
    name: str
    login: str


class TestOut(Schema):
    ok: bool
    detail: str
    administrators: list[AdministratorOut]


class CatalogEntryOut(Schema):
    id: int
    title: str


class CatalogOut(Schema):
    statuses: list[CatalogEntryOut]
    groups: list[CatalogEntryOut]
    types: list[CatalogEntryOut]
    administrators: list[AdministratorOut]


class OperatorLinkOut(Schema):
    operator_id: int
    name: str
    person_id: int | None


def _submitted(payload: SplynxSettingsIn) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    if "mappings" in data and data["mappings"] is not None:
        data["mappings"] = payload.mappings.dict(exclude_unset=True) if payload.mappings else {}
    # null means "leave as is" for every key.
    return {key: value for key, value in data.items() if value is not None}


@router.get("", response=SplynxSettingsOut)
def get_settings(request: ApiRequest) -> dict[str, Any]:
    api_require_admin(request.auth)
    return settings_out(splynx_system())


@router.put("", response=SplynxSettingsOut)
def put_settings(request: ApiRequest, payload: SplynxSettingsIn) -> dict[str, Any]:
    api_require_admin(request.auth)
    with settings_errors():
        system = do_save_splynx_settings(request.auth, _submitted(payload))
    return settings_out(system)


def _optional_settings(request: ApiRequest) -> dict[str, Any] | None:
    """The body of a test: settings to try (as for PUT), or nothing to try the stored ones."""
    # A bare POST (a button, curl -X POST) may send an empty form: that means "stored".
    if not request.body.strip() or request.content_type != "application/json":
        return None
    data = parse_json_body(request)
    if data is None:
        return None
    try:
        payload = SplynxSettingsIn.model_validate(data)
    except pydantic.ValidationError as exc:
        # Only the names and pydantic's reason, never the input (it may be a secret).
        fields = {
            ".".join(str(part) for part in error["loc"]) or "body": error["msg"]
            for error in exc.errors()
        }
        message = _("Invalid value for: %(fields)s") % {"fields": ", ".join(fields)}
        raise ApiError(422, "validation_error", message, fields) from None
    return _submitted(payload) or None


@router.post("/test", response=TestOut)
def test_connection(request: ApiRequest) -> dict:
    """Try the stored settings, or the settings in the body (same keys as PUT, not saved)."""
    api_require_admin(request.auth)
    submitted = _optional_settings(request)
    with settings_errors():
        outcome = do_test_splynx(request.auth, submitted)
    return {"ok": outcome.ok, "detail": outcome.detail, "administrators": outcome.administrators}


@router.get("/catalog", response=CatalogOut)
def catalog(request: ApiRequest) -> dict[str, Any]:
    api_require_admin(request.auth)
    with settings_errors():
        return fetch_catalog()


@router.put("/operators", response=list[OperatorLinkOut])
def map_operators(request: ApiRequest) -> list[dict[str, Any]]:
    """Body `{operator_id: splynx_admin_id | null}`; answers every operator's link."""
    api_require_admin(request.auth)
    data = parse_json_body(request)
    if not isinstance(data, dict):
        message = _("An object of operator id to Splynx administrator id is required.")
        raise ApiError(422, "validation_error", message, {"body": message})
    mapping: dict[int, int | None] = {}
    for key, value in data.items():
        operator_id = ascii_int(key)
        valid_value = value is None or (type(value) is int)
        if operator_id is None or not valid_value:
            message = _("Operator ids map to Splynx administrator ids (numbers) or null.")
            raise ApiError(422, "validation_error", message, {key[:40]: _("invalid value")})
        mapping[operator_id] = value
    with settings_errors():
        operators = do_map_operators(request.auth, mapping)
    return [
        {"operator_id": op.pk, "name": op.user.display_name, "person_id": op.person_id}
        for op in sorted(operators, key=lambda op: op.pk)
    ]
