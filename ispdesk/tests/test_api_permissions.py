"""Every permission boundary of the JSON API, as (endpoint, person) tables."""

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ispdesk.accounts.actions import do_create_token
from ispdesk.accounts.models import User
from ispdesk.system.models import AuditEvent

ADMIN = frozenset({"admin"})
SUPERVISOR = frozenset({"admin", "supervisor"})
EVERYONE = frozenset({"admin", "supervisor", "operator", "outsider"})
PEOPLE = ("anonymous", "outsider", "operator", "supervisor", "admin")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    body: Any = None
    ok: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(self, client: Client, target: User, **extra: Any):  # type: ignore[no-untyped-def]
        path = self.path.format(target=target.pk)
        send = getattr(client, self.method.lower())
        if self.body is None:
            return send(path, **extra)
        return send(path, self.body, content_type="application/json", **extra)


NEW_USER = {"username": "bea", "password": "a-long-and-unusual-passphrase"}
ENDPOINTS = [
    Endpoint("GET", "/api/auth/me", EVERYONE),
    Endpoint("GET", "/api/auth/tokens", EVERYONE),
    Endpoint("POST", "/api/auth/tokens", EVERYONE, {"name": "script"}, ok=201),
    Endpoint("GET", "/api/system/status", EVERYONE),
    Endpoint("GET", "/api/users", SUPERVISOR),
    Endpoint("POST", "/api/users", ADMIN, NEW_USER, ok=201),
    Endpoint("PUT", "/api/users/{target}", ADMIN, {"first_name": "Changed"}),
    Endpoint("GET", "/api/admin/config", ADMIN),
    Endpoint("POST", "/api/admin/config", ADMIN, {"company_name": "Fibra Sur"}),
    Endpoint("POST", "/api/admin/system/pause", ADMIN, {"reason": "maintenance"}),
    Endpoint("POST", "/api/admin/system/resume", ADMIN, {}),
    Endpoint("GET", "/api/logs", ADMIN),
    Endpoint("GET", "/api/admin/jobs", ADMIN),
]
WRITES = [endpoint for endpoint in ENDPOINTS if endpoint.method != "GET"]


@pytest.fixture
def target(db) -> User:  # type: ignore[no-untyped-def]
    """Someone to change: not one of the people making the calls."""
    return User.objects.create(username="target", first_name="Tomás")


def client_for(request, person: str) -> Client:  # type: ignore[no-untyped-def]
    if person == "anonymous":
        return Client()
    return request.getfixturevalue(f"{person}_client")


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_endpoint_admits_exactly_its_people(request, target, endpoint, person):
    client = client_for(request, person)
    audit_before = AuditEvent.objects.count()
    response = endpoint.call(client, target)
    if person in endpoint.allowed:
        assert response.status_code == endpoint.ok, response.content
    elif person == "anonymous":
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    if response.status_code >= 400:
        assert AuditEvent.objects.count() == audit_before
        target.refresh_from_db()
        assert target.first_name == "Tomás"
        assert not User.objects.filter(username="bea").exists()


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
def test_a_session_write_without_the_csrf_token_is_refused(admin, target, endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = endpoint.call(client, target)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
def test_a_bearer_token_write_needs_no_csrf_token(admin, target, endpoint):
    token = do_create_token(admin, admin, "script").secret
    client = Client(enforce_csrf_checks=True)
    response = endpoint.call(client, target, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == endpoint.ok, response.content


@pytest.mark.parametrize("endpoint", [ENDPOINTS[0], *WRITES], ids=str)
def test_a_revoked_token_is_401(admin, target, endpoint):
    new = do_create_token(admin, admin, "leaked")
    new.token.revoked_at = timezone.now()
    new.token.save()
    response = endpoint.call(Client(), target, HTTP_AUTHORIZATION=f"Bearer {new.secret}")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("endpoint", [ENDPOINTS[0], *WRITES], ids=str)
def test_an_inactive_users_token_is_401(supervisor, admin, target, endpoint):
    token = do_create_token(admin, admin, "script").secret
    User.objects.filter(pk=admin.pk).update(is_active=False)
    response = endpoint.call(Client(), target, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


def test_an_inactive_users_session_is_401(admin_client, admin):
    User.objects.filter(pk=admin.pk).update(is_active=False)
    assert admin_client.get("/api/admin/config").status_code == 401
