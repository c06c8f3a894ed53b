"""The cases CSV that Gestión Real's web UI exports: `;`-separated, Latin-1.

Columns are read by position, because two of them are both named `Estado` (the customer's
state, then the case's). Dates are `DD-MM-YYYY HH:MM:SS` in Argentina time and free text
may hold HTML entities. A bad row is reported with its number (the header is row 1) and the
reason; the good rows are still returned.
"""

from __future__ import annotations

import csv
import html.entities
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ispdesk.integrations.gestionreal.mapping import clean_text, parse_datetime

HEADER = (
    "Numero",
    "Cliente",
    "Nombre",
    "Estado",
    "Contrato",
    "Domicilio prestacion",
    "Asunto",
    "Estado",
    "Via",
    "Prioridad",
    "Asignado",
    "Fecha Creacion",
    "Usuario Creacion",
    "Fecha ultima modificacion",
    "Usuario ultima modificacion",
    "Ultimo Contacto",
    "Cant. dias",
    "Localidad",
    "Barrio",
    "Telefono",
)
COLUMNS = len(HEADER)
(
    NUMERO,
    CLIENTE,
    NOMBRE,
    ESTADO_CLIENTE,
    CONTRATO,
    DOMICILIO,
    ASUNTO,
    ESTADO_CASO,
    VIA,
    PRIORIDAD,
    ASIGNADO,
    FECHA_CREACION,
    USUARIO_CREACION,
    FECHA_MODIFICACION,
    USUARIO_MODIFICACION,
    ULTIMO_CONTACTO,
    DIAS,
    LOCALIDAD,
    BARRIO,
    TELEFONO,
) = range(COLUMNS)
UTF8_BOM = b"\xef\xbb\xbf"
# An HTML entity ends in ";", the export's separator, and the export does not quote the cells
# that hold one: hide those semicolons from the CSV reader and put them back in each cell.
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HIDDEN_SEMICOLON = "\ue000"


def _protect_entities(text: str) -> str:
    def hide(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("#") or f"{name};" in html.entities.html5:
            return f"&{name}{_HIDDEN_SEMICOLON}"
        return match.group(0)

    return _ENTITY.sub(hide, text.replace(_HIDDEN_SEMICOLON, ""))


class CsvFileError(ValueError):
    """The whole file is unusable (not this export, empty); `message` says why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class CsvCase:
    row: int
    numero: str
    cliente_id: str
    nombre: str
    estado_cliente: str
    contrato: str
    domicilio: str
    asunto: str
    estado: str  # the case's state (the second `Estado` column)
    via: str
    prioridad: str
    asignado: str
    fecha_creacion: datetime | None
    usuario_creacion: str
    fecha_modificacion: datetime | None
    usuario_modificacion: str
    ultimo_contacto: str
    dias: int | None
    localidad: str
    barrio: str
    telefono: str


@dataclass(frozen=True)
class CsvProblem:
    row: int
    reason: str
    numero: str = ""


@dataclass(frozen=True)
class CsvParse:
    cases: tuple[CsvCase, ...]
    problems: tuple[CsvProblem, ...]
    encoding: str


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding used: UTF-8 when the bytes start with its BOM, else the
    export's Latin-1 (read as Windows-1252, its superset for printable characters: the
    export comes from Windows and may hold “curly quotes”)."""
    if data.startswith(UTF8_BOM):
        try:
            return data[len(UTF8_BOM) :].decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            raise CsvFileError(_("The file says it is UTF-8 but is not.")) from None
    try:
        return data.decode("cp1252"), "latin-1"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _folded(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.strip().strip('"').casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch) and ch.isalnum())


def _check_header(header: list[str]) -> None:
    cells = list(header)
    while cells and not cells[-1].strip():
        cells.pop()  # a trailing `;` adds an empty column
    expected = [_folded(name) for name in HEADER]
    got = [_folded(name) for name in cells]
    if got[:COLUMNS] == expected:
        return
    if len(cells) < 2:
        raise CsvFileError(
            _("The first line is not a header separated by semicolons (;). Export the cases again.")
        )
    for index, name in enumerate(expected):
        if index >= len(got) or got[index] != name:
            found = cells[index].strip() if index < len(cells) else ""
            raise CsvFileError(
                _(
                    "This is not Gestión Real's cases export: column %(number)s should be "
                    "%(expected)s, it is %(found)s."
                )
                % {
                    "number": index + 1,
                    "expected": HEADER[index],
                    "found": found or _("missing"),
                }
            )


