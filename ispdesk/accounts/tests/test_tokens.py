"""Personal API tokens: shown once, stored as a hash, revocable; `ispdesk createtoken`."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from ispdesk.accounts.models import ApiToken, hash_token
from ispdesk.system.models import AuditEvent


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def create_token(user_client, name: str = "laptop") -> dict:  # type: ignore[no-untyped-def]
    response = user_client.post("/api/auth/tokens", {"name": name}, content_type="application/json")
    assert response.status_code == 201
    return response.json()


def test_createtoken_prints_a_token_that_authenticates_me(client, operator):
    out = StringIO()
    call_command("createtoken", "ana", stdout=out)
    assert out.getvalue().count("\n") == 1  # the token alone, once
    token = out.getvalue().strip()
    assert token.startswith("isp_")
    response = client.get("/api/auth/me", **bearer(token))
    assert response.status_code == 200
    assert response.json()["username"] == "ana"


def test_createtoken_stores_only_the_hash(operator):
    out = StringIO()
    call_command("createtoken", "ana", "--name", "splynx sync", stdout=out)
    token = out.getvalue().strip()
    stored = ApiToken.objects.get(user=operator)
    assert stored.name == "splynx sync"
    assert stored.token_hash == hash_token(token)
    assert token not in (stored.token_hash, stored.prefix, stored.name)
    assert token.startswith(stored.prefix)
    assert len(stored.prefix) < len(token) // 2


def test_createtoken_refuses_an_unknown_or_inactive_user(operator):
    operator.is_active = False
    operator.save()
    with pytest.raises(CommandError, match="no active user named 'ana'"):
        call_command("createtoken", "ana", stdout=StringIO())
    with pytest.raises(CommandError, match="no active user named 'nobody'"):
        call_command("createtoken", "nobody", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_a_token_created_through_the_api_is_shown_once(operator_client, operator):
    created = create_token(operator_client)
    assert created["token"].startswith(created["prefix"])
    assert created["username"] == "ana"
    listed = operator_client.get("/api/auth/tokens").json()
    assert [token["id"] for token in listed] == [created["id"]]
    assert "token" not in listed[0]
    assert AuditEvent.objects.filter(action="token.created", object_id=str(created["id"])).exists()


def test_the_token_list_shows_only_ones_own_tokens(operator_client, supervisor_client):
    create_token(operator_client)
    assert supervisor_client.get("/api/auth/tokens").json() == []


def test_a_bearer_token_records_when_it_was_last_used(client, operator_client):
    created = create_token(operator_client)
    assert ApiToken.objects.get(pk=created["id"]).last_used_at is None
    client.get("/api/auth/me", **bearer(created["token"]))
    assert ApiToken.objects.get(pk=created["id"]).last_used_at is not None


def test_a_revoked_token_is_401(client, operator_client):
    created = create_token(operator_client)
    response = operator_client.delete(f"/api/auth/tokens/{created['id']}")
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    refused = client.get("/api/auth/me", **bearer(created["token"]))
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_revoking_twice_changes_nothing(operator_client):
    created = create_token(operator_client)
    first = operator_client.delete(f"/api/auth/tokens/{created['id']}").json()
    second = operator_client.delete(f"/api/auth/tokens/{created['id']}").json()
    assert first["revoked_at"] == second["revoked_at"]
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_an_inactive_users_token_is_401(client, operator_client, operator):
    created = create_token(operator_client)
    operator.is_active = False
    operator.save()
    assert client.get("/api/auth/me", **bearer(created["token"])).status_code == 401


def test_a_made_up_token_is_401(client, operator):
    assert client.get("/api/auth/me", **bearer("isp_made-up")).status_code == 401
    assert client.get("/api/auth/me", HTTP_AUTHORIZATION="Bearer").status_code == 401


def test_an_operator_cannot_revoke_someone_elses_token(operator_client, supervisor_client):
    created = create_token(supervisor_client)
    response = operator_client.delete(f"/api/auth/tokens/{created['id']}")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is None


def test_an_admin_can_revoke_a_leaked_token_of_anyone(admin_client, operator_client):
    created = create_token(operator_client)
    response = admin_client.delete(f"/api/auth/tokens/{created['id']}")
    assert response.status_code == 200
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None


def test_bearer_writes_need_no_csrf_token(operator_client):
    created = create_token(operator_client)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/tokens",
        {"name": "from a script"},
        content_type="application/json",
        **bearer(created["token"]),
    )
    assert response.status_code == 201
