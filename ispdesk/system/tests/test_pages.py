"""The system pages: settings, the system pause and its banner, the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from ispdesk.system import config
from ispdesk.system.audit import record_audit
from ispdesk.system.config import ConfigKey, config_keys, get_config
from ispdesk.system.models import AuditEvent, SystemConfig, SystemState
from ispdesk.system.views import AUDIT_PAGE_SIZE, Change, audit_changes


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# Settings -----------------------------------------------------------------------------------


@pytest.fixture
def extra_keys(monkeypatch):  # type: ignore[no-untyped-def]
    """A setting of each remaining type, registered for one test."""
    keys = [
        ConfigKey("test_flag", "bool", True, "A test switch.", group="Tests"),
        ConfigKey("test_tags", "list", ["[TT]", "[TD]"], "Test tags.", group="Tests"),
        ConfigKey(
            "test_mode", "str", "fast", "Test mode.", group="Tests", choices=("fast", "slow")
        ),
    ]
    for key in keys:
        monkeypatch.setitem(config._REGISTRY, key.key, key)
    return keys


def current_form(**changes: object) -> dict[str, object]:
    """What the browser sends for the page as shown, with some values changed."""
    data: dict[str, object] = {}
    for item in config_keys():
        value = get_config(item.key)
        if item.type == "bool":
            if value:
                data[item.key] = "on"
        elif item.type == "list":
            data[item.key] = "\n".join(value)
        else:
            data[item.key] = str(value)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_it_shows_every_setting_with_its_description_and_default(admin_client):
    page = html(admin_client.get("/settings/"))
    for item in config_keys():
        assert f'name="{item.key}"' in page
        assert escape(str(item.description)) in page
    assert "General" in page and "Housekeeping" in page
    assert 'min="30"' in page and 'max="3650"' in page
    assert "Default:" in page


@pytest.mark.parametrize("fixture", ["supervisor_client", "operator_client", "outsider_client"])
def test_it_forbids_settings_to_everyone_but_admins(request, fixture):
    client = request.getfixturevalue(fixture)
    assert client.get("/settings/").status_code == 403
    assert client.post("/settings/", current_form(company_name="Hacked")).status_code == 403
    assert not SystemConfig.objects.exists()


def test_it_saves_settings_and_audits_only_what_changed(admin_client, admin):
    form = current_form(company_name="FibraSur", audit_retention_days="90")
    response = admin_client.post("/settings/", form)
    assert response.status_code == 302
    assert get_config("company_name") == "FibraSur"
    assert get_config("audit_retention_days") == 90
    assert set(SystemConfig.objects.values_list("key", flat=True)) == {
        "company_name",
        "audit_retention_days",
    }
    changed = set(
        AuditEvent.objects.filter(action="config.changed").values_list("object_id", flat=True)
    )
    assert changed == {"company_name", "audit_retention_days"}
    page = html(admin_client.get("/settings/"))
    assert "Settings saved." in page
    assert "FibraSur" in page  # the header shows the new company name


def test_it_stores_nothing_when_one_value_is_bad(admin_client):
    form = current_form(company_name="FibraSur", audit_retention_days="5")
    response = admin_client.post("/settings/", form)
    assert response.status_code == 422
    page = html(response)
    assert "must be at least 30" in page
    assert "Nothing was saved" in page
    assert not SystemConfig.objects.exists()
    assert not AuditEvent.objects.exists()
    assert get_config("company_name") == "ispdesk"


def test_it_says_why_a_number_is_not_a_number(admin_client):
    response = admin_client.post("/settings/", current_form(job_run_retention_days="many"))
    assert response.status_code == 422
    assert "expected a whole number" in html(response)


def test_it_edits_switches_lists_and_choices(admin_client, extra_keys):
    page = html(admin_client.get("/settings/"))
    assert 'type="checkbox" name="test_flag"' in page
    assert "<textarea" in page and "[TT]\n[TD]" in page
    assert '<option value="slow">' in page
    form = current_form(test_flag=None, test_tags="[TN]\n\n [TM] \n", test_mode="slow")
    response = admin_client.post("/settings/", form)
    assert response.status_code == 302
    assert get_config("test_flag") is False
    assert get_config("test_tags") == ["[TN]", "[TM]"]
    assert get_config("test_mode") == "slow"


def test_it_refuses_a_choice_that_is_not_offered(admin_client, extra_keys):
    response = admin_client.post("/settings/", current_form(test_mode="reckless"))
    assert response.status_code == 422
    assert "must be one of: fast, slow" in html(response)
    assert not SystemConfig.objects.exists()


# System pause -------------------------------------------------------------------------------


def test_it_pauses_and_resumes_the_system(admin_client, admin):
    response = admin_client.post(
        "/system/pause/", {"reason": "Splynx maintenance", "next": "/jobs/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/jobs/"
    state = SystemState.load()
    assert state.paused and state.paused_by == admin
    assert state.reason == "Splynx maintenance"
    assert AuditEvent.objects.filter(action="system.paused").exists()
    page = html(admin_client.get("/"))
    assert "The system is paused." in page
    assert "Splynx maintenance" in page
    assert 'action="/system/resume/"' in page

    admin_client.post("/system/resume/")
    assert not SystemState.load().paused
    assert AuditEvent.objects.filter(action="system.resumed").exists()
    assert "The system is paused." not in html(admin_client.get("/"))


def test_it_shows_the_pause_banner_to_everyone_but_the_button_only_to_admins(
    operator_client, admin
):
    from ispdesk.system.actions import do_pause_system

    do_pause_system(admin, "outage")
    page = html(operator_client.get("/tokens/"))
    assert "The system is paused." in page
    assert "outage" in page
    assert 'action="/system/resume/"' not in page


@pytest.mark.parametrize("fixture", ["supervisor_client", "operator_client"])
def test_it_forbids_pausing_to_everyone_but_admins(request, fixture):
    client = request.getfixturevalue(fixture)
    assert client.post("/system/pause/", {"reason": "x"}).status_code == 403
    assert not SystemState.objects.filter(paused=True).exists()


def test_it_pauses_with_a_post_only(admin_client):
    assert admin_client.get("/system/pause/").status_code == 405
    assert not SystemState.objects.filter(paused=True).exists()


def test_it_does_not_follow_a_next_url_to_another_site(admin_client):
    response = admin_client.post("/system/pause/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_it_serves_the_banner_alone_for_live_updates(operator_client, admin):
    assert "paused" not in html(operator_client.get("/system/banner/"))
    from ispdesk.system.actions import do_pause_system

    do_pause_system(admin, "router swap")
    response = operator_client.get("/system/banner/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "router swap" in html(response)
    assert "<html" not in html(response)


def test_the_banner_listens_for_status_events(operator_client):
    page = html(operator_client.get("/"))
    assert 'hx-get="/system/banner/"' in page
    assert "ispdesk:system:status from:body" in page
    assert "ispdesk:resync from:body" in page


# Audit log ----------------------------------------------------------------------------------


def test_it_shows_the_audit_log_to_admins_only(admin_client, supervisor_client, operator_client):
    assert admin_client.get("/audit/").status_code == 200
    assert supervisor_client.get("/audit/").status_code == 403
    assert operator_client.get("/audit/").status_code == 403


def test_it_shows_what_changed_compactly(admin_client, admin, operator):
    record_audit(
        admin,
        "user.updated",
        operator,
        before={"role": "operator", "email": "a@x"},
        after={"role": "supervisor", "email": "a@x"},
    )
    page = html(admin_client.get("/audit/"))
    assert "user.updated" in page
    assert "<del>operator</del>" in page
    assert "<ins>supervisor</ins>" in page
    assert "a@x" in page  # only inside the full values, not as a change
    assert page.count('class="change"') == 1


def test_audit_changes_keep_only_differences():
    assert audit_changes({"a": 1, "b": 2}, {"a": 1, "b": 3}) == [Change("b", "2", "3")]
    assert audit_changes(None, {"name": "x"}) == [Change("name", None, "x")]
    assert audit_changes(30, 90) == [Change("", "30", "90")]
    assert audit_changes(None, None) == []
    long_value = audit_changes(None, "y" * 500)[0].after
    assert long_value is not None and len(long_value) == 80 and long_value.endswith("…")


def make_events(actor, count: int, action: str = "config.changed") -> None:  # type: ignore[no-untyped-def]
    for number in range(count):
        record_audit(actor, action, object_type="system.config", object_id=f"key{number}")


def test_it_filters_by_actor_action_and_object_type(admin_client, admin, operator):
    make_events(admin, 2)
    record_audit(operator, "token.created", operator)
    page = html(admin_client.get("/audit/", {"actor": "ana"}))
    assert "token.created" in page and "config.changed" not in page
    page = html(admin_client.get("/audit/", {"action": "config."}))
    assert "config.changed" in page and "token.created" not in page
    page = html(admin_client.get("/audit/", {"object_type": "accounts.user"}))
    assert "token.created" in page and "config.changed" not in page


def test_it_filters_by_dates_inclusively(admin_client, admin):
    make_events(admin, 1, action="old.event")
    make_events(admin, 1, action="new.event")
    old = timezone.localtime() - timedelta(days=10)
    AuditEvent.objects.filter(action="old.event").update(created_at=old)
    today = timezone.localdate().isoformat()
    page = html(admin_client.get("/audit/", {"since": today, "until": today}))
    assert "new.event" in page and "old.event" not in page
    page = html(admin_client.get("/audit/", {"until": old.date().isoformat()}))
    assert "old.event" in page and "new.event" not in page


def test_it_shows_a_bad_date_range_and_no_rows(admin_client, admin):
    make_events(admin, 1)
    response = admin_client.get("/audit/", {"since": "2026-05-02", "until": "2026-05-01"})
    assert "must not be before the start date" in html(response)
    assert "No events match these filters." in html(response)


def test_it_pages_the_audit_log_and_keeps_the_filters(admin_client, admin):
    make_events(admin, AUDIT_PAGE_SIZE + 5)
    first = html(admin_client.get("/audit/", {"action": "config."}))
    assert first.count('class="change"') == 0  # events without values show a dash
    assert "Page 1 of 2" in first
    assert "?action=config.&amp;page=2" in first
    second = admin_client.get("/audit/", {"action": "config.", "page": 2})
    assert len(second.context["rows"]) == 5
    assert "Page 2 of 2" in html(second)


def test_the_audit_log_costs_the_same_queries_for_a_full_page(
    admin_client, admin, django_assert_max_num_queries
):
    make_events(admin, AUDIT_PAGE_SIZE * 2)
    with django_assert_max_num_queries(8):  # +1: the nav asks whether the user is an operator
        response = admin_client.get("/audit/", {"action": "config."})
    assert len(response.context["rows"]) == AUDIT_PAGE_SIZE
