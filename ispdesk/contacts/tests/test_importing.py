"""Reading contact files (pure): encodings, delimiters, headers, and the reasons rows are
refused, with the row numbers a spreadsheet shows."""

from __future__ import annotations

import codecs
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.contacts.importing import (
    MAX_IMPORT_BYTES,
    ImportFileError,
    ImportRow,
    RawRow,
    check_rows,
    decode,
    detect_format,
    parse_import,
)
from ispdesk.contacts.tests.conftest import AREA_NAMES, csv_bytes

pytestmark = pytest.mark.usefixtures("english")


def parse(data: bytes, hint: str = "") -> list[ImportRow]:
    return parse_import(data, AREA_NAMES, hint)


def test_it_reads_a_utf8_csv_into_normalised_rows():
    rows = parse(
        csv_bytes(
            "name,phone,dni,area",
            "Marta Gómez,11 2233-4455,12.345.678,Soporte",
            "Juan Pérez,+54 9 351 555-0003,,",
        )
    )
    assert rows == [
        ImportRow(2, "Marta Gómez", "+5491122334455", "12345678", "Soporte"),
        ImportRow(3, "Juan Pérez", "+5493515550003", "", ""),
    ]
    assert all(row.valid for row in rows)


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("utf-8 with BOM", codecs.BOM_UTF8 + csv_bytes("name,phone", "Marta Gómez,1122334455")),
        ("latin-1", csv_bytes("name,phone", "Marta Gómez,1122334455", encoding="latin-1")),
        ("cp1252", csv_bytes("name,phone", "Marta Gómez,1122334455", encoding="cp1252")),
        ("semicolons", csv_bytes("name;phone", "Marta Gómez;1122334455")),
        ("spanish headers", csv_bytes("Nombre;Teléfono;DNI;Área", "Marta Gómez;1122334455;;")),
        ("spanish, no accents", csv_bytes("NOMBRE,TELEFONO", "Marta Gómez,1122334455")),
        ("spaced headers", csv_bytes(" Name , Phone ", "Marta Gómez,1122334455")),
        (
            "latin-1 spanish",
            csv_bytes("nombre;teléfono", "Marta Gómez;1122334455", encoding="latin-1"),
        ),
        ("bare LF lines", b"name,phone\nMarta G\xc3\xb3mez,1122334455\n"),
        ("no final newline", b"name,phone\r\nMarta G\xc3\xb3mez,1122334455"),
        (
            "extra columns",
            csv_bytes("id,name,email,phone", "7,Marta Gómez,m@example.com,1122334455"),
        ),
        ("json", json.dumps([{"name": "Marta Gómez", "phone": "1122334455"}]).encode()),
        (
            "json spanish keys",
            json.dumps([{"Nombre": "Marta Gómez", "Teléfono": 1122334455}]).encode(),
        ),
    ],
)
def test_it_reads_every_shape_a_spreadsheet_or_script_produces(label, data):
    (row,) = parse(data)
    assert (row.name, row.phone, row.reason) == ("Marta Gómez", "+5491122334455", ""), label


def test_commas_in_quoted_names_do_not_split_columns():
    (row,) = parse(csv_bytes("name,phone", '"Gómez, Marta",1122334455'))
    assert row.name == "Gómez, Marta"


def test_semicolon_files_keep_commas_inside_names():
    (row,) = parse(csv_bytes("nombre;telefono", "Gómez, Marta;1122334455"))
    assert row.name == "Gómez, Marta"


def test_areas_match_whatever_the_case_and_accents():
    rows = parse(
        csv_bytes(
            "name,phone,area",
            "A,1122334401,soporte",
            "B,1122334402,VENTAS",
            "C,1122334403,administracion",
        )
    )
    assert [row.area for row in rows] == ["Soporte", "Ventas", "Administración"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (",1122334455,,", "the name is missing"),
        ("Marta,,,", "the phone is missing"),
        ("Marta,hola,,", "invalid phone: contains characters"),
        ("Marta,123,,", "invalid phone"),
        ("Marta,4444-5555,,", "invalid phone"),
        ("Marta,1122334455,12.34,", "invalid DNI: a DNI has 7 or 8 digits"),
        ("Marta,1122334455,ABC,", "invalid DNI: a DNI has only digits"),
        ("Marta,1122334455,0,", "invalid DNI: a DNI cannot be zero"),
        ("Marta,1122334455,,Cobranzas", "unknown area “Cobranzas”"),
        (f"{'x' * 201},1122334455,,", "longer than 200"),
        ("Mar\x00ta,1122334455,,", "NUL"),
    ],
)
def test_it_says_why_a_row_is_refused(line, reason):
    (row,) = parse(csv_bytes("name,phone,dni,area", line))
    assert not row.valid
    assert row.row == 2
    assert reason in row.reason


