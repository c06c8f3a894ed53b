"""The es-AR catalog: complete, compiled, faithful to its placeholders, and used by the pages."""

from __future__ import annotations

import ast
import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

CATALOG = Path(settings.BASE_DIR) / "locale" / "es_AR" / "LC_MESSAGES"
PO_FILE = CATALOG / "django.po"
MO_FILE = CATALOG / "django.mo"


@dataclass
class Entry:
    line: int
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        context = f" (context {self.msgctxt!r})" if self.msgctxt is not None else ""
        return f"line {self.line}: {self.msgid!r}{context}"


def read_po(path: Path) -> tuple[Entry, list[Entry]]:
    """The header and the entries of a .po file (obsolete `#~` entries are skipped)."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None  # the field continuation lines append to
    flags: set[str] = set()

    def start(line_number: int) -> Entry:
        nonlocal current, flags
        if current is None:
            current = Entry(line=line_number, flags=flags)
            flags = set()
            entries.append(current)
        return current

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            current, target = None, None
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
        if match:
            keyword, index, text = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            if keyword == "msgctxt" or (keyword == "msgid" and current and current.msgstr):
                current = None  # a new entry starts
            entry = start(number)
            if keyword.startswith("msgstr"):
                slot = int(index) if index is not None else 0
                entry.msgstr[slot] = text
                target = ("msgstr", slot)
            else:
                setattr(entry, keyword, text)
                target = (keyword, 0)
            continue
        if line.startswith('"') and current is not None and target is not None:
            text = ast.literal_eval(line)
            name, slot = target
            if name == "msgstr":
                current.msgstr[slot] += text
            else:
                setattr(current, name, (getattr(current, name) or "") + text)
            continue
        raise AssertionError(f"{path.name} line {number} is not understood: {raw!r}")

    header, body = entries[0], entries[1:]
    assert header.msgid == "", "the .po file must start with its header"
    return header, body


HEADER, ENTRIES = read_po(PO_FILE)

PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]")
BRACES = re.compile(r"\{[^{}]*\}")
TAGS = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*")


def markers(text: str) -> Counter[str]:
    """Placeholders and HTML tags: what a translation must carry over unchanged."""
    found = [m for m in PERCENT.findall(text) if m != "%%"]
    unescaped = text.replace("{{", "").replace("}}", "")  # doubled braces are literal text
    found += BRACES.findall(unescaped) + TAGS.findall(text)
    return Counter(found)


def test_the_header_declares_spanish_of_argentina_in_utf8_with_two_plural_forms():
    header = dict(line.split(": ", 1) for line in HEADER.msgstr[0].splitlines() if ": " in line)
    assert header["Language"] == "es_AR"
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    assert header["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert "fuzzy" not in HEADER.flags


def test_the_catalog_has_entries():
    # A parser that silently read nothing would make every other test pass.
    assert len(ENTRIES) > 500
    assert any(entry.msgid_plural for entry in ENTRIES)
    assert any(entry.msgctxt for entry in ENTRIES)


def test_every_entry_is_translated_and_none_is_fuzzy():
    problems = []
    for entry in ENTRIES:
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry}")
        forms = 2 if entry.msgid_plural is not None else 1
        if sorted(entry.msgstr) != list(range(forms)):
            problems.append(f"expected {forms} form(s): {entry}")
        elif not all(text.strip() for text in entry.msgstr.values()):
            problems.append(f"untranslated: {entry}")
    assert not problems, "\n".join(problems)


def test_every_translation_keeps_the_placeholders_and_tags_of_its_source():
    problems = []
    for entry in ENTRIES:
        for slot, text in entry.msgstr.items():
            source = entry.msgid if slot == 0 or entry.msgid_plural is None else entry.msgid_plural
            if markers(text) != markers(source):
                problems.append(f"{entry}, msgstr[{slot}] {text!r}")
    assert not problems, "\n".join(problems)


def test_the_compiled_catalog_matches_the_po_file():
    assert MO_FILE.is_file(), "run `make compilemessages`"
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in ENTRIES:
        if entry.msgid_plural is not None:
            got = [
                compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                if entry.msgctxt is not None
                else compiled.ngettext(entry.msgid, entry.msgid_plural, n)
                for n in (1, 2)
            ]
            wanted = [entry.msgstr[0], entry.msgstr[1]]
        else:
            got = [
                compiled.pgettext(entry.msgctxt, entry.msgid)
                if entry.msgctxt is not None
                else compiled.gettext(entry.msgid)
            ]
            wanted = [entry.msgstr[0]]
        if got != wanted:
            stale.append(str(entry))
    assert not stale, "the .mo file is stale; run `make compilemessages`:\n" + "\n".join(stale)


# The pages ----------------------------------------------------------------------------------


@pytest.fixture
def _spanish_by_default(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "es-ar"


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.usefixtures("_spanish_by_default")
def test_the_login_page_is_in_spanish_by_default(client, db):
    html = page(client, "/login/")
    assert '<html lang="es-ar"' in html
    assert "Ingresar" in html
    assert "Contraseña" in html
    assert "Log in" not in html


@pytest.mark.usefixtures("_spanish_by_default")
def test_a_wrong_password_is_reported_in_argentine_spanish(client, operator):
    response = client.post("/login/", {"username": "ana", "password": "wrong-password"})
    html = response.content.decode()
    # Our catalog's wording replaces Django's own Spanish one (LOCALE_PATHS come first).
    assert "El nombre de usuario o la contraseña no son correctos" in html
    assert "Por favor introduzca" not in html


@pytest.mark.usefixtures("_spanish_by_default")
def test_the_home_page_is_in_spanish_by_default(operator_client):
    html = page(operator_client, "/")
    assert "Hola, Ana" in html
    assert "Inicio" in html
    assert "Tokens de API" in html
    assert "Hello" not in html


@pytest.mark.usefixtures("_spanish_by_default")
def test_the_pages_are_in_english_after_choosing_english(client, operator):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    login = page(client, "/login/")
    assert '<html lang="en"' in login
    assert "Log in" in login
    assert "Ingresar" not in login

    client.force_login(operator)
    home = page(client, "/")
    assert "Hello, Ana" in home
    assert "API tokens" in home
    assert "Hola" not in home

    client.post("/i18n/setlang/", {"language": "es-ar", "next": "/"})
    assert "Hola, Ana" in page(client, "/")
