"""Edges of the API that browsers and attackers reach."""

import json

from django.test import Client

from ispdesk.conftest import PASSWORD


def test_it_refuses_a_text_plain_login_so_no_other_site_can_log_a_browser_in(admin):
    # A cross-site <form enctype="text/plain"> can smuggle JSON, but not this content type.
    body = json.dumps({"username": "admin", "password": PASSWORD})
    response = Client().post("/api/auth/login", body, content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert "_auth_user_id" not in Client().session


def test_a_json_login_still_works(admin):
    client = Client()
    response = client.post(
        "/api/auth/login",
        {"username": "admin", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert client.get("/api/auth/me").json()["username"] == "admin"


def test_an_unknown_route_is_a_json_404_for_every_method_even_with_csrf_enforced(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    for method in ("get", "post", "put", "delete"):
        response = getattr(client, method)("/api/no/such/route")
        assert response.status_code == 404, method
        assert response.json()["code"] == "not_found"
