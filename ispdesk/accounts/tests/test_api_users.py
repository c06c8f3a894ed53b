"""The users API: admins create and change people; supervisors may read the list."""

import contextlib

import pytest
from django.db import connections

from ispdesk.accounts.actions import UserChangeError, do_update_user
from ispdesk.accounts.models import Role, User
from ispdesk.conftest import PASSWORD
from ispdesk.system.models import AuditEvent
from ispdesk.testing.workers import run_workers

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def create(client, **fields):  # type: ignore[no-untyped-def]
    body = {"username": "bea", "password": NEW_PASSWORD, **fields}
    return client.post("/api/users", body, content_type="application/json")


def update(client, user: User, **fields):  # type: ignore[no-untyped-def]
    return client.put(f"/api/users/{user.pk}", fields, content_type="application/json")


def test_it_lists_users_in_username_order(admin_client, admin, supervisor, operator, outsider):
    response = admin_client.get("/api/users")
    assert response.status_code == 200
    assert [user["username"] for user in response.json()] == ["admin", "ana", "omar", "supervisor"]


def test_listing_users_takes_a_fixed_number_of_queries(
    admin_client, supervisor, operator, outsider, django_assert_max_num_queries
):
    for index in range(10):
        User.objects.create(username=f"extra{index}", page_permissions=["noc_dashboard"])
    with django_assert_max_num_queries(3):
        assert len(admin_client.get("/api/users").json()) == 14


def test_an_admin_creates_a_user_with_a_role_and_page_permissions(admin_client, admin):
    response = create(
        admin_client,
        first_name="Beatriz",
        role="supervisor",
        page_permissions=["noc_dashboard", "operator_view"],
    )
    assert response.status_code == 201
    assert response.json()["username"] == "bea"
    assert response.json()["role"] == "supervisor"
    # Stored in the canonical order, whatever order they were sent in.
    assert response.json()["page_permissions"] == ["operator_view", "noc_dashboard"]
    user = User.objects.get(username="bea")
    assert user.check_password(NEW_PASSWORD)
    assert user.role == Role.SUPERVISOR
    assert user.is_supervisor_or_admin


def test_creating_a_user_is_audited_without_the_password(admin_client, admin):
    response = create(admin_client, role="operator")
    event = AuditEvent.objects.get(action="user.created")
    assert event.actor == admin
    assert event.object_id == str(response.json()["id"])
    assert event.after["username"] == "bea"
    assert event.after["role"] == "operator"
    assert NEW_PASSWORD not in str(event.after)


def test_the_new_user_can_log_in(admin_client, admin, client):
    create(admin_client)
    response = client.post(
        "/api/auth/login",
        {"username": "bea", "password": NEW_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"password": "short"},
        {"password": "password1234"},
        {"password": "12345678901234"},
        {"username": "bartholomew", "password": "bartholomew1"},
    ],
)
def test_a_weak_password_is_422_naming_the_password(admin_client, admin, fields):
    response = create(admin_client, **fields)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_password"
    assert response.json()["fields"]["password"]
    assert User.objects.count() == 1


def test_a_duplicate_username_is_409_whatever_its_case(admin_client, operator):
    response = create(admin_client, username="ANA")
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"
    assert "username" in response.json()["fields"]
    assert User.objects.filter(username__iexact="ana").count() == 1


def test_an_unknown_page_permission_is_422_naming_it(admin_client, admin):
    response = create(admin_client, page_permissions=["operator_view", "launch_missiles"])
    assert response.status_code == 422
    assert "launch_missiles" in response.json()["fields"]["page_permissions"]
    assert "operator_view" not in response.json()["fields"]["page_permissions"]
    assert not User.objects.filter(username="bea").exists()


def test_an_unknown_role_is_422(admin_client, admin):
    response = create(admin_client, role="overlord")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "role" in response.json()["fields"]


def test_a_username_with_spaces_is_422(admin_client, admin):
    response = create(admin_client, username="bea trice")
    assert response.status_code == 422
    assert "username" in response.json()["fields"]


