"""Reading a contacts file (pure; no ORM): CSV or JSON in, one checked row per data row out.

CSV: a header row naming the columns `name,phone,dni,area` (or the Spanish `nombre,
teléfono,dni,área`; case, accents and spaces do not matter; other columns are ignored),
separated by `,` or `;` (spreadsheets in Spanish locales save with `;`), in UTF-8 with or
without a BOM, or Latin-1 (what older Excel versions save). Row numbers are the ones the
spreadsheet shows: the header is row 1, the first contact row 2.

JSON: a list of objects with the same keys; row N is the Nth object.

Empty DNI and area cells mean "no value here": an import never blanks what is stored.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.utils.translation import gettext as _

from ispdesk.lib.dni import DniError, normalize_dni
from ispdesk.lib.phones import PhoneError, normalize_phone

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_NAME_LENGTH = 200  # Contact.name
FIRST_CSV_DATA_ROW = 2  # the header is row 1
Format = Literal["csv", "json"]

# Column names, compared after `_key` (lower case, no accents, no spaces or '_').
COLUMNS: dict[str, str] = {
    "name": "name",
    "nombre": "name",
    "phone": "phone",
    "telefono": "phone",
    "dni": "dni",
    "area": "area",
}
REQUIRED_COLUMNS = ("name", "phone")


class ImportFileError(ValueError):
    """The file as a whole cannot be read; `message` says why, for a person."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class RawRow:
    """One data row as written in the file (missing cells are empty strings)."""

    row: int
    name: str
    phone: str
    dni: str
    area: str


@dataclass(frozen=True)
class ImportRow:
    """One data row after checking. `phone` is E.164, `dni` digits and `area` the area's
    stored name when the row is valid; when not, `reason` says why and the values are
    as written."""

    row: int
    name: str
    phone: str
    dni: str
    area: str
    reason: str = ""

    @property
    def valid(self) -> bool:
        return not self.reason


def _key(text: str) -> str:
    """Compare names ignoring case, accents and spacing: "Teléfono " == "telefono"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return "".join(bare.replace("_", " ").split())


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else Latin-1, which decodes any byte string."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def detect_format(text: str, hint: str = "") -> Format:
    """JSON when the content type or file name says so, or when the text starts like a JSON
    list (no CSV header starts with "["; file names are often wrong); CSV otherwise."""
    if "json" in hint.lower() or text.lstrip().startswith("["):
        return "json"
    return "csv"


# CSV


def _delimiter(header_line: str) -> str:
    # Only the header is trustworthy for sniffing: names and addresses hold commas.
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _columns(header: Sequence[str]) -> dict[str, int]:
    """Which position holds each known column; ImportFileError when the header is unusable."""
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        column = COLUMNS.get(_key(title))
        if column is None:
            continue
        if column in positions:
            raise ImportFileError(
                _("The column “%(column)s” appears twice in the header.") % {"column": title}
            )
        positions[column] = index
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise ImportFileError(
            _(
                "The first row must name the columns; missing: %(columns)s. "
                "Expected: name, phone, dni, area (or nombre, teléfono, dni, área)."
            )
            % {"columns": ", ".join(missing)}
        )
    return positions


def read_csv(text: str) -> list[RawRow]:
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ImportFileError(_("The file is empty."))
        positions = _columns(header)
        rows = []
        for row_number, cells in enumerate(reader, start=FIRST_CSV_DATA_ROW):
            if not any(cell.strip() for cell in cells):
                continue  # an empty spreadsheet row; still counted so the numbers match

            def cell(column: str, cells: list[str] = cells) -> str:
                index = positions.get(column)
                return cells[index].strip() if index is not None and index < len(cells) else ""

            rows.append(RawRow(row_number, cell("name"), cell("phone"), cell("dni"), cell("area")))
    except csv.Error as exc:
        raise ImportFileError(
            _("The file is not valid CSV near row %(row)s: %(error)s")
            % {"row": reader.line_num, "error": exc}
        ) from None
    return rows


# JSON


def _json_text(value: Any) -> str | None:
    """A cell's text: strings as given, whole numbers as digits; None for anything else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return None


