"""Gestión Real settings over the API: admins only, credentials write-only, the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from ispdesk.integrations.gestionreal.client import DEFAULT_BASE_URL
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
    assert "1 CSV files wait" in test["detail"]


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


def test_saving_the_settings_keeps_what_the_jobs_store(admin_client):
    from ispdesk.pipeline.gestionreal_settings import do_save_gestionreal, gestionreal_system

    system = gestionreal_system()
    system.config = {**system.config, "cursor": "2026-11-25T10:00:00-03:00", "web": {"x": 1}}
    system.save()
    do_save_gestionreal(None, {"username": "soporte"})
    system.refresh_from_db()
    assert system.config["cursor"] == "2026-11-25T10:00:00-03:00"
    assert system.config["web"] == {"x": 1}
    assert system.config["username"] == "soporte"