def test_rows_are_numbered_as_the_spreadsheet_shows_them_even_around_blank_rows():
    rows = parse(
        csv_bytes(
            "name,phone",
            "Ana,1122334401",
            "",
            ",",
            "Bruno,nope",
            "Carla,1122334403",
        )
    )
    assert [(row.row, row.name, row.valid) for row in rows] == [
        (2, "Ana", True),
        (5, "Bruno", False),
        (6, "Carla", True),
    ]


def test_a_later_row_with_the_same_phone_is_refused_naming_the_first():
    rows = parse(
        csv_bytes(
            "name,phone",
            "Ana,11 2233-4455",
            "Bruno,1122334499",
            "Ana otra vez,+54 9 11 2233-4455",
            "Ana tercera,011 15 2233-4455",
        )
    )
    assert [row.reason for row in rows] == [
        "",
        "",
        "same phone as row 2",
        "same phone as row 2",
    ]


def test_an_invalid_row_does_not_claim_its_phone():
    rows = parse(csv_bytes("name,phone,dni", "Ana,1122334455,bad", "Ana,1122334455,"))
    assert [row.valid for row in rows] == [False, True]


def test_names_lose_repeated_spaces():
    (row,) = parse(csv_bytes("name,phone", "  Marta   Gómez ,1122334455"))
    assert row.name == "Marta Gómez"


def test_json_rows_are_numbered_from_one_and_refused_for_their_shape():
    data = json.dumps(
        [
            {"name": "Ana", "phone": "1122334401", "dni": 12345678, "area": None},
            "Bruno",
            {"name": "Carla", "phone": ["1122334403"]},
            {"name": "Dora", "phone": True},
            {"name": "Eva", "phone": "1122334401"},
        ]
    ).encode()
    rows = parse(data)
    assert [(row.row, row.reason) for row in rows] == [
        (1, ""),
        (2, "not an object"),
        (3, "not text: phone"),
        (4, "not text: phone"),
        (5, "same phone as row 1"),
    ]
    assert rows[0].dni == "12345678"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \r\n ", "empty"),
        (b"name,phone\r\n", "no contacts"),
        (b"nombre,dni\r\nAna,12345678\r\n", "missing: phone"),
        (b"foo,bar\r\n1,2\r\n", "missing: name, phone"),
        (b"name,nombre,phone\r\nA,B,1122334455\r\n", "appears twice"),
        (b"[]", "no contacts"),
        (b"[{", "not valid JSON"),
        (b'{"name": "Ana"}', "missing: name, phone"),  # not a list, so read as CSV
        (b'"Ana"', "missing"),
    ],
)
def test_it_refuses_a_file_it_cannot_use_and_says_why(data, message):
    with pytest.raises(ImportFileError) as caught:
        parse(data)
    assert message in caught.value.message


def test_a_json_object_instead_of_a_list_is_refused():
    with pytest.raises(ImportFileError, match="list of objects"):
        parse(b'{"name": "Ana"}', hint="application/json")


def test_it_refuses_a_file_over_five_megabytes():
    data = csv_bytes("name,phone") + b"x" * MAX_IMPORT_BYTES
    with pytest.raises(ImportFileError, match="larger than 5 MB"):
        parse(data)


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("name,phone", "", "csv"),
        ("  [ {}]", "", "json"),
        ("[{}]", "contacts.csv text/csv", "json"),
        ("name,phone", "contacts.csv text/csv", "csv"),
        ("name", "application/json", "json"),
        ("name", "datos.JSON", "json"),
    ],
)
def test_it_tells_json_from_csv(text, hint, expected):
    assert detect_format(text, hint) == expected


@given(st.text(max_size=50))
def test_any_unicode_text_survives_a_utf8_round_trip(text):
    assert decode(text.encode("utf-8")) == text


@given(st.binary(max_size=200))
def test_decoding_never_fails_whatever_the_bytes(data):
    assert isinstance(decode(data), str)


@given(st.lists(st.sampled_from(["1122334401", "1122334402", "1122334403", "x"]), max_size=12))
def test_each_valid_phone_is_accepted_once_and_only_once(phones):
    rows = check_rows(
        [RawRow(index + 2, f"N{index}", phone, "", "") for index, phone in enumerate(phones)], []
    )
    accepted = [row.phone for row in rows if row.valid]
    assert len(accepted) == len(set(accepted))
    assert set(accepted) == {f"+549{phone}" for phone in phones if phone != "x"}
