"""Gestión Real's value formats, shared by the API client and the CSV parser.

Dates come as `DD-MM-YYYY HH:MM:SS` in Argentina's local time; free text may hold HTML
entities (`Se&ntilde;al`, `&#241;`); no public documentation fixes the field names, so every
lookup tries a list of candidate keys.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

ARGENTINA = ZoneInfo("America/Argentina/Buenos_Aires")

_DATE_FORMATS = ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")
_DAY_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d")
_SPACES = re.compile(r"[ \t\u00a0]+")


def argentina_date(now: datetime) -> date:
    """The calendar date in Argentina at the instant `now` (which must be aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ARGENTINA).date()


def request_date(day: date) -> str:
    """A date as the API's filters take it: `DD-MM-YYYY`."""
    return day.strftime("%d-%m-%Y")


def parse_datetime(value: Any) -> datetime | None:
    """`DD-MM-YYYY HH:MM:SS` (or a date alone) in Argentina time → an aware datetime.

    None for blanks and for the zero dates some exports write (`00-00-0000 00:00:00`);
    ValueError for text in no known format.
    """
    text = str(value or "").strip()
    if not text or text.startswith(("00-00-0000", "0000-00-00")):
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=ARGENTINA)
        except ValueError:
            continue
    for fmt in _DAY_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=ARGENTINA)
        except ValueError:
            continue
    raise ValueError(f"not a DD-MM-YYYY HH:MM:SS date: {text[:40]!r}")


def lenient_datetime(value: Any) -> datetime | None:
    """`parse_datetime`, with None instead of an error (API payloads: keep the case)."""
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def clean_text(value: Any) -> str:
    """Free text with HTML entities decoded (twice-encoded `&amp;ntilde;` too) and spaces
    collapsed; line breaks are kept."""
    text = "" if value is None else str(value)
    for _ in range(2):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def plain(value: Any) -> str:
    """An id or code as text: numbers lose a trailing `.0`, None becomes ""."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def fold(text: str) -> str:
    """Lower-case without accents, spaces collapsed, for comparing names typed by people:
    "Señal" matches "senal", "Técnico" matches "tecnico", "CERRADO" matches "Cerrado"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def pick(data: Mapping[str, Any], names: Sequence[str], default: Any = None) -> Any:
    """The value of the first of `names` present in `data` (and not None)."""
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return default
