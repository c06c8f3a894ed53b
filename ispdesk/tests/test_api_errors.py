"""One error shape for the whole API: `{"code", "message"}` (+ `fields`), never a 500."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ispdesk.accounts.models import User
from ispdesk.system.models import AuditEvent


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/users/1/nothing", "/api/admin/"])
def test_an_unknown_api_route_is_a_json_404(admin_client, path):
    assert_error(admin_client.get(path), 404, "not_found")


def test_an_unknown_api_route_is_a_json_404_even_when_anonymous(client):
    assert_error(client.post("/api/v2/tickets"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/users", {"GET", "POST"}),
        ("get", "/api/auth/login", {"POST"}),
        ("patch", "/api/admin/config", {"GET", "POST"}),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(admin_client, method, path, allowed):
    response = getattr(admin_client, method)(path)
    assert_error(response, 405, "method_not_allowed")
    assert set(response["Allow"].split(", ")) == allowed


@pytest.mark.parametrize("body", ["{", '{"username": "ana",}', "nul", "\xff\xfe"])
def test_malformed_json_is_a_400(client, operator, body):
    response = client.post("/api/auth/login", body, content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_malformed_json_to_a_free_form_endpoint_is_a_400(admin_client):
    response = admin_client.post("/api/admin/config", "{'company_name': 1", "application/json")
    assert_error(response, 400, "malformed_json")


def test_a_schema_violation_is_a_422_naming_each_field(admin_client):
    response = admin_client.post(
        "/api/users",
        {"username": "", "role": "emperor", "is_active": "perhaps"},
        content_type="application/json",
    )
    body = assert_error(response, 422, "validation_error")
    assert set(body["fields"]) == {"username", "password", "role", "is_active"}
    assert "username" in body["message"]


def test_a_bad_query_parameter_is_a_422_naming_it(admin_client):
    body = assert_error(admin_client.get("/api/logs?page=zero"), 422, "validation_error")
    assert set(body["fields"]) == {"page"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/auth/login", {"username": "ana\x00", "password": "x"}, "username"),
        ("/api/users", {"username": "bea", "password": "pw", "first_name": "B\x00"}, "first_name"),
        ("/api/auth/tokens", {"name": "\x00"}, "name"),
        ("/api/admin/system/pause", {"reason": "storm\x00"}, "reason"),
        ("/api/admin/config", {"company_name": "Fibra\x00Sur"}, "company_name"),
    ],
)
def test_a_nul_character_is_a_422_naming_the_field(admin_client, path, body, field):
    # PostgreSQL refuses NUL in text; it must be turned away before it reaches the database.
    response = admin_client.post(path, body, content_type="application/json")
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {field}


def test_a_nul_character_in_a_query_is_a_422(admin_client):
    response = admin_client.get("/api/logs", {"actor": "admin\x00"})
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"actor"}


def test_a_nul_character_in_an_api_path_is_a_404(admin_client):
    assert_error(admin_client.post("/api/admin/jobs/a%00b/run"), 404, "not_found")
    assert_error(admin_client.get("/api/users/%00"), 404, "not_found")


# Fuzzing: whatever JSON arrives, the answer is a 2xx or a 4xx with the error shape.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=8,
)
USER_FIELDS = (
    "username",
    "password",
    "first_name",
    "email",
    "role",
    "page_permissions",
    "is_active",
)
user_bodies = (
    st.fixed_dictionaries({}, optional={field: json_values for field in USER_FIELDS}) | json_values
)
CONFIG_KEYS = ("company_name", "job_run_retention_days", "audit_retention_days", "unknown")
config_bodies = st.dictionaries(st.sampled_from(CONFIG_KEYS), json_values, max_size=3) | json_values
fuzz = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_handled(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["code"], str)
        assert isinstance(body["message"], str)


@fuzz
@given(body=st.fixed_dictionaries({}, optional={"username": json_values, "password": json_values}))
def test_login_never_fails_with_a_500(client, operator, body):
    assert_handled(client.post("/api/auth/login", body, content_type="application/json"))


@fuzz
@given(body=user_bodies)
def test_creating_users_never_fails_with_a_500(admin_client, body):
    assert_handled(admin_client.post("/api/users", body, content_type="application/json"))


@fuzz
@given(body=user_bodies)
def test_updating_users_never_fails_with_a_500(admin_client, admin, operator, body):
    response = admin_client.put(f"/api/users/{operator.pk}", body, content_type="application/json")
    assert_handled(response)
    assert User.objects.get(pk=admin.pk).is_admin


@fuzz
@given(body=config_bodies)
def test_posting_config_never_fails_with_a_500(admin_client, body):
    changes_before = AuditEvent.objects.filter(action="config.changed").count()
    response = admin_client.post("/api/admin/config", body, content_type="application/json")
    assert_handled(response)
    if response.status_code >= 400:
        assert AuditEvent.objects.filter(action="config.changed").count() == changes_before


@fuzz
@given(body=json_values)
def test_pausing_never_fails_with_a_500(admin_client, body):
    response = admin_client.post("/api/admin/system/pause", body, content_type="application/json")
    assert_handled(response)


@fuzz
@given(
    query=st.fixed_dictionaries(
        {},
        optional={
            name: st.text(max_size=20)
            for name in ("actor", "action", "object_type", "since", "until", "page", "page_size")
        },
    )
)
def test_filtering_logs_never_fails_with_a_500(admin_client, query):
    assert_handled(admin_client.get("/api/logs", query))
