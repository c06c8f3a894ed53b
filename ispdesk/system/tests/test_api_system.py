"""The system pause: admins stop and restart automation; everyone sees the state."""

from ispdesk.system.actions import is_system_paused
from ispdesk.system.models import AuditEvent


def status(client) -> dict:  # type: ignore[no-untyped-def]
    response = client.get("/api/system/status")
    assert response.status_code == 200
    return response.json()


def test_the_system_runs_until_paused(operator_client):
    assert status(operator_client) == {
        "paused": False,
        "paused_at": None,
        "paused_by": None,
        "reason": "",
    }


def test_an_admin_pauses_with_a_reason_and_everyone_sees_it(admin_client, operator_client):
    response = admin_client.post(
        "/api/admin/system/pause", {"reason": "Splynx upgrade"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["paused"] is True
    seen = status(operator_client)
    assert seen["paused"] is True
    assert seen["paused_by"] == "admin"
    assert seen["reason"] == "Splynx upgrade"
    assert seen["paused_at"] is not None
    assert is_system_paused()


def test_pausing_needs_no_body(admin_client):
    response = admin_client.generic("POST", "/api/admin/system/pause", b"")
    assert response.status_code == 200
    assert response.json()["paused"] is True
    assert response.json()["reason"] == ""


def test_an_admin_resumes_and_the_state_clears(admin_client, supervisor_client):
    admin_client.post("/api/admin/system/pause")
    response = admin_client.post("/api/admin/system/resume")
    assert response.status_code == 200
    assert status(supervisor_client) == {
        "paused": False,
        "paused_at": None,
        "paused_by": None,
        "reason": "",
    }
    assert not is_system_paused()


def test_pause_and_resume_are_audited_once_each(admin_client, admin):
    admin_client.post("/api/admin/system/pause", {"reason": "storm"}, "application/json")
    admin_client.post("/api/admin/system/pause", {"reason": "again"}, "application/json")
    admin_client.post("/api/admin/system/resume")
    admin_client.post("/api/admin/system/resume")
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "after"))
    assert events == [
        ("system.paused", admin.pk, {"reason": "storm"}),
        ("system.resumed", admin.pk, None),
    ]


def test_pausing_again_keeps_the_first_reason(admin_client):
    admin_client.post("/api/admin/system/pause", {"reason": "storm"}, "application/json")
    admin_client.post("/api/admin/system/pause", {"reason": "again"}, "application/json")
    assert status(admin_client)["reason"] == "storm"


def test_a_too_long_reason_is_422(admin_client):
    response = admin_client.post(
        "/api/admin/system/pause", {"reason": "x" * 201}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "reason" in response.json()["fields"]
    assert not is_system_paused()
