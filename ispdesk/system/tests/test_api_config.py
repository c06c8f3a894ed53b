"""Business settings through the API: typed, validated as a whole, audited, live at once."""

import pytest

from ispdesk.system.config import get_config
from ispdesk.system.models import AuditEvent, SystemConfig


def post_config(client, body):  # type: ignore[no-untyped-def]
    return client.post("/api/admin/config", body, content_type="application/json")


def test_it_lists_every_key_with_its_type_default_and_description(admin_client):
    response = admin_client.get("/api/admin/config")
    assert response.status_code == 200
    items = {item["key"]: item for item in response.json()}
    assert {"company_name", "job_run_retention_days", "audit_retention_days"} <= set(items)
    retention = items["audit_retention_days"]
    assert retention["type"] == "int"
    assert retention["default"] == retention["value"] == 365
    assert (retention["minimum"], retention["maximum"]) == (30, 3650)
    assert retention["description"]
    assert items["company_name"]["type"] == "str"


def test_good_values_are_stored_and_read_back_at_once(admin_client):
    assert get_config("company_name") == "ispdesk"  # warms this process's cache
    response = post_config(
        admin_client, {"company_name": "  Fibra Sur  ", "audit_retention_days": "90"}
    )
    assert response.status_code == 200
    assert get_config("company_name") == "Fibra Sur"
    assert get_config("audit_retention_days") == 90
    assert SystemConfig.objects.get(key="audit_retention_days").value == 90
    values = {item["key"]: item["value"] for item in response.json()}
    assert values["company_name"] == "Fibra Sur"


def test_a_change_is_audited_with_before_and_after(admin_client, admin):
    post_config(admin_client, {"job_run_retention_days": 7})
    event = AuditEvent.objects.get(action="config.changed")
    assert event.actor == admin
    assert event.object_id == "job_run_retention_days"
    assert (event.before, event.after) == (30, 7)


def test_each_changed_key_gets_its_own_audit_event(admin_client):
    post_config(admin_client, {"job_run_retention_days": 7, "company_name": "Fibra Sur"})
    changed = AuditEvent.objects.filter(action="config.changed")
    assert sorted(changed.values_list("object_id", flat=True)) == [
        "company_name",
        "job_run_retention_days",
    ]


def test_saving_an_unchanged_value_records_nothing(admin_client):
    post_config(admin_client, {"company_name": "ispdesk"})
    assert not AuditEvent.objects.filter(action="config.changed").exists()


def test_the_stored_value_records_who_changed_it(admin_client, admin):
    post_config(admin_client, {"company_name": "Fibra Sur"})
    assert SystemConfig.objects.get(key="company_name").updated_by == admin


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("job_run_retention_days", "soon"),
        ("job_run_retention_days", 2.5),
        ("job_run_retention_days", True),
        ("job_run_retention_days", 0),
        ("job_run_retention_days", 3651),
        ("audit_retention_days", 29),
        ("company_name", 42),
        ("company_name", "x" * 81),
        ("no_such_setting", 1),
    ],
)
def test_a_bad_value_is_422_naming_the_key(admin_client, key, value):
    response = post_config(admin_client, {key: value})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_config"
    assert list(response.json()["fields"]) == [key]
    assert not SystemConfig.objects.exists()


def test_every_bad_key_is_named_and_nothing_is_stored_not_even_the_good_ones(admin_client):
    response = post_config(
        admin_client,
        {
            "company_name": "Fibra Sur",
            "job_run_retention_days": 0,
            "audit_retention_days": "forever",
            "colour": "blue",
        },
    )
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {
        "job_run_retention_days",
        "audit_retention_days",
        "colour",
    }
    assert not SystemConfig.objects.exists()
    assert not AuditEvent.objects.exists()
    assert get_config("company_name") == "ispdesk"


@pytest.mark.parametrize("body", [{}, [], ["company_name"], '"Fibra Sur"', None])
def test_a_body_that_is_not_a_mapping_of_settings_is_422(admin_client, body):
    response = post_config(admin_client, body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
