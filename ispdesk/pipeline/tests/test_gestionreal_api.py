"""Gestión Real settings over the API: admins only, credentials write-only, the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from ispdesk.integrations.gestionreal.client import DEFAULT_BASE_URL
from ispdesk.integrations.gestionreal.web_export import EXPORT_SELECTOR, USERNAME_SELECTOR
from ispdesk.pipeline.gestionreal_settings import DEFAULT_WEB
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.gestionreal import CUIT, FakeGestionReal, serving_fake_gestionreal

URL = "/api/admin/integrations/gestionreal"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def fake() -> Iterator[FakeGestionReal]:
    with serving_fake_gestionreal() as served:
        yield served


def put(client: Client, body: dict[str, Any]) -> Any:
    return client.put(URL, data=json.dumps(body), content_type="application/json")


def stored() -> ExternalSystem:
    return ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL)


def test_it_answers_defaults_before_anything_is_saved(admin_client: Client) -> None:
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "enabled": False,
        "mode": "api",
        "base_url": DEFAULT_BASE_URL,
        "cuit": "",
        "has_secret": False,
        "login_url": "",
        "username": "",
        "has_password": False,
        "watched_folder": "",
        "filters": {"keywords": [], "groups": [], "states": [], "exclude_states": []},
        "closed_states": ["Cerrado", "Resuelto"],
        "reopen_window_hours": 48,
        "close_sync_batch": 50,
        "web": {
            "cases_url": "",
            "username_selector": USERNAME_SELECTOR,
            "password_selector": 'input[name="mypassword"]',
            "submit_selector": 'form:has(input[name="mypassword"]) [type="submit"]',
            "login_error_selector": "",
            "export_selector": EXPORT_SELECTOR,
            "timeout_seconds": 60,
            "max_megabytes": 20,
        },
        "last_test": {"at": None, "ok": None, "detail": ""},
    }


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client"])
def test_only_admins_read_or_change_it(request: pytest.FixtureRequest, who: str) -> None:
    client: Client = request.getfixturevalue(who)
    assert client.get(URL).status_code == 403
    assert put(client, {"enabled": True}).status_code == 403
    assert client.post(f"{URL}/test").status_code == 403
    assert Client().get(URL).status_code == 401


def test_credentials_are_write_only(admin_client: Client) -> None:
    response = put(
        admin_client,
        {
            "cuit": "30-71234567-1",
            "secret": "clave-api",
            "login_url": "https://isp.gestionreal.com.ar/login.php",
            "username": "soporte",
            "password": "clave-web",
            "filters": {"keywords": ["señal", "corte"], "exclude_states": ["Cerrado"]},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cuit"] == CUIT
    assert (body["has_secret"], body["has_password"]) == (True, True)
    assert body["filters"]["keywords"] == ["señal", "corte"]
    assert "clave" not in response.content.decode()
    assert "clave" not in admin_client.get(URL).content.decode()
    assert stored().secrets == {"secret": "clave-api", "password": "clave-web"}
    audit = AuditEvent.objects.get(action="integration.updated")
    assert "clave" not in json.dumps([audit.before, audit.after])

    # Left out or blank: kept.
    assert put(admin_client, {"username": "otro", "secret": ""}).status_code == 200
    assert stored().secrets == {"secret": "clave-api", "password": "clave-web"}
    # Typed again: replaced, and the audit says so without the value.
    assert put(admin_client, {"secret": "nueva"}).status_code == 200
    assert stored().secrets["secret"] == "nueva"
    last = AuditEvent.objects.filter(action="integration.updated").latest("pk")
    assert (last.after or {}).get("secret_replaced") is True


def test_a_new_base_url_requires_the_secret_again(admin_client: Client) -> None:
    put(admin_client, {"cuit": CUIT, "secret": "clave-api", "password": "clave-web"})
    response = put(admin_client, {"base_url": "https://evil.example.com/"})
    assert response.status_code == 422
    assert response.json()["code"] == "secrets_required"
    assert response.json()["fields"] == {"secret": "required again with a new address"}
    assert stored().config["base_url"] == DEFAULT_BASE_URL

    response = put(admin_client, {"base_url": "https://api2.gestionreal.com.ar/", "secret": "otra"})
    assert response.status_code == 200
    assert stored().secrets == {"secret": "otra", "password": "clave-web"}


def test_a_new_login_url_requires_the_password_again(admin_client: Client) -> None:
    put(admin_client, {"login_url": "https://a.example.com/", "password": "clave-web"})
    response = put(admin_client, {"login_url": "https://b.example.com/"})
    assert response.status_code == 422
    assert response.json()["fields"] == {"password": "required again with a new address"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"mode": "ftp"}, {"mode": "choose one of: api, csv, web"}),
        ({"cuit": "20-12345678-0"}, {"cuit": "A CUIT has 11 digits and a valid check digit."}),
        (
            {"base_url": "ftp://x"},
            {"base_url": "Enter an http:// or https:// URL, without a query string."},
        ),
        (
            {"watched_folder": "relative/dir"},
            {"watched_folder": "Enter an absolute path, e.g. /srv/gestionreal/export."},
        ),
        ({"filters": {"motivos": ["x"]}}, {"filters.motivos": "unknown filter"}),
        (
            {"enabled": True},
            {"cuit": "required to enable this mode", "secret": "required to enable this mode"},
        ),
        (
            {"enabled": True, "mode": "web"},
            {
                "login_url": "required to enable this mode",
                "username": "required to enable this mode",
                "password": "required to enable this mode",
            },
        ),
    ],
)
def test_bad_values_are_named(
    admin_client: Client, body: dict[str, Any], fields: dict[str, str]
) -> None:
    response = put(admin_client, body)
    assert response.status_code == 422
    assert response.json()["fields"] == fields
    assert not ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL, enabled=True).exists()


def test_malformed_input_is_a_422_not_a_500(admin_client: Client) -> None:
    assert put(admin_client, {"secret": "a\x00b"}).status_code == 422
    assert put(admin_client, {"filters": {"keywords": "not a list"}}).status_code == 422
    assert admin_client.put(URL, data="{", content_type="application/json").status_code in (
        400,
        422,
    )


def test_csv_mode_enables_without_credentials(admin_client: Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = put(admin_client, {"enabled": True, "mode": "csv", "watched_folder": str(tmp_path)})
    assert response.status_code == 200
    assert stored().enabled
    (tmp_path / "a.csv").write_text("x")
    test = admin_client.post(f"{URL}/test").json()
    assert test["ok"] is True
    assert "1 CSV file waits" in test["detail"]


def test_the_test_fetches_a_page_of_cases_and_shows_three(
    admin_client: Client, fake: FakeGestionReal
) -> None:
    fake.add_casos(5)
    put(admin_client, {"cuit": CUIT, "secret": fake.secret, "base_url": fake.url + "/"})

    response = admin_client.post(f"{URL}/test")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert "5 cases" in body["detail"]
    assert [case["id"] for case in body["sample"]] == [c["id"] for c in fake.casos[:3]]
    assert body["sample"][0]["asunto"] == "Sin señal #1"
    assert fake.requests[0].json["action"] == "casos"
    assert fake.requests[0].json["fecha_tipo"] == "crea"
    system = stored()
    assert system.last_test_ok is True and system.last_test_at is not None
    assert admin_client.get(URL).json()["last_test"]["ok"] is True


def test_a_rejected_secret_is_reported_without_the_secret(
    admin_client: Client, fake: FakeGestionReal
) -> None:
    put(admin_client, {"cuit": CUIT, "secret": "equivocada", "base_url": fake.url + "/"})
    response = admin_client.post(f"{URL}/test")
    assert response.status_code == 200
    body = response.json()
    assert body == {"ok": False, "detail": body["detail"], "sample": []}
    assert "credentials rejected (error 90)" in body["detail"]
    assert "equivocada" not in response.content.decode()
    assert stored().last_test_ok is False
    assert AuditEvent.objects.filter(action="integration.tested").count() == 1


def test_an_unreachable_server_is_a_failed_test_not_a_500(
    admin_client: Client, fake: FakeGestionReal
) -> None:
    put(admin_client, {"cuit": CUIT, "secret": fake.secret, "base_url": fake.url + "/"})
    fake.fail_next("server_error")
    body = admin_client.post(f"{URL}/test").json()
    assert body["ok"] is False
    assert "HTTP 500" in body["detail"]
    assert len(fake.requests) == 1  # the admin waits: no retries


def test_without_credentials_the_test_says_what_is_missing(admin_client: Client) -> None:
    body = admin_client.post(f"{URL}/test").json()
    assert body == {"ok": False, "detail": "Enter the CUIT and the secret first.", "sample": []}


def test_saving_the_settings_keeps_what_the_jobs_store(admin_client: Client) -> None:
    system = ExternalSystem.objects.create(
        kind=SystemKind.GESTIONREAL,
        config={"cursor": "2026-11-25T10:00:00-03:00", "close_sync_cursor": 41, "web": {"x": 1}},
    )
    assert put(admin_client, {"username": "soporte"}).status_code == 200
    system.refresh_from_db()
    assert system.config["cursor"] == "2026-11-25T10:00:00-03:00"
    assert system.config["close_sync_cursor"] == 41
    assert system.config["web"] == {"x": 1}  # not part of the change: left as it is
    assert system.config["username"] == "soporte"

    body = {"closed_states": ["Baja"], "close_sync_batch": 10, "web": {"timeout_seconds": 90}}
    assert put(admin_client, body).status_code == 200
    system.refresh_from_db()
    assert system.config["cursor"] == "2026-11-25T10:00:00-03:00"
    assert system.config["close_sync_cursor"] == 41
    assert system.config["web"] == {"timeout_seconds": 90}


# Closing and reopening, and the web export page ------------------------------------------------


def test_the_close_sync_and_web_export_settings_round_trip(admin_client: Client) -> None:
    response = put(
        admin_client,
        {
            "closed_states": [" Finalizado ", "Baja", "finalizado", "BAJA"],
            "reopen_window_hours": 0,
            "close_sync_batch": 200,
            "web": {
                "cases_url": "https://isp.gestionreal.com.ar/index.php?menuitem=12",
                "export_selector": "#exportar",
                "submit_selector": "",
                "max_megabytes": 50,
            },
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["closed_states"] == ["Finalizado", "Baja"]  # trimmed, once each
    assert (body["reopen_window_hours"], body["close_sync_batch"]) == (0, 200)
    changed = {
        "cases_url": "https://isp.gestionreal.com.ar/index.php?menuitem=12",
        "export_selector": "#exportar",
        "submit_selector": "",
        "max_megabytes": 50,
    }
    assert body["web"] == {**DEFAULT_WEB, **changed}
    assert admin_client.get(URL).json() == body
    config = stored().config
    assert config["closed_states"] == ["Finalizado", "Baja"]
    assert (config["reopen_window_hours"], config["close_sync_batch"]) == (0, 200)
    assert config["web"] == changed  # only what differs from the defaults

    # What the export reads: the same values.
    from ispdesk.pipeline.web_export import web_export_settings

    export = web_export_settings(stored())
    assert (export.export_selector, export.submit_selector) == ("#exportar", "")
    assert export.max_bytes == 50 * 2**20


def test_left_out_keys_keep_their_value_and_null_takes_the_default_back(
    admin_client: Client,
) -> None:
    put(
        admin_client,
        {
            "closed_states": ["Finalizado"],
            "reopen_window_hours": 6,
            "close_sync_batch": 20,
            "web": {"export_selector": "#exportar", "timeout_seconds": 120},
        },
    )

    body = put(admin_client, {"username": "soporte", "web": {"timeout_seconds": 90}}).json()

    assert body["closed_states"] == ["Finalizado"]
    assert (body["reopen_window_hours"], body["close_sync_batch"]) == (6, 20)
    assert body["web"]["export_selector"] == "#exportar"
    assert body["web"]["timeout_seconds"] == 90

    body = put(admin_client, {"web": {"export_selector": None}, "closed_states": None}).json()
    assert body["web"]["export_selector"] == EXPORT_SELECTOR
    assert body["closed_states"] == ["Cerrado", "Resuelto"]
    assert stored().config["web"] == {"timeout_seconds": 90}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"closed_states": []}, {"closed_states": "Enter at least one state."}),
        (
            {"closed_states": ["Cerrado", "  "]},
            {"closed_states": "Enter each state without blank values."},
        ),
        (
            {"closed_states": [f"Estado {n}" for n in range(51)]},
            {"closed_states": "At most 50 values of at most 100 characters."},
        ),
        (
            {"closed_states": ["x" * 101]},
            {"closed_states": "At most 50 values of at most 100 characters."},
        ),
        (
            {"reopen_window_hours": 721},
            {"reopen_window_hours": "Enter a whole number from 0 to 720."},
        ),
        (
            {"reopen_window_hours": -1},
            {"reopen_window_hours": "Enter a whole number from 0 to 720."},
        ),
        ({"close_sync_batch": 0}, {"close_sync_batch": "Enter a whole number from 1 to 500."}),
        ({"close_sync_batch": 501}, {"close_sync_batch": "Enter a whole number from 1 to 500."}),
        (
            {"web": {"cases_url": "ftp://isp.example.com/casos"}},
            {"web.cases_url": "Enter an http:// or https:// URL."},
        ),
        (
            {"web": {"cases_url": "index.php?menuitem=10"}},
            {"web.cases_url": "Enter an http:// or https:// URL."},
        ),
        ({"web": {"export_selector": "  "}}, {"web.export_selector": "Enter a CSS selector."}),
        ({"web": {"username_selector": ""}}, {"web.username_selector": "Enter a CSS selector."}),
        (
            {"web": {"timeout_seconds": 4}},
            {"web.timeout_seconds": "Enter a whole number from 5 to 600."},
        ),
        (
            {"web": {"max_megabytes": 101}},
            {"web.max_megabytes": "Enter a whole number from 1 to 100."},
        ),
        ({"web": {"color": "red"}}, {"web.color": "unknown setting"}),
    ],
)
def test_bad_close_sync_and_web_values_are_named(
    admin_client: Client, body: dict[str, Any], fields: dict[str, str]
) -> None:
    put(admin_client, {"close_sync_batch": 30})
    before = dict(stored().config)

    response = put(admin_client, body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["fields"] == fields
    assert stored().config == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reopen_window_hours": True}, "reopen_window_hours"),
        ({"close_sync_batch": "50"}, "close_sync_batch"),
        ({"closed_states": "Cerrado"}, "closed_states"),
        ({"web": {"timeout_seconds": 30.5}}, "web.timeout_seconds"),
        ({"web": {"export_selector": "x" * 501}}, "web.export_selector"),
        ({"web": "#exportar"}, "web"),
    ],
)
def test_values_of_the_wrong_type_are_a_422_naming_them(
    admin_client: Client, body: dict[str, Any], field: str
) -> None:
    response = put(admin_client, body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]
    assert (
        not ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).exclude(config={}).exists()
    )


def test_close_sync_and_web_changes_are_audited(admin_client: Client) -> None:
    put(admin_client, {"password": "clave-web", "login_url": "https://isp.example.com/"})

    put(admin_client, {"closed_states": ["Finalizado"], "web": {"export_selector": "#exportar"}})

    event = AuditEvent.objects.filter(action="integration.updated").latest("pk")
    before, after = event.before or {}, event.after or {}
    assert (before["closed_states"], after["closed_states"]) == (
        ["Cerrado", "Resuelto"],
        ["Finalizado"],
    )
    assert before["web"]["export_selector"] == EXPORT_SELECTOR
    assert after["web"]["export_selector"] == "#exportar"
    assert "clave-web" not in json.dumps([before, after])
    # Saving the same values again changes nothing and records nothing.
    put(admin_client, {"closed_states": ["Finalizado "], "web": {"export_selector": "#exportar"}})
    assert AuditEvent.objects.filter(action="integration.updated").latest("pk") == event