def read_json(text: str) -> tuple[list[RawRow], list[ImportRow]]:
    """The readable rows, and the rows refused already for their shape."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImportFileError(_("The file is not valid JSON: %(error)s") % {"error": exc}) from None
    except RecursionError:
        raise ImportFileError(_("The file nests too deeply to be a list of contacts.")) from None
    if not isinstance(data, list):
        raise ImportFileError(_("A JSON import is a list of objects, one per contact."))
    rows: list[RawRow] = []
    refused: list[ImportRow] = []
    for row_number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            refused.append(ImportRow(row_number, "", "", "", "", _("not an object")))
            continue
        values: dict[str, str] = {}
        bad: list[str] = []
        for name, value in item.items():
            column = COLUMNS.get(_key(str(name)))
            if column is None:
                continue
            text_value = _json_text(value)
            if text_value is None:
                bad.append(str(name))
            else:
                values[column] = text_value
        raw = RawRow(
            row_number,
            values.get("name", ""),
            values.get("phone", ""),
            values.get("dni", ""),
            values.get("area", ""),
        )
        if bad:
            reason = _("not text: %(fields)s") % {"fields": ", ".join(bad)}
            refused.append(ImportRow(raw.row, raw.name, raw.phone, raw.dni, raw.area, reason))
        else:
            rows.append(raw)
    return rows, refused


# Checking rows


def _area_lookup(area_names: Iterable[str]) -> dict[str, str]:
    return {_key(name): name for name in area_names}


def _check(raw: RawRow, areas: Mapping[str, str]) -> ImportRow:
    """The row with its values normalised, or the first reason it cannot be imported."""

    def refused(reason: str) -> ImportRow:
        return ImportRow(raw.row, raw.name, raw.phone, raw.dni, raw.area, reason)

    if any("\x00" in value for value in (raw.name, raw.phone, raw.dni, raw.area)):
        return refused(_("contains a NUL character"))
    name = " ".join(raw.name.split())
    if not name:
        return refused(_("the name is missing"))
    if len(name) > MAX_NAME_LENGTH:
        return refused(_("the name is longer than %(max)s characters") % {"max": MAX_NAME_LENGTH})
    if not raw.phone:
        return refused(_("the phone is missing"))
    try:
        phone = normalize_phone(raw.phone, mobile=True)
    except PhoneError as exc:
        return refused(_("invalid phone: %(reason)s") % {"reason": exc.reason})
    dni = ""
    if raw.dni:
        try:
            dni = normalize_dni(raw.dni)
        except DniError as exc:
            return refused(_("invalid DNI: %(reason)s") % {"reason": exc.reason})
    area = ""
    if raw.area:
        found = areas.get(_key(raw.area))
        if found is None:
            return refused(_("unknown area “%(area)s”") % {"area": raw.area})
        area = found
    return ImportRow(raw.row, name, phone, dni, area)


def check_rows(raw_rows: Iterable[RawRow], area_names: Iterable[str]) -> list[ImportRow]:
    """Check every row; a phone already seen in a valid row makes the later row invalid."""
    areas = _area_lookup(area_names)
    seen: dict[str, int] = {}
    checked = []
    for raw in raw_rows:
        row = _check(raw, areas)
        if row.valid:
            if row.phone in seen:
                reason = _("same phone as row %(row)s") % {"row": seen[row.phone]}
                row = ImportRow(row.row, row.name, row.phone, row.dni, row.area, reason)
            else:
                seen[row.phone] = row.row
        checked.append(row)
    return checked


def parse_import(data: bytes, area_names: Iterable[str], hint: str = "") -> list[ImportRow]:
    """Read an uploaded file into checked rows, in file order.

    `hint` is the content type or file name, if any. Raises ImportFileError when the file as
    a whole cannot be used (too large, not CSV/JSON, no header, no rows).
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(
            _("The file is larger than %(size)s MB.") % {"size": MAX_IMPORT_BYTES // 2**20}
        )
    text = decode(data)
    if not text.strip():
        raise ImportFileError(_("The file is empty."))
    if detect_format(text, hint) == "json":
        readable, refused = read_json(text)
    else:
        readable, refused = read_csv(text), []
    checked = check_rows(readable, area_names)
    rows = sorted([*checked, *refused], key=lambda row: row.row)
    if not rows:
        raise ImportFileError(_("The file has no contacts."))
    return rows