def _date(cells: list[str], index: int, required: bool) -> datetime | None:
    value = parse_datetime(cells[index])  # ValueError names the text
    if value is None and required:
        raise ValueError(_("%(column)s is empty") % {"column": HEADER[index]})
    return value


def _row(number: int, cells: list[str]) -> CsvCase:
    numero = cells[NUMERO].strip()
    if not numero:
        raise ValueError(_("the case number (Numero) is empty"))
    if not numero.isdigit():
        raise ValueError(_("the case number %(value)s is not a number") % {"value": numero[:20]})
    try:
        created = _date(cells, FECHA_CREACION, required=True)
    except ValueError:
        raise ValueError(
            _("%(column)s %(value)s is not a DD-MM-YYYY HH:MM:SS date")
            % {"column": HEADER[FECHA_CREACION], "value": cells[FECHA_CREACION].strip()[:30]}
        ) from None
    try:
        modified = _date(cells, FECHA_MODIFICACION, required=False)
    except ValueError:
        raise ValueError(
            _("%(column)s %(value)s is not a DD-MM-YYYY HH:MM:SS date")
            % {
                "column": HEADER[FECHA_MODIFICACION],
                "value": cells[FECHA_MODIFICACION].strip()[:30],
            }
        ) from None
    days = cells[DIAS].strip()
    text = {index: clean_text(value) for index, value in enumerate(cells)}
    return CsvCase(
        row=number,
        numero=numero,
        cliente_id=text[CLIENTE],
        nombre=text[NOMBRE],
        estado_cliente=text[ESTADO_CLIENTE],
        contrato=text[CONTRATO],
        domicilio=text[DOMICILIO],
        asunto=text[ASUNTO],
        estado=text[ESTADO_CASO],
        via=text[VIA],
        prioridad=text[PRIORIDAD],
        asignado=text[ASIGNADO],
        fecha_creacion=created,
        usuario_creacion=text[USUARIO_CREACION],
        fecha_modificacion=modified,
        usuario_modificacion=text[USUARIO_MODIFICACION],
        ultimo_contacto=text[ULTIMO_CONTACTO],
        dias=int(days) if days.lstrip("-").isdigit() else None,
        localidad=text[LOCALIDAD],
        barrio=text[BARRIO],
        telefono=text[TELEFONO],
    )


def parse_cases_csv(data: bytes) -> CsvParse:
    """Parse an export; CsvFileError when the file as a whole cannot be this export."""
    text, encoding = decode(data)
    if not text.strip():
        raise CsvFileError(_("The file is empty."))
    if "\x00" in text:
        raise CsvFileError(_("The file is not text (it holds NUL bytes)."))
    text = _protect_entities(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"')
    try:
        header = [cell.replace(_HIDDEN_SEMICOLON, ";") for cell in next(reader)]
        _check_header(header)
        cases: list[CsvCase] = []
        problems: list[CsvProblem] = []
        seen: dict[str, int] = {}
        for number, raw in enumerate(reader, start=2):
            cells = [cell.replace(_HIDDEN_SEMICOLON, ";") for cell in raw]
            if not any(cell.strip() for cell in cells):
                continue  # blank lines (the export ends with one)
            while len(cells) > COLUMNS and not cells[-1].strip():
                cells = cells[:-1]
            numero = cells[NUMERO].strip() if cells else ""
            if len(cells) != COLUMNS:
                reason = ngettext(
                    "%(found)s column instead of %(expected)s",
                    "%(found)s columns instead of %(expected)s",
                    len(cells),
                ) % {
                    "found": len(cells),
                    "expected": COLUMNS,
                }
                problems.append(CsvProblem(number, reason, numero))
                continue
            try:
                case = _row(number, cells)
            except ValueError as exc:
                problems.append(CsvProblem(number, str(exc), numero))
                continue
            if case.numero in seen:
                reason = _("case %(number)s repeats row %(row)s") % {
                    "number": case.numero,
                    "row": seen[case.numero],
                }
                problems.append(CsvProblem(number, reason, numero))
                continue
            seen[case.numero] = number
            cases.append(case)
    except csv.Error as exc:
        raise CsvFileError(
            _("The file cannot be read as CSV near line %(line)s: %(reason)s")
            % {"line": reader.line_num, "reason": exc}
        ) from None
    return CsvParse(cases=tuple(cases), problems=tuple(problems), encoding=encoding)
