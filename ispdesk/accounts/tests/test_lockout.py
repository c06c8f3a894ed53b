"""Brute-force protection (django-axes) on the API login and the login page."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from ispdesk.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _short_cool_off(settings):  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=2)


def api_login(client, password: str, username: str = "ana"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
    )


def fail_api_logins(client, times: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [api_login(client, "wrong-password").status_code for _ in range(times)]


def test_it_locks_out_after_five_failures(client, operator):
    statuses = fail_api_logins(client, 5)
    assert statuses == [401, 401, 401, 401, 429]
    response = api_login(client, "wrong-password")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert response.json()["message"]


def test_it_refuses_the_right_password_while_locked(client, operator):
    fail_api_logins(client, 5)
    response = api_login(client, PASSWORD)
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert client.get("/api/auth/me").status_code == 401


def test_four_failures_do_not_lock_and_a_success_resets_the_count(client, operator):
    fail_api_logins(client, 4)
    assert api_login(client, PASSWORD).status_code == 200
    client.post("/api/auth/logout")
    assert fail_api_logins(client, 4) == [401, 401, 401, 401]


def test_the_lock_is_per_username(client, operator, admin):
    fail_api_logins(client, 5)
    assert api_login(client, PASSWORD, username="admin").status_code == 200


def test_the_lock_lifts_after_the_cool_off(client, operator):
    fail_api_logins(client, 5)
    assert api_login(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=3))
    response = api_login(client, PASSWORD)
    assert response.status_code == 200
    assert response.json()["username"] == "ana"


def test_the_lock_holds_until_the_cool_off_has_passed(client, operator):
    fail_api_logins(client, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=1))
    assert api_login(client, PASSWORD).status_code == 429


def test_the_login_page_shows_the_lockout_page_after_too_many_failures(client, operator):
    for _ in range(5):
        client.post("/login/", {"username": "ana", "password": "wrong-password"})
    response = client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 429
    assert "accounts/locked_out.html" in [template.name for template in response.templates]
    assert not response.wsgi_request.user.is_authenticated


def test_the_login_page_still_lets_a_person_in_below_the_limit(client, operator):
    for _ in range(4):
        assert client.post("/login/", {"username": "ana", "password": "nope"}).status_code == 200
    response = client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302


def test_the_failure_limit_comes_from_the_settings(client, operator, settings):
    settings.AXES_FAILURE_LIMIT = 3
    assert fail_api_logins(client, 3) == [401, 401, 429]
