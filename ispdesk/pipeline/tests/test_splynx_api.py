"""The Splynx settings API: permissions, write-only credentials, secret_required, the test
endpoint against the fake Splynx (up, down, bad credentials), the catalog, the customer and
time settings, and a save that keeps the config keys it does not own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from ispdesk.pipeline.flow import _store_runtime_value
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.splynx import (
    API_KEY,
    API_SECRET,
    PASSWORD,
    FakeSplynx,
    serving_fake_splynx,
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    # These tests read the wording; the product speaks es-AR unless told otherwise.
    settings.LANGUAGE_CODE = "en"


URL = "/api/admin/integrations/splynx"


@pytest.fixture
def splynx() -> Iterator[FakeSplynx]:
    with serving_fake_splynx() as fake:
        yield fake


def put(client: Client, body: Any, path: str = URL) -> Any:
    return client.put(path, body, content_type="application/json")


def post(client: Client, path: str, body: Any = None) -> Any:
    if body is None:
        return client.post(path)
    return client.post(path, body, content_type="application/json")


def configure(client: Client, fake: FakeSplynx, **changes: Any) -> Any:
    body = {
        "enabled": True,
        "base_url": fake.url,
        "auth_type": "api_key",
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        **changes,
    }
    response = put(client, body)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_lets_only_admins_in(
    client: Client, operator_client: Client, supervisor_client: Client
) -> None:
    assert client.get(URL).status_code == 401
    assert operator_client.get(URL).status_code == 403
    assert supervisor_client.get(URL).status_code == 403
    assert put(supervisor_client, {"enabled": False}).status_code == 403
    assert post(supervisor_client, URL + "/test").status_code == 403
    assert supervisor_client.get(URL + "/catalog").status_code == 403
    assert put(supervisor_client, {}, URL + "/operators").status_code == 403


def test_it_starts_empty(admin_client: Client) -> None:
    body = admin_client.get(URL).json()
    assert body["enabled"] is False and body["base_url"] == ""
    assert (body["has_password"], body["has_api_key"], body["has_api_secret"]) == (
        False,
        False,
        False,
    )
    assert body["mappings"]["statuses"] == {}


def test_it_stores_credentials_but_never_returns_them(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    body = configure(admin_client, splynx)
    assert body["has_api_key"] and body["has_api_secret"] and not body["has_password"]
    text = admin_client.get(URL).content.decode()
    assert API_SECRET not in text and API_KEY not in text
    system = ExternalSystem.objects.get(kind=SystemKind.SPLYNX)
    assert system.secrets == {"api_key": API_KEY, "api_secret": API_SECRET}
    assert "api_secret" not in system.config
    audit = AuditEvent.objects.get(action="integration.splynx.updated")
    assert audit.after is not None and audit.after["has_api_secret"] is True
    assert API_SECRET not in str(audit.after)


def test_leaving_a_credential_out_keeps_it(admin_client: Client, splynx: FakeSplynx) -> None:
    configure(admin_client, splynx)
    response = put(admin_client, {"login": "someone", "api_secret": ""})
    assert response.status_code == 200
    system = ExternalSystem.objects.get(kind=SystemKind.SPLYNX)
    assert system.secrets["api_secret"] == API_SECRET and system.config["login"] == "someone"


def test_a_new_address_needs_the_credentials_again(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    configure(admin_client, splynx)
    response = put(admin_client, {"base_url": "https://elsewhere.example.com"})
    assert response.status_code == 422
    assert response.json()["code"] == "secret_required"
    assert set(response.json()["fields"]) == {"api_key", "api_secret"}
    # The test endpoint obeys the same rule: no stored secret goes to a new address.
    tried = post(admin_client, URL + "/test", {"base_url": "https://elsewhere.example.com"})
    assert tried.status_code == 422 and tried.json()["code"] == "secret_required"
    moved = put(
        admin_client,
        {"base_url": "https://elsewhere.example.com", "api_key": "k2", "api_secret": "s2"},
    )
    assert moved.status_code == 200
    system = ExternalSystem.objects.get(kind=SystemKind.SPLYNX)
    assert system.secrets == {"api_key": "k2", "api_secret": "s2"}


def test_it_names_each_invalid_field(admin_client: Client) -> None:
    response = put(
        admin_client,
        {
            "enabled": True,
            "base_url": "ftp://x?y=1",
            "auth_type": "admin",
            "mappings": {"statuses": {"nonsense": 3}, "default_group_id": 0},
        },
    )
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert {"base_url", "mappings.statuses.nonsense", "mappings.default_group_id"} <= set(fields)
    bad_kind = put(admin_client, {"auth_type": "oauth"})
    assert bad_kind.status_code == 422 and "auth_type" in bad_kind.json()["fields"]


def test_enabling_needs_the_credentials_of_the_scheme(admin_client: Client) -> None:
    response = put(
        admin_client, {"enabled": True, "base_url": "https://s.example.com", "auth_type": "admin"}
    )
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"login", "password"}


def test_it_saves_the_mappings(admin_client: Client, splynx: FakeSplynx) -> None:
    mappings = {
        "statuses": {"new": 1, "closed": 3},
        "default_group_id": 1,
        "default_type_id": 1,
        "resolved_status_id": 3,
        "new_status_id": 1,
    }
    body = configure(admin_client, splynx, mappings=mappings)
    assert body["mappings"] == mappings


def test_the_test_endpoint_lists_the_administrators(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    configure(admin_client, splynx)
    body = post(admin_client, URL + "/test").json()
    assert body["ok"] is True
    assert [admin["login"] for admin in body["administrators"]] == ["ana", "juan"]
    last = admin_client.get(URL).json()["last_test"]
    assert last["ok"] is True and last["at"]


def test_the_test_endpoint_tries_unsaved_settings_without_saving_them(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    body = {
        "base_url": splynx.url,
        "auth_type": "admin",
        "login": "api-admin",
        "password": PASSWORD,
    }
    answer = post(admin_client, URL + "/test", body).json()
    assert answer["ok"] is True and len(answer["administrators"]) == 2
    assert admin_client.get(URL).json()["base_url"] == ""


def test_bad_credentials_are_said_in_words(
    admin_client: Client, splynx: FakeSplynx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    configure(admin_client, splynx, api_secret="not-the-secret-at-all")
    response = post(admin_client, URL + "/test")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["administrators"] == []
    assert "credentials" in body["detail"].lower()
    assert "not-the-secret-at-all" not in response.content.decode()
    assert "not-the-secret-at-all" not in caplog.text


def test_a_server_that_is_down_is_said_in_words(admin_client: Client) -> None:
    put(
        admin_client,
        {"base_url": "http://127.0.0.1:9", "api_key": "k", "api_secret": "s"},
    )
    body = post(admin_client, URL + "/test").json()
    assert body["ok"] is False and "connect" in body["detail"].lower()
    assert admin_client.get(URL).json()["last_test"]["ok"] is False


def test_an_address_that_is_not_splynx_is_an_unexpected_answer(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    configure(admin_client, splynx)
    splynx.fail_next("not_json")
    body = post(admin_client, URL + "/test").json()
    assert body["ok"] is False and "unexpected" in body["detail"].lower()


def test_the_catalog_is_fetched_live(admin_client: Client, splynx: FakeSplynx) -> None:
    assert admin_client.get(URL + "/catalog").json()["code"] == "not_configured"
    configure(admin_client, splynx)
    body = admin_client.get(URL + "/catalog").json()
    assert body["statuses"][2] == {"id": 3, "title": "Resolved"}
    assert body["groups"] == [{"id": 1, "title": "Soporte técnico"}]
    assert [admin["name"] for admin in body["administrators"]] == ["Ana Pérez", "Juan Gómez"]
    splynx.fail_next("server_error")
    failed = admin_client.get(URL + "/catalog")
    assert failed.status_code == 502 and failed.json()["code"] == "splynx_unavailable"


# Customers and time --------------------------------------------------------------------------


def test_it_answers_the_customer_defaults(admin_client: Client, settings: Any) -> None:
    body = admin_client.get(URL).json()
    assert body["time_zone"] == settings.TIME_ZONE
    assert (body["customer_match"], body["dni_attribute"]) == ("login", "")


def test_the_customer_settings_round_trip(admin_client: Client, splynx: FakeSplynx) -> None:
    chosen = {"time_zone": "UTC", "customer_match": "none", "dni_attribute": "dni_number"}
    body = configure(admin_client, splynx, **chosen)
    assert {name: body[name] for name in chosen} == chosen
    again = admin_client.get(URL).json()
    assert {name: again[name] for name in chosen} == chosen
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert {name: config[name] for name in chosen} == chosen
    audit = AuditEvent.objects.get(action="integration.splynx.updated")
    assert audit.after is not None and audit.after["time_zone"] == "UTC"
    changed = put(admin_client, {"time_zone": "Pacific/Chatham", "customer_match": "login"})
    assert changed.status_code == 200
    assert changed.json()["time_zone"] == "Pacific/Chatham"
    assert changed.json()["dni_attribute"] == "dni_number"


def test_blank_means_the_projects_zone_and_no_dni_matching(
    admin_client: Client, splynx: FakeSplynx, settings: Any
) -> None:
    configure(admin_client, splynx, time_zone="UTC", dni_attribute="dni")
    body = put(admin_client, {"time_zone": " ", "dni_attribute": ""}).json()
    assert (body["time_zone"], body["dni_attribute"]) == (settings.TIME_ZONE, "")
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert (config["time_zone"], config["dni_attribute"]) == ("", "")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("time_zone", "Mars/Olympus_Mons", "Unknown time zone"),
        ("time_zone", "utc", "Unknown time zone"),
        ("time_zone", "America", "Unknown time zone"),
        ("time_zone", "../../etc/passwd", "Unknown time zone"),
        ("time_zone", "/etc/localtime", "Unknown time zone"),
        ("time_zone", "localtime", "Unknown time zone"),
        ("time_zone", "America/" + "A" * 70, "Unknown time zone"),
        ("time_zone", 3, "string"),
        ("customer_match", "dni", "Choose one of: login, none"),
        ("customer_match", "", "Choose one of: login, none"),
        ("dni_attribute", "dni; drop", "letters, digits and _"),
        ("dni_attribute", "número", "letters, digits and _"),
        ("dni_attribute", "a[b]", "letters, digits and _"),
        ("dni_attribute", "d" * 65, "letters, digits and _"),
    ],
)
def test_each_bad_customer_setting_is_named(
    admin_client: Client, splynx: FakeSplynx, name: str, value: Any, words: str
) -> None:
    configure(admin_client, splynx, time_zone="UTC", dni_attribute="dni")
    response = put(admin_client, {name: value, "login": "changed"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["fields"]) == {name}
    assert words in body["fields"][name]
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert (config["time_zone"], config["dni_attribute"], config["login"]) == ("UTC", "dni", "")


def test_a_save_keeps_the_config_keys_it_does_not_own(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    configure(admin_client, splynx, time_zone="UTC", dni_attribute="dni")
    # A job's runtime value, written the way the jobs write theirs, and a key from elsewhere.
    _store_runtime_value(SystemKind.SPLYNX, "status_cursor", "2025-05-01T12:00:00+00:00")
    system = ExternalSystem.objects.get(kind=SystemKind.SPLYNX)
    system.config = {**system.config, "field_names": {"dni": ["documento"]}}
    system.save()

    assert put(admin_client, {"login": "someone", "customer_match": "none"}).status_code == 200
    assert put(admin_client, {"mappings": {"default_group_id": 1}}).status_code == 200

    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert config["status_cursor"] == "2025-05-01T12:00:00+00:00"
    assert config["field_names"] == {"dni": ["documento"]}
    assert (config["time_zone"], config["dni_attribute"]) == ("UTC", "dni")
    assert (config["login"], config["customer_match"]) == ("someone", "none")
    assert config["mappings"]["default_group_id"] == 1
    # The audit log keeps settings, not the jobs' runtime values.
    for event in AuditEvent.objects.filter(action="integration.splynx.updated"):
        assert "status_cursor" not in (event.before or {})
        assert "status_cursor" not in (event.after or {})
