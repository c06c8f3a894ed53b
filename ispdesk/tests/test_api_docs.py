"""The OpenAPI schema and the interactive docs."""

import pytest

EXPECTED_ROUTES = {
    "/api/auth/login": {"post"},
    "/api/auth/logout": {"post"},
    "/api/auth/me": {"get"},
    "/api/auth/tokens": {"get", "post"},
    "/api/auth/tokens/{token_id}": {"delete"},
    "/api/users": {"get", "post"},
    "/api/users/{user_id}": {"put"},
    "/api/admin/config": {"get", "post"},
    "/api/system/status": {"get"},
    "/api/admin/system/pause": {"post"},
    "/api/admin/system/resume": {"post"},
    "/api/logs": {"get"},
    "/api/admin/jobs": {"get"},
}


@pytest.fixture
def schema(client) -> dict:  # type: ignore[no-untyped-def]
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_openapi_schema_lists_the_routes_and_their_methods(schema):
    paths = schema["paths"]
    for path, methods in EXPECTED_ROUTES.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path


def test_the_openapi_schema_declares_bearer_and_session_auth(schema):
    schemes = schema["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}
    assert "security" not in schema["paths"]["/api/auth/login"]["post"]
    assert schema["paths"]["/api/users"]["get"]["security"]


def test_the_docs_page_answers_a_logged_in_user(operator_client):
    response = operator_client.get("/api/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
