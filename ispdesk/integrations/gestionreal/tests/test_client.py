"""The Gestión Real client against the local fake API (real HTTP)."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest

from ispdesk.integrations.gestionreal.client import GestionRealError, daily_password
from ispdesk.integrations.gestionreal.mapping import ARGENTINA
from ispdesk.testing.fakes.gestionreal import FakeGestionReal

SINCE = date(2026, 11, 1)


def test_it_pages_through_250_cases_in_pages_of_100(fake_gestionreal: FakeGestionReal) -> None:
    created = fake_gestionreal.add_casos(250)
    client = fake_gestionreal.client()

    casos = list(client.casos("crea", SINCE))

    assert [caso.id for caso in casos] == [caso["id"] for caso in created]
    offsets = [request.json["offset"] for request in fake_gestionreal.requests]
    assert offsets == [0, 100, 200]
    assert all(r.json["fecha_desde"] == "01-11-2026" for r in fake_gestionreal.requests)
    assert all(r.json["fecha_tipo"] == "crea" for r in fake_gestionreal.requests)


def test_a_full_last_page_needs_one_more_empty_page(fake_gestionreal: FakeGestionReal) -> None:
    fake_gestionreal.add_casos(200)
    assert len(list(fake_gestionreal.client().casos("modi", SINCE))) == 200
    assert [r.json["offset"] for r in fake_gestionreal.requests] == [0, 100, 200]


def test_it_maps_fields_decodes_entities_and_reads_argentine_dates(
    fake_gestionreal: FakeGestionReal,
) -> None:
    fake_gestionreal.add_caso(
        id=7001,
        cliente_id=4512,
        asunto="Sin se&ntilde;al en Villa Mar&#237;a",
        estado="Abierto",
        fecha_creacion="24-11-2026 23:30:00",
        asignado_a=3,
        ordenes_de_servicio=[{"id": "9"}],
    )
    caso = fake_gestionreal.client().casos_page("crea", SINCE).casos[0]

    assert caso.id == "7001"
    assert caso.cliente_id == "4512"
    assert caso.asunto == "Sin señal en Villa María"
    assert caso.asignado_a == "3"
    assert caso.fecha_creacion == datetime(2026, 11, 24, 23, 30, tzinfo=ARGENTINA)
    assert caso.fecha_creacion.isoformat() == "2026-11-24T23:30:00-03:00"
    assert caso.ordenes_de_servicio == ({"id": "9"},)


def test_missing_keys_take_defaults_and_field_names_are_configurable(
    fake_gestionreal: FakeGestionReal,
) -> None:
    fake_gestionreal.casos.append(
        {"numero_caso": "88", "titulo": "Router quemado", "fecha_creacion": "25-11-2026 10:00:00"}
    )
    default = fake_gestionreal.client().casos_page("crea", SINCE)
    assert default.casos == () and default.skipped == 1

    client = fake_gestionreal.client(
        field_names={"caso.id": ("numero_caso",), "caso.asunto": ("titulo",)}
    )
    caso = client.casos_page("crea", SINCE).casos[0]
    assert (caso.id, caso.asunto, caso.estado, caso.cliente_id) == ("88", "Router quemado", "", "")


def test_it_fetches_one_case_and_says_none_for_an_unknown_one(
    fake_gestionreal: FakeGestionReal,
) -> None:
    wanted = fake_gestionreal.add_caso(asunto="Cambio de domicilio")
    client = fake_gestionreal.client()
    assert client.caso(wanted["id"]).asunto == "Cambio de domicilio"  # type: ignore[union-attr]
    assert fake_gestionreal.requests[-1].json == {"action": "caso", "caso_id": wanted["id"]}
    with pytest.raises(GestionRealError, match="error 2") as error:
        client.caso("999999")
    assert error.value.permanent
    assert "El caso no existe" in error.value.message


def test_it_finds_a_customer_by_id_and_by_dni(fake_gestionreal: FakeGestionReal) -> None:
    stored = fake_gestionreal.add_cliente(nro_documento="28123456")
    client = fake_gestionreal.client()

    by_id = client.cliente(stored["id"])
    by_dni = client.cliente_por_dni("28.123.456")

    assert by_id == by_dni
    assert by_id is not None
    assert by_id.nombre == "Gómez, María"
    assert by_id.localidad == "Villa María"
    assert by_id.telefonos == ("0353 15-456-7890", "0353-4567890")
    assert fake_gestionreal.requests[-1].json == {
        "action": "cliente",
        "tipo_documento": "DNI",
        "nro_documento": "28123456",
    }


def test_error_90_says_the_credentials_were_rejected(fake_gestionreal: FakeGestionReal) -> None:
    client = fake_gestionreal.client(secret="otra-clave")
    with pytest.raises(GestionRealError) as error:
        list(client.casos("crea", SINCE))
    assert error.value.permanent
    assert error.value.code == "90"
    assert "credentials rejected (error 90)" in error.value.message
    assert len(fake_gestionreal.requests) == 1  # a refusal is not retried


def test_a_client_whose_clock_is_past_argentine_midnight_is_refused(
    fake_gestionreal: FakeGestionReal,
) -> None:
    # The fake's clock says 23:59 in Buenos Aires; the client's says 00:01 the next day.
    fake_gestionreal.now = datetime(2026, 11, 25, 23, 59, tzinfo=ARGENTINA)
    client = fake_gestionreal.client()
    client._now = lambda: datetime(2026, 11, 26, 0, 1, tzinfo=ARGENTINA)
    with pytest.raises(GestionRealError, match="error 90"):
        client.casos_page("crea", SINCE)
    client._now = fake_gestionreal.clock
    assert client.casos_page("crea", SINCE).casos == ()


def test_it_retries_server_errors_with_backoff(fake_gestionreal: FakeGestionReal) -> None:
    fake_gestionreal.add_casos(3)
    fake_gestionreal.fail_next("server_error")
    fake_gestionreal.fail_next("unavailable")
    client = fake_gestionreal.client(backoff=0.5)

    assert len(client.casos_page("crea", SINCE).casos) == 3
    assert len(fake_gestionreal.requests) == 3
    assert fake_gestionreal.sleeps == [0.5, 1.0]


def test_it_honours_retry_after_within_its_bound(fake_gestionreal: FakeGestionReal) -> None:
    fake_gestionreal.fail_next("rate_limited", retry_after=7)
    fake_gestionreal.fail_next("rate_limited", retry_after=600)
    client = fake_gestionreal.client(max_wait=30.0)

    assert client.casos_page("crea", SINCE).casos == ()
    assert fake_gestionreal.sleeps == [7.0, 30.0]


def test_it_gives_up_after_its_attempts_with_a_retryable_error(
    fake_gestionreal: FakeGestionReal,
) -> None:
    fake_gestionreal.fail_next("server_error", times=5)
    client = fake_gestionreal.client(attempts=3)
    with pytest.raises(GestionRealError, match="HTTP 500") as error:
        client.casos_page("crea", SINCE)
    assert not error.value.permanent
    assert len(fake_gestionreal.requests) == 3


def test_a_timeout_is_retryable(fake_gestionreal: FakeGestionReal) -> None:
    fake_gestionreal.fail_next("hang")
    client = fake_gestionreal.client(timeout=0.3, attempts=1)
    with pytest.raises(GestionRealError, match="did not answer") as error:
        client.casos_page("crea", SINCE)
    assert not error.value.permanent


def test_a_page_that_is_not_json_is_an_error_not_a_crash(
    fake_gestionreal: FakeGestionReal,
) -> None:
    fake_gestionreal.fail_next("not_json")
    with pytest.raises(GestionRealError, match="no JSON envelope"):
        fake_gestionreal.client().casos_page("crea", SINCE)


def test_no_secret_reaches_messages_or_logs(
    fake_gestionreal: FakeGestionReal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = fake_gestionreal.client()
    fake_gestionreal.add_casos(2)
    list(good.casos("crea", SINCE))
    fake_gestionreal.fail_next("server_error", times=4)
    failures: list[str] = []
    for client in (fake_gestionreal.client(), fake_gestionreal.client(secret="mal-secreto")):
        try:
            list(client.casos("crea", SINCE))
        except GestionRealError as exc:
            failures.append(exc.message)
    assert len(failures) == 2
    password = daily_password(
        fake_gestionreal.cuit, fake_gestionreal.secret, datetime.now(ARGENTINA)
    )
    text = caplog.text + "\n".join(failures)
    assert "POST" in caplog.text  # the requests were logged
    for secret in (fake_gestionreal.secret, "mal-secreto", password):
        assert secret not in text
