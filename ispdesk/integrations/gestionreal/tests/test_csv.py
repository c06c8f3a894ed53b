"""The cases CSV export: Latin-1, `;`, two `Estado` columns read by position."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from ispdesk.integrations.gestionreal.csv import (
    HEADER,
    CsvFileError,
    parse_cases_csv,
)
from ispdesk.integrations.gestionreal.mapping import ARGENTINA

FIXTURE = Path(__file__).parent / "fixtures" / "casos_export.csv"
HEADER_LINE = ";".join(HEADER)


def row(**cells: str) -> str:
    values = {
        "numero": "500",
        "cliente": "12",
        "nombre": "Pérez, Juan",
        "estado_cliente": "Activo",
        "asunto": "Sin conexión",
        "estado": "Abierto",
        "asignado": "Soporte",
        "creado": "25-11-2026 09:00:00",
        "modificado": "",
        **cells,
    }
    return ";".join(
        [
            values["numero"],
            values["cliente"],
            values["nombre"],
            values["estado_cliente"],
            "12-1",
            "Calle 1",
            values["asunto"],
            values["estado"],
            "Telefono",
            "Media",
            values["asignado"],
            values["creado"],
            "jperez",
            values["modificado"],
            "",
            "",
            "0",
            "Villa María",
            "Centro",
            "0353 15-400-0000",
        ]
    )


def csv_bytes(*rows: str, encoding: str = "latin-1") -> bytes:
    return ("\r\n".join([HEADER_LINE, *rows]) + "\r\n").encode(encoding)


def test_the_fixture_parses_into_good_rows_and_reported_bad_rows() -> None:
    parsed = parse_cases_csv(FIXTURE.read_bytes())

    assert parsed.encoding == "latin-1"
    assert [case.numero for case in parsed.cases] == ["10234", "10235", "10236", "10237", "10239"]
    assert [(problem.row, problem.numero) for problem in parsed.problems] == [
        (6, "10238"),
        (7, "ABC"),
        (8, "10240"),
    ]
    reasons = [problem.reason for problem in parsed.problems]
    assert "Fecha Creacion" in reasons[0] and "ayer 10:00" in reasons[0]
    assert "ABC is not a number" in reasons[1]
    assert reasons[2] == "5 columns instead of 20"


def test_the_two_estado_columns_are_read_by_position() -> None:
    cases = {case.numero: case for case in parse_cases_csv(FIXTURE.read_bytes()).cases}
    assert (cases["10235"].estado_cliente, cases["10235"].estado) == ("Suspendido", "En curso")
    assert (cases["10237"].estado_cliente, cases["10237"].estado) == ("Activo", "Cerrado")


@pytest.mark.parametrize(
    ("numero", "field", "expected"),
    [
        ("10234", "nombre", "Gómez, María Laura"),  # raw Latin-1 accents
        ("10234", "asunto", "Sin señal desde ayer"),  # &ntilde;
        ("10234", "asignado", "Soporte Técnico"),  # &eacute;
        ("10235", "nombre", "Fernández, José"),
        ("10236", "nombre", "Peña, Rodrigo"),
        ("10237", "nombre", "Muñoz, Lucía"),  # &#241;
        ("10239", "nombre", "González & Hijos SRL"),  # &amp;
        ("10239", "asunto", 'Reclamo factura "duplicada" \u2013 noviembre'),  # &ndash;
        ("10236", "telefono", "+54 9 353 412-3344"),
        ("10235", "barrio", "Barrio Las Playas"),
    ],
)
def test_text_is_decoded(numero: str, field: str, expected: str) -> None:
    cases = {case.numero: case for case in parse_cases_csv(FIXTURE.read_bytes()).cases}
    assert getattr(cases[numero], field) == expected


def test_dates_are_argentine_local_times() -> None:
    cases = {case.numero: case for case in parse_cases_csv(FIXTURE.read_bytes()).cases}
    assert cases["10234"].fecha_creacion == datetime(2026, 11, 24, 9, 15, 32, tzinfo=ARGENTINA)
    assert cases["10234"].fecha_modificacion == datetime(2026, 11, 25, 10, 2, 11, tzinfo=ARGENTINA)
    assert cases["10236"].fecha_modificacion is None  # empty cell
    assert cases["10237"].dias == 5


def test_a_utf8_file_with_a_bom_is_read_as_utf8() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(
        row(nombre="Gómez, Ana", asunto="Señal baja"), encoding="utf-8"
    )
    parsed = parse_cases_csv(data)
    assert parsed.encoding == "utf-8"
    assert (parsed.cases[0].nombre, parsed.cases[0].asunto) == ("Gómez, Ana", "Señal baja")


def test_without_a_bom_utf8_bytes_are_not_guessed() -> None:
    # The export is Latin-1: UTF-8 without a BOM reads as its Latin-1 characters.
    parsed = parse_cases_csv(csv_bytes(row(nombre="Gómez"), encoding="utf-8"))
    assert parsed.cases[0].nombre == "GÃ³mez"


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"numero": ""}, "the case number (Numero) is empty"),
        ({"numero": "12a"}, "the case number 12a is not a number"),
        ({"creado": ""}, "Fecha Creacion  is not a DD-MM-YYYY HH:MM:SS date"),
        ({"creado": "2026-13-45"}, "Fecha Creacion 2026-13-45 is not a DD-MM-YYYY HH:MM:SS date"),
        (
            {"modificado": "31-02-2026 10:00:00"},
            "Fecha ultima modificacion 31-02-2026 10:00:00 is not a DD-MM-YYYY HH:MM:SS date",
        ),
    ],
)
def test_each_bad_row_names_its_reason(cells: dict[str, str], reason: str) -> None:
    parsed = parse_cases_csv(csv_bytes(row(numero="1"), row(**cells), row(numero="3")))
    assert [case.numero for case in parsed.cases] == ["1", "3"]
    assert [(problem.row, problem.reason) for problem in parsed.problems] == [(3, reason)]


def test_a_repeated_case_number_is_reported() -> None:
    parsed = parse_cases_csv(csv_bytes(row(numero="7"), row(numero="7")))
    assert [case.row for case in parsed.cases] == [2]
    assert parsed.problems[0].reason == "case 7 repeats row 2"


def test_a_trailing_semicolon_and_blank_lines_are_tolerated() -> None:
    data = (HEADER_LINE + ";\r\n" + row() + ";\r\n\r\n").encode("latin-1")
    parsed = parse_cases_csv(data)
    assert [case.numero for case in parsed.cases] == ["500"]
    assert parsed.problems == ()


def test_a_quoted_cell_may_hold_semicolons() -> None:
    parsed = parse_cases_csv(csv_bytes(row(asunto='"Corte; sin servicio"')))
    assert parsed.cases[0].asunto == "Corte; sin servicio"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"name,phone\r\nAna,1\r\n", "not a header separated by semicolons"),
        (
            HEADER_LINE.replace("Asunto", "Motivo").encode(),
            "column 7 should be Asunto, it is Motivo",
        ),
        (b"\xef\xbb\xbf\xff\xfe", "says it is UTF-8 but is not"),
    ],
)
def test_a_file_that_is_not_the_export_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(CsvFileError, match=message):
        parse_cases_csv(data)


def test_entity_semicolons_are_not_separators_quoted_or_not() -> None:
    parsed = parse_cases_csv(
        csv_bytes(
            row(numero="1", asunto="Se&ntilde;al &#241; &#xF1; &amp;"),
            row(numero="2", asunto='"Se&ntilde;al; baja"'),
            row(numero="3", asunto="A &noentity; B"),
        )
    )
    assert [case.asunto for case in parsed.cases[:2]] == ["Señal ñ ñ &", "Señal; baja"]
    # Not an entity: its ";" separates, so the row has a column too many.
    assert [(p.row, p.reason) for p in parsed.problems] == [(4, "21 columns instead of 20")]
