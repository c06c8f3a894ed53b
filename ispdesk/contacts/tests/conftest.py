"""Contacts' test helpers: areas, a few customers, and files to import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from ispdesk.contacts.models import Contact
from ispdesk.operators.models import Area

AREA_NAMES = ["Soporte", "Ventas", "Administración"]


@pytest.fixture
def english(settings: Any) -> Iterator[None]:
    """English messages, in code (override) and in pages (the default language)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def soporte(db: Any) -> Area:
    return Area.objects.create(name="Soporte")


@pytest.fixture
def ventas(db: Any) -> Area:
    return Area.objects.create(name="Ventas")


@pytest.fixture
def gomez(db: Any, soporte: Area) -> Contact:
    return Contact.objects.create(
        name="Marta Gómez", phone="+5491122334455", dni="12345678", preferred_area=soporte
    )


@pytest.fixture
def perez(db: Any) -> Contact:
    return Contact.objects.create(name="Juan Pérez", phone="+5493515550003", dni="5123456")


def post_json(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def patch_json(client: Client, path: str, body: Any) -> Any:
    return client.patch(path, json.dumps(body), content_type="application/json")


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)
