"""Typed records of what Splynx answers, parsed tolerantly from its string-typed fields.

Splynx sends every value as a string (`"closed": "1"`, `"assign_to": "0"`), zero dates as
`"0000-00-00 00:00:00"`, and adds fields between versions: unknown fields are ignored, a
value that does not parse becomes the field's empty value instead of an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_INT = re.compile(r"^\s*[-+]?\d+")


def to_int(value: Any) -> int | None:
    """`"12"`, `12`, `"12.0"`, `" 12 "` → 12; empty or junk → None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and (match := _INT.match(value)):
        return int(match.group(0))
    return None


def to_id(value: Any) -> int | None:
    """An id where Splynx writes 0 (or nothing) for "none"."""
    number = to_int(value)
    return number if number else None


def to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def to_str(value: Any) -> str:
    return "" if value is None else str(value)


def to_datetime(value: Any) -> datetime | None:
    """Splynx server local time, naive (the caller knows the server's time zone); the zero
    date and empty strings are None."""
    text = to_str(value).strip()
    if not text or text.startswith("0000-00-00"):
        return None
    for layout in DATETIME_FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Ticket:
    id: int
    customer_id: int | None
    subject: str
    priority: str
    status_id: int | None
    group_id: int | None
    type_id: int | None
    assign_to: int | None
    closed: bool
    trash: bool
    unread_by_admin: bool
    unread_by_customer: bool
    reporter_type: str
    reporter_id: int | None
    note: str
    source: str
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Ticket:
        return cls(
            id=to_int(data.get("id")) or 0,
            customer_id=to_id(data.get("customer_id")),
            subject=to_str(data.get("subject")),
            priority=to_str(data.get("priority")),
            status_id=to_id(data.get("status_id")),
            group_id=to_id(data.get("group_id")),
            type_id=to_id(data.get("type_id")),
            assign_to=to_id(data.get("assign_to")),
            closed=to_bool(data.get("closed")),
            trash=to_bool(data.get("trash")),
            unread_by_admin=to_bool(data.get("unread_by_admin")),
            unread_by_customer=to_bool(data.get("unread_by_customer")),
            reporter_type=to_str(data.get("reporter_type")),
            reporter_id=to_id(data.get("reporter_id")),
            note=to_str(data.get("note")),
            source=to_str(data.get("source")),
            created_at=to_datetime(data.get("created_at")),
            updated_at=to_datetime(data.get("updated_at")),
        )


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int | None
    message: str  # HTML
    message_type: str  # message | note
    admin_id: int | None
    customer_id: int | None
    created_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TicketMessage:
        # Author and date field names are unconfirmed: accept the likely spellings.
        created = data.get("created_at") or data.get("date") or data.get("datetime")
        return cls(
            id=to_int(data.get("id")) or 0,
            ticket_id=to_id(data.get("ticket_id")),
            message=to_str(data.get("message")),
            message_type=to_str(data.get("message_type")) or "message",
            admin_id=to_id(data.get("admin_id")),
            customer_id=to_id(data.get("customer_id")),
            created_at=to_datetime(created),
        )


@dataclass(frozen=True)
class CatalogEntry:
    """A ticket status, group or type: an id and the title shown to agents."""

    id: int
    title: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CatalogEntry:
        title = data.get("title_for_agent") or data.get("title") or data.get("name")
        return cls(id=to_int(data.get("id")) or 0, title=to_str(title))


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    login: str
    status: str  # new | active | blocked | disabled
    phone: str  # free text, may hold several numbers
    email: str
    street_1: str
    city: str
    location_id: int | None
    partner_id: int | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Customer:
        return cls(
            id=to_int(data.get("id")) or 0,
            name=to_str(data.get("name")),
            login=to_str(data.get("login")),
            status=to_str(data.get("status")),
            phone=to_str(data.get("phone")),
            email=to_str(data.get("email")),
            street_1=to_str(data.get("street_1")),
            city=to_str(data.get("city")),
            location_id=to_id(data.get("location_id")),
            partner_id=to_id(data.get("partner_id")),
        )


@dataclass(frozen=True)
class Administrator:
    id: int
    name: str
    login: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Administrator:
        return cls(
            id=to_int(data.get("id")) or 0,
            name=to_str(data.get("name")),
            login=to_str(data.get("login")),
        )


# Phones ---------------------------------------------------------------------------------------

# What separates several numbers in one free-text phone field ("11 2345-6789 / 3514 55-1234").
_PHONE_SPLIT = re.compile(r"[,;/|\n]|\by\b|\bo\b", re.IGNORECASE)


def phone_key(raw: str) -> str:
    """The last 10 digits of an Argentine number, with the `15` of the old mobile prefix
    dropped and `549`/`54`/trunk `0` ignored: the key two spellings of one number share."""
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("549") and len(digits) == 13:
        digits = digits[3:]
    elif digits.startswith("54") and len(digits) == 12:
        digits = digits[2:]
    digits = digits.lstrip("0")
    if len(digits) == 12:
        # Area code (2 to 4 digits) + 15 + subscriber: drop the 15 wherever it stands.
        for area_length in (2, 3, 4):
            if digits[area_length : area_length + 2] == "15":
                return digits[:area_length] + digits[area_length + 2 :]
    return digits[-10:]


def phones_in(text: str) -> list[str]:
    """The numbers in a free-text phone field, as `phone_key`s (short ones dropped)."""
    keys = [phone_key(part) for part in _PHONE_SPLIT.split(text)]
    return [key for key in keys if len(key) >= 8]


def same_phone(wanted: str, field: str) -> bool:
    """Whether a customer's free-text phone field holds `wanted` (any spelling)."""
    key = phone_key(wanted)
    if len(key) < 8:
        return False
    return any(
        candidate == key or (len(candidate) < 10 and key.endswith(candidate))
        for candidate in phones_in(field)
    )
