"""Logging in and out through the JSON API, and who am I."""

from django.conf import settings
from django.test import Client

from ispdesk.conftest import PASSWORD
from ispdesk.system.models import AuditEvent


def login(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/auth/login",
        {"username": username, "password": password},
        content_type="application/json",
    )


def test_it_logs_in_with_the_right_password_and_sets_a_session_cookie(client, operator):
    response = login(client, "ana", PASSWORD)
    assert response.status_code == 200
    assert response.json()["username"] == "ana"
    assert response.json()["role"] == "operator"
    assert response.json()["page_permissions"] == ["operator_view"]
    assert "password" not in response.json()
    assert response.cookies[settings.SESSION_COOKIE_NAME].value
    assert response.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.get("/api/auth/me").json()["username"] == "ana"


def test_it_records_the_login_in_the_audit_log(client, operator):
    login(client, "ana", PASSWORD)
    event = AuditEvent.objects.get(action="user.login")
    assert event.actor == operator
    assert event.ip_address == "127.0.0.1"


def test_it_refuses_a_wrong_password_with_invalid_credentials(client, operator):
    response = login(client, "ana", "not-her-password")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response.json()["message"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert client.get("/api/auth/me").status_code == 401


def test_it_answers_an_unknown_user_exactly_like_a_wrong_password(client, operator):
    unknown = login(client, "nobody", PASSWORD)
    wrong = login(client, "ana", "not-her-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_it_refuses_an_inactive_user_with_the_right_password(client, operator):
    operator.is_active = False
    operator.save()
    response = login(client, "ana", PASSWORD)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_it_requires_both_fields(client, operator):
    response = client.post("/api/auth/login", {"username": "ana"}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "password" in response.json()["fields"]


def test_me_describes_the_logged_in_user(operator_client, operator):
    response = operator_client.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["id"] == operator.pk
    assert response.json()["first_name"] == "Ana"


def test_me_is_401_when_anonymous(client):
    response = client.get("/api/auth/me", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "message": "Authentication required."}


def test_logout_ends_the_session(operator_client):
    response = operator_client.post("/api/auth/logout")
    assert response.status_code == 204
    assert operator_client.get("/api/auth/me").status_code == 401
    assert AuditEvent.objects.filter(action="user.logout").count() == 1


def test_logout_is_401_when_anonymous(client):
    assert client.post("/api/auth/logout").status_code == 401


def test_a_session_cookie_from_login_needs_the_csrf_token_for_writes(operator):
    client = Client(enforce_csrf_checks=True)
    assert login(client, "ana", PASSWORD).status_code == 200
    refused = client.post("/api/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.post("/api/auth/logout", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 204
