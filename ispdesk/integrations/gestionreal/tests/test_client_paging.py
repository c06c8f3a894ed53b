"""Paging `casos` defensively (no public documentation says how other installations page), a
customer's phones mobile first, and which refusals mean the account itself is refused."""

from __future__ import annotations

import logging
from datetime import date
from itertools import islice

import pytest

from ispdesk.integrations.gestionreal.client import GestionRealError
from ispdesk.testing.fakes.gestionreal import FakeGestionReal

SINCE = date(2026, 11, 1)


def offsets(fake: FakeGestionReal) -> list[int]:
    return [request.json["offset"] for request in fake.requests]


def test_a_server_that_ignores_offset_is_read_once_not_for_ever(
    fake_gestionreal: FakeGestionReal, caplog: pytest.LogCaptureFixture
) -> None:
    created = fake_gestionreal.add_casos(250)
    fake_gestionreal.ignore_offset = True

    # (`islice` only bounds the test should the listing never end.)
    casos = list(islice(fake_gestionreal.client().casos("crea", SINCE), 1000))

    # The second page repeats the first: nothing new, so the listing ends there.
    assert [caso.id for caso in casos] == [caso["id"] for caso in created[:100]]
    assert offsets(fake_gestionreal) == [0, 100]
    assert "repeats cases already read" in caplog.text


def test_a_listing_stops_after_its_page_limit_and_says_so(
    fake_gestionreal: FakeGestionReal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    fake_gestionreal.add_casos(250)

    casos = list(fake_gestionreal.client(max_pages=2).casos("modi", SINCE))

    assert len(casos) == 200
    assert offsets(fake_gestionreal) == [0, 100]
    assert "stopped after 2 pages (200 cases)" in caplog.text


def test_cantidad_as_the_querys_total_spares_the_empty_last_page(
    fake_gestionreal: FakeGestionReal,
) -> None:
    fake_gestionreal.add_casos(200)
    fake_gestionreal.cantidad_is_total = True

    assert len(list(fake_gestionreal.client().casos("crea", SINCE))) == 200
    # With `cantidad` as the page's count a full last page needs one more call
    # (test_client.test_a_full_last_page_needs_one_more_empty_page); the total says "done".
    assert offsets(fake_gestionreal) == [0, 100]


def test_cantidad_as_the_pages_count_pages_on(fake_gestionreal: FakeGestionReal) -> None:
    fake_gestionreal.add_casos(230)

    assert len(list(fake_gestionreal.client().casos("crea", SINCE))) == 230
    assert offsets(fake_gestionreal) == [0, 100, 200]


def test_a_customers_mobile_comes_first_whatever_the_order_of_its_phones(
    fake_gestionreal: FakeGestionReal,
) -> None:
    stored = fake_gestionreal.add_cliente(
        telefonos={"fijo": "0353-4567890", "Celular": "0353 15-411-2233", "otro": "4890011"}
    )

    cliente = fake_gestionreal.client().cliente(stored["id"])

    assert cliente is not None
    assert cliente.telefonos == ("0353 15-411-2233", "0353-4567890", "4890011")


def test_only_a_refused_account_refuses_access(fake_gestionreal: FakeGestionReal) -> None:
    with pytest.raises(GestionRealError) as refused:
        fake_gestionreal.client(secret="otra-clave").caso("1")
    with pytest.raises(GestionRealError) as unknown:
        fake_gestionreal.client().caso("999999")
    fake_gestionreal.fail_next("server_error")
    with pytest.raises(GestionRealError) as down:
        fake_gestionreal.client(attempts=1).caso("1")

    assert refused.value.refuses_access
    assert unknown.value.permanent and not unknown.value.refuses_access
    assert not down.value.refuses_access
