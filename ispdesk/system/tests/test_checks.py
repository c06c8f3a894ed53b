"""The checks behind `ispdesk check-config`, run in this process."""

import pytest

from ispdesk.system.checks import check_database, check_redis, check_settings


def test_redis_is_fine_when_not_configured(settings):
    settings.REDIS_URL = ""
    result = check_redis()
    assert result.ok
    assert "in-memory" in result.detail


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret-pw@127.0.0.1:1/0",
        "redis://desk:s3cret-pw@127.0.0.1:1/0",
        # Unencoded special characters make the URL parser quote part of the password.
        "redis://:s3cret/pw@127.0.0.1:1/0",
        "redis://desk:s3cret#pw@127.0.0.1:1/0",
    ],
)
def test_an_unreachable_redis_fails_without_showing_the_password(settings, url):
    settings.REDIS_URL = url
    result = check_redis()
    assert not result.ok
    assert "127.0.0.1:1" in result.detail
    assert "s3cret" not in result.detail
    assert "***" in result.detail


def test_the_database_check_names_the_vendor(db):
    result = check_database()
    assert result.ok
    assert result.detail in ("sqlite", "postgresql", "mysql")


def test_debug_outside_demo_is_reported_as_a_warning(settings):
    settings.DEBUG, settings.DEMO, settings.TESTING = True, False, False
    result = check_settings()
    assert result.ok
    assert "DEBUG is on" in result.detail