def test_an_admin_changes_a_users_role_and_permissions(admin_client, operator):
    response = update(admin_client, operator, role="supervisor", page_permissions=["noc_control"])
    assert response.status_code == 200
    operator.refresh_from_db()
    assert operator.role == Role.SUPERVISOR
    assert operator.page_permissions == ["noc_control"]
    assert operator.first_name == "Ana"  # what was not sent is kept


def test_changing_a_user_is_audited_with_before_and_after(admin_client, admin, operator):
    update(admin_client, operator, role="supervisor", first_name="Anita")
    event = AuditEvent.objects.get(action="user.updated")
    assert event.actor == admin
    assert event.object_id == str(operator.pk)
    assert (event.before["role"], event.after["role"]) == ("operator", "supervisor")
    assert (event.before["first_name"], event.after["first_name"]) == ("Ana", "Anita")
    assert "password" not in event.after


def test_a_new_password_is_set_and_audited_as_changed(admin_client, operator):
    update(admin_client, operator, password=NEW_PASSWORD)
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.get(action="user.updated").after["password"] == "changed"


def test_a_weak_new_password_changes_nothing(admin_client, operator):
    response = update(admin_client, operator, password="123", first_name="Changed")
    assert response.status_code == 422
    assert "password" in response.json()["fields"]
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)
    assert operator.first_name == "Ana"
    assert not AuditEvent.objects.filter(action="user.updated").exists()


def test_renaming_to_a_taken_username_is_409(admin_client, operator, supervisor):
    response = update(admin_client, operator, username="Supervisor")
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"


def test_an_unknown_page_permission_in_an_update_is_422_naming_it(admin_client, operator):
    response = update(admin_client, operator, page_permissions=["warp_drive"])
    assert response.status_code == 422
    assert "warp_drive" in response.json()["fields"]["page_permissions"]
    operator.refresh_from_db()
    assert operator.page_permissions == ["operator_view"]


def test_updating_an_unknown_user_is_404(admin_client):
    response = admin_client.put("/api/users/999999", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("change", [{"role": "supervisor"}, {"is_active": False}])
def test_the_last_admin_cannot_be_demoted_or_deactivated(admin_client, admin, change):
    response = update(admin_client, admin, **change)
    assert response.status_code == 409
    assert response.json()["code"] == "last_admin"
    admin.refresh_from_db()
    assert admin.is_admin


def test_an_admin_can_be_demoted_when_another_remains(admin_client, admin, operator):
    update(admin_client, operator, role="admin")
    response = update(admin_client, admin, role="operator")
    assert response.status_code == 200
    admin.refresh_from_db()
    assert not admin.is_admin


def test_an_inactive_admin_does_not_count_as_the_other_admin(admin_client, admin, operator):
    update(admin_client, operator, role="admin")
    update(admin_client, operator, is_active=False)
    assert update(admin_client, admin, is_active=False).json()["code"] == "last_admin"


def test_a_deactivated_user_loses_their_session(admin_client, operator, operator_client):
    update(admin_client, operator, is_active=False)
    assert operator_client.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    "field", ["username", "role", "first_name", "is_active", "page_permissions"]
)
def test_a_null_in_an_update_changes_nothing(admin_client, operator, field):
    response = update(admin_client, operator, **{field: None})
    assert response.status_code == 200
    operator.refresh_from_db()
    assert (operator.username, operator.role, operator.first_name) == ("ana", "operator", "Ana")
    assert operator.is_active
    assert operator.page_permissions == ["operator_view"]


def _demote(barrier, actor_id: int, target_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        actor, target = User.objects.get(pk=actor_id), User.objects.get(pk=target_id)
        barrier.wait(timeout=30)
        with contextlib.suppress(UserChangeError):  # the loser is refused: last_admin
            do_update_user(actor, target, {"role": Role.OPERATOR})
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin():
    first = User.objects.create(username="first", role=Role.ADMIN)
    second = User.objects.create(username="second", role=Role.ADMIN)
    for _round in range(5):
        User.objects.filter(pk__in=[first.pk, second.pk]).update(role=Role.ADMIN)
        run_workers(_demote, [(first.pk, second.pk), (second.pk, first.pk)])
        assert User.objects.filter(role=Role.ADMIN, is_active=True).count() == 1
