"""Typed bodies and answers of the contacts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from ispdesk.accounts.schemas import Text

MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class AreaRef(Schema):
    id: int
    name: str


class ContactOut(Schema):
    id: int
    name: str
    phone: str | None  # E.164
    phone_display: str  # "+54 9 11 2233-4455", or "" without a phone
    wa_jid: str
    lid: str | None
    dni: str
    preferred_area: AreaRef | None
    splynx_customer_id: int | None
    tags: list[str]
    notes: str
    created_at: datetime
    updated_at: datetime


class ContactPageOut(Schema):
    count: int
    results: list[ContactOut]


class ContactFilters(Schema):
    search: Text = Field("", max_length=200)
    area: Id | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_ID)


class ContactIn(Schema):
    name: Text = Field(min_length=1, max_length=200)
    phone: Text | None = Field(None, max_length=40)
    dni: Text = Field("", max_length=20)
    preferred_area: Id | None = None
    splynx_customer_id: Id | None = None
    tags: list[Text] = Field([], max_length=100)
    notes: Text = Field("", max_length=5000)


class ContactPatchIn(Schema):
    """Only the fields sent change; null clears phone, DNI, area, Splynx id and notes."""

    name: Text | None = Field(None, min_length=1, max_length=200)
    phone: Text | None = Field(None, max_length=40)
    dni: Text | None = Field(None, max_length=20)
    preferred_area: Id | None = None
    splynx_customer_id: Id | None = None
    tags: list[Text] | None = Field(None, max_length=100)
    notes: Text | None = Field(None, max_length=5000)


class ImportQuery(Schema):
    dry_run: bool = False


class ImportErrorOut(Schema):
    row: int
    reason: str


class ImportRowOut(Schema):
    row: int
    outcome: Literal["create", "update", "unchanged", "invalid"]
    name: str
    phone: str
    dni: str
    area: str
    contact_id: int | None
    changes: list[str]
    reason: str


class ImportOut(Schema):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    invalid: int
    errors: list[ImportErrorOut]
    rows: list[ImportRowOut]
