"""The audit log API: filters, pagination, admins only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ispdesk.system.audit import record_audit
from ispdesk.system.models import AuditEvent


@pytest.fixture
def events(admin, supervisor):  # type: ignore[no-untyped-def]
    """Five events over three days: two by the admin, two by the supervisor, one by the system."""
    now = timezone.now()
    made = [
        (admin, "config.changed", "system.config", 3),
        (admin, "user.created", "accounts.user", 2),
        (supervisor, "user.login", "accounts.user", 2),
        (supervisor, "user.logout", "accounts.user", 1),
        (None, "system.paused", "system.systemstate", 0),
    ]
    for actor, action, object_type, days_ago in made:
        event = record_audit(actor, action, object_type=object_type, object_id="1")
        AuditEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(days=days_ago))
    return now


def logs(client, **query):  # type: ignore[no-untyped-def]
    response = client.get("/api/logs", query)
    assert response.status_code == 200, response.content
    return response.json()


def actions(page: dict) -> list[str]:
    return [item["action"] for item in page["items"]]


def test_it_lists_events_newest_first(admin_client, events):
    page = logs(admin_client)
    assert page["count"] == 5
    assert actions(page) == [
        "system.paused",
        "user.logout",
        "user.login",
        "user.created",
        "config.changed",
    ]
    assert page["items"][0]["actor"] == "system"


def test_it_filters_by_actor_ignoring_case(admin_client, events):
    assert actions(logs(admin_client, actor="SUPERVISOR")) == ["user.logout", "user.login"]


def test_it_filters_by_action_prefix(admin_client, events):
    assert actions(logs(admin_client, action="user.")) == [
        "user.logout",
        "user.login",
        "user.created",
    ]
    assert actions(logs(admin_client, action="user.login")) == ["user.login"]


def test_it_filters_by_object_type(admin_client, events):
    assert actions(logs(admin_client, object_type="system.config")) == ["config.changed"]


def test_it_filters_by_a_time_window(admin_client, events):
    since = (events - timedelta(days=2, hours=1)).isoformat()
    until = (events - timedelta(hours=12)).isoformat()
    page = logs(admin_client, since=since, until=until)
    assert actions(page) == ["user.logout", "user.login", "user.created"]


def test_filters_combine(admin_client, events):
    since = (events - timedelta(days=2, hours=1)).isoformat()
    assert actions(logs(admin_client, actor="admin", since=since)) == ["user.created"]


def test_it_paginates(admin_client, events):
    first = logs(admin_client, page_size=2)
    third = logs(admin_client, page_size=2, page=3)
    beyond = logs(admin_client, page_size=2, page=4)
    assert (first["count"], first["pages"], first["page"]) == (5, 3, 1)
    assert actions(first) == ["system.paused", "user.logout"]
    assert actions(third) == ["config.changed"]
    assert beyond["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"page_size": 501},
        {"page": 10**30},
        {"since": "yesterday"},
        {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "9999-12-31T23:59:59-01:00"},
    ],
)
def test_a_bad_filter_is_422_naming_it(admin_client, events, query):
    response = admin_client.get("/api/logs", query)
    assert response.status_code == 422
    assert set(response.json()["fields"]) == set(query)


def test_listing_takes_a_fixed_number_of_queries(
    admin_client, events, django_assert_max_num_queries
):
    for _ in range(20):
        record_audit(None, "job.run")
    with django_assert_max_num_queries(4):
        assert len(logs(admin_client)["items"]) == 25


def test_it_is_for_admins_only(supervisor_client, client, events):
    assert supervisor_client.get("/api/logs").status_code == 403
    assert client.get("/api/logs").status_code == 401
