"""The `public_url` setting: what it accepts, the reasons it gives, and the `clean` hook of a
text setting that checks it."""

from __future__ import annotations

import pytest

from ispdesk.system import config
from ispdesk.system.config import ConfigKey, ConfigValueError, config_key, get_config
from ispdesk.system.models import AuditEvent, SystemConfig
from ispdesk.system.tests.test_pages import current_form, html

EXPECTED = (
    "expected an http:// or https:// address with a host name, such as "
    "https://desk.example.com, without ? or #"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def parse(raw: object) -> object:
    return config_key("public_url").parse(raw)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("", ""),
        ("   ", ""),
        ("https://desk.example.com", "https://desk.example.com"),
        (" https://desk.example.com/ ", "https://desk.example.com"),
        ("http://10.0.0.5:8000//", "http://10.0.0.5:8000"),
        ("HTTPS://Desk.Example.com/ispdesk/", "HTTPS://Desk.Example.com/ispdesk"),
        ("http://[2001:db8::1]:8080", "http://[2001:db8::1]:8080"),
    ],
)
def test_it_accepts_an_empty_value_or_a_web_address_without_its_trailing_slash(
    raw: str, stored: str
) -> None:
    assert parse(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "desk.example.com",
        "ftp://desk.example.com",
        "javascript:alert(1)",
        "https://",
        "https:///tickets",
        "http://:8000",
        "https://desk.example.com?x=1",
        "https://desk.example.com/?",
        "https://desk.example.com/#top",
        "https://desk.example.com:99999",
        "https://desk.example.com:port",
        "https://desk example.com",
        "https://desk.example.com/\x07",
        "http://[::1",
    ],
)
def test_it_refuses_what_is_not_an_http_address_and_says_what_it_expected(raw: str) -> None:
    with pytest.raises(ConfigValueError) as caught:
        parse(raw)
    assert caught.value.key == "public_url"
    assert caught.value.message == EXPECTED


def test_it_refuses_a_user_name_or_password_which_every_message_would_repeat() -> None:
    with pytest.raises(ConfigValueError) as caught:
        parse("https://admin:s3cret@desk.example.com")
    assert caught.value.message == "must not contain a user name or password"
    assert "s3cret" not in str(caught.value)


def test_it_is_empty_until_an_admin_sets_it(db) -> None:  # type: ignore[no-untyped-def]
    assert get_config("public_url") == ""


def test_a_stored_value_that_no_longer_fits_reads_as_empty(db) -> None:  # type: ignore[no-untyped-def]
    SystemConfig.objects.create(key="public_url", value="desk.example.com")
    assert get_config("public_url") == ""


# The hook, on a key of its own -----------------------------------------------------------------


def test_a_clean_hook_sees_only_non_empty_text_after_the_other_checks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def upper_or_refuse(value: str) -> str:
        seen.append(value)
        if value == "no":
            raise ValueError("not that one")
        return value.upper()

    key = ConfigKey("test_code", "str", "", "A code.", max_length=5, clean=upper_or_refuse)
    monkeypatch.setitem(config._REGISTRY, key.key, key)

    assert key.parse("  abc ") == "ABC"
    assert key.parse("") == ""
    with pytest.raises(ConfigValueError) as refused:
        key.parse("no")
    assert (refused.value.key, refused.value.message) == ("test_code", "not that one")
    with pytest.raises(ConfigValueError) as too_long:
        key.parse("abcdef")
    assert too_long.value.message == "must be at most 5 characters"
    assert seen == ["abc", "no"]


# Through the API and the settings page ---------------------------------------------------------


def test_the_api_stores_the_cleaned_address(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        "/api/admin/config",
        {"public_url": "https://desk.example.com/"},
        content_type="application/json",
    )
    assert response.status_code == 200
    values = {item["key"]: item["value"] for item in response.json()}
    assert values["public_url"] == "https://desk.example.com"
    assert get_config("public_url") == "https://desk.example.com"
    assert AuditEvent.objects.get(action="config.changed").after == "https://desk.example.com"


def test_the_api_names_the_setting_and_the_reason(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        "/api/admin/config", {"public_url": "desk.example.com"}, content_type="application/json"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_config"
    assert body["fields"] == {"public_url": EXPECTED}
    assert not SystemConfig.objects.exists()


def test_the_settings_page_shows_it_and_says_what_is_wrong(admin_client) -> None:  # type: ignore[no-untyped-def]
    page = html(admin_client.get("/settings/"))
    assert 'name="public_url"' in page
    assert "links in WhatsApp messages use it" in page
    assert "only the path (/tickets/12/)" in page

    refused = admin_client.post("/settings/", current_form(public_url="ftp://desk.example.com"))
    assert refused.status_code == 422
    assert "without ? or #" in html(refused)
    assert not SystemConfig.objects.exists()

    saved = admin_client.post("/settings/", current_form(public_url="https://desk.example.com/"))
    assert saved.status_code == 302
    assert get_config("public_url") == "https://desk.example.com"
