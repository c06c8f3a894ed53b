"""The account pages: login, home and navigation, users, API tokens, error pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client

from ispdesk.accounts.models import ApiToken, PagePermission, Role, User, hash_token
from ispdesk.conftest import PASSWORD, make_user
from ispdesk.system.models import AuditEvent

NEW_PASSWORD = "a-long-and-unusual-passphrase"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    # Assertions read the English text, whatever the Spanish catalog says.
    settings.LANGUAGE_CODE = "en"


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# Login and logout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/users/", "/users/new/", "/users/1/", "/tokens/", "/settings/", "/jobs/", "/audit/"],
)
def test_it_sends_anonymous_people_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/login/?next={url}")


def test_it_shows_the_login_form(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="username"' in html(response)
    assert 'name="password"' in html(response)


def test_it_logs_in_and_records_it(client, operator):
    response = client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.get(action="user.login")
    assert event.actor == operator


def test_it_shows_a_readable_error_for_a_wrong_password(client, operator):
    response = client.post("/login/", {"username": "ana", "password": "wrong-password"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in html(response)
    assert 'class="alert alert-error"' in html(response)
    assert not AuditEvent.objects.filter(action="user.login").exists()


def test_it_tells_a_locked_out_person_for_how_long(client, operator, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _attempt in range(3):
        client.post("/login/", {"username": "ana", "password": "wrong-password"})
    response = client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 429
    page = html(response)
    assert "Too many failed logins" in page
    assert "After 3 failed attempts" in page
    assert "Wait 15 minutes, then try again." in page
    assert AccessAttempt.objects.filter(username="ana").exists()


def test_it_says_one_minute_when_the_cool_off_is_one_minute(client, operator, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    for _attempt in range(3):
        response = client.post("/login/", {"username": "ana", "password": "wrong-password"})
    assert response.status_code == 429
    assert "Wait one minute, then try again." in html(response)


def test_it_logs_out_with_a_post_only(operator_client, operator):
    assert operator_client.get("/logout/").status_code == 405
    response = operator_client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert operator_client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="user.logout", actor=operator).exists()


# Home and navigation ------------------------------------------------------------------------

ADMIN_LINKS = ['href="/settings/"', 'href="/jobs/"', 'href="/audit/"']


def test_it_greets_the_person_with_their_name_and_role(operator_client):
    page = html(operator_client.get("/"))
    assert "Hello, Ana" in page
    assert "You are logged in as Operator." in page


def test_it_shows_an_operator_only_home_and_tokens(operator_client):
    page = html(operator_client.get("/"))
    assert 'href="/tokens/"' in page
    for link in [*ADMIN_LINKS, 'href="/users/"']:
        assert link not in page
    assert "System status" not in page


def test_it_shows_a_supervisor_the_users_list_but_no_admin_pages(supervisor_client):
    page = html(supervisor_client.get("/"))
    assert 'href="/users/"' in page
    for link in ADMIN_LINKS:
        assert link not in page


def test_it_shows_an_admin_every_page_and_the_system_status(admin_client):
    page = html(admin_client.get("/"))
    for link in [*ADMIN_LINKS, 'href="/users/"', 'href="/tokens/"']:
        assert link in page
    assert "System status" in page
    assert 'action="/system/pause/"' in page


def test_it_lists_failing_jobs_on_the_admin_home(admin_client):
    from django.utils import timezone

    from ispdesk.jobs.models import JobSchedule

    JobSchedule.objects.create(
        name="broken-sync", interval_seconds=60, next_run_at=timezone.now(), last_outcome="error"
    )
    page = html(admin_client.get("/"))
    assert "1 job failing" in page
    assert "broken-sync" in page


def test_it_has_a_language_switch_and_a_logout_button(operator_client):
    page = html(operator_client.get("/"))
    assert 'action="/i18n/setlang/"' in page
    assert 'value="es-ar"' in page and 'value="en"' in page
    assert 'action="/logout/"' in page


def test_it_switches_the_language(operator_client, settings):
    response = operator_client.post("/i18n/setlang/", {"language": "es-ar", "next": "/tokens/"})
    assert response.status_code == 302
    assert response["Location"] == "/tokens/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es-ar"


def test_it_loads_the_realtime_script_only_for_logged_in_people(client, operator_client, db):
    assert "ispdesk/realtime.js" in html(operator_client.get("/"))
    assert 'data-realtime-state="offline"' in html(operator_client.get("/"))
    assert "ispdesk/realtime.js" not in html(client.get("/login/"))


# Users --------------------------------------------------------------------------------------


def test_it_lists_users_with_role_permissions_and_status_for_an_admin(admin_client, operator):
    make_user("gone", Role.OPERATOR, is_active=False)
    page = html(admin_client.get("/users/"))
    assert "Ana" in page and "ana" in page
    assert "Operator view" in page
    assert "Inactive" in page
    assert f'href="/users/{operator.pk}/"' in page
    assert 'href="/users/new/"' in page


def test_it_shows_the_users_list_read_only_to_a_supervisor(supervisor_client, operator):
    response = supervisor_client.get("/users/")
    assert response.status_code == 200
    assert "ana" in html(response)
    assert 'href="/users/new/"' not in html(response)
    assert f'href="/users/{operator.pk}/"' not in html(response)


@pytest.mark.parametrize("url", ["/users/", "/users/new/"])
def test_it_forbids_the_users_pages_to_operators(operator_client, outsider_client, url):
    for client in (operator_client, outsider_client):
        response = client.get(url)
        assert response.status_code == 403
        assert "You may not open this page" in html(response)


def test_it_forbids_supervisors_to_create_or_edit_users(supervisor_client, operator):
    assert supervisor_client.get("/users/new/").status_code == 403
    response = supervisor_client.post(
        f"/users/{operator.pk}/", {"username": "ana", "role": Role.ADMIN, "is_active": "on"}
    )
    assert response.status_code == 403
    operator.refresh_from_db()
    assert operator.role == Role.OPERATOR


def test_the_users_list_costs_the_same_queries_for_many_users(
    admin_client, django_assert_max_num_queries
):
    for number in range(30):
        make_user(f"user{number:02}", Role.OPERATOR, page_permissions=["operator_view"])
    with django_assert_max_num_queries(6):  # +1: the nav asks whether the user is an operator
        response = admin_client.get("/users/")
    assert response.status_code == 200
    assert "user29" in html(response)


def new_user_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": "juan",
        "first_name": "Juan",
        "last_name": "Pérez",
        "email": "juan@example.com",
        "role": Role.OPERATOR,
        "page_permissions": [PagePermission.OPERATOR_VIEW, PagePermission.NOC_DASHBOARD],
        "is_active": "on",
        "password": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


def test_it_creates_a_user(admin_client, admin):
    response = admin_client.post("/users/new/", new_user_form())
    assert response.status_code == 302
    assert response["Location"] == "/users/"
    juan = User.objects.get(username="juan")
    assert juan.role == Role.OPERATOR
    assert juan.page_permissions == ["operator_view", "noc_dashboard"]
    assert juan.email == "juan@example.com"
    assert juan.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="user.created", object_id=str(juan.pk)).exists()
    assert "User juan created." in html(admin_client.get("/users/"))


def test_it_refuses_a_taken_username_and_creates_nothing(admin_client, operator):
    response = admin_client.post("/users/new/", new_user_form(username="ANA"))
    assert response.status_code == 422
    assert "The username ANA is already taken." in html(response)
    assert "already taken" in html(response)
    assert User.objects.filter(username__iexact="ana").count() == 1
    assert not AuditEvent.objects.filter(action="user.created").exists()


def test_it_refuses_a_weak_password_and_says_why(admin_client, admin):
    response = admin_client.post("/users/new/", new_user_form(password="12345"))
    assert response.status_code == 422
    assert "too short" in html(response)
    assert not User.objects.filter(username="juan").exists()


def test_it_requires_a_password_and_a_valid_username_for_a_new_user(admin_client, admin):
    response = admin_client.post("/users/new/", new_user_form(username="juan pérez!", password=""))
    assert response.status_code == 422
    assert "This field is required." in html(response)
    assert "Enter a valid username." in html(response)
    assert User.objects.count() == 1


def test_it_edits_a_user(admin_client, operator):
    form = new_user_form(
        username="ana",
        first_name="Ana María",
        role=Role.SUPERVISOR,
        page_permissions=[PagePermission.NOC_CONTROL],
        password="",
    )
    response = admin_client.post(f"/users/{operator.pk}/", form)
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.first_name == "Ana María"
    assert operator.role == Role.SUPERVISOR
    assert operator.page_permissions == ["noc_control"]
    assert operator.check_password(PASSWORD)  # an empty password field keeps the old one
    event = AuditEvent.objects.get(action="user.updated")
    assert event.before["role"] == "operator"
    assert event.after["role"] == "supervisor"


def test_it_sets_a_new_password_and_deactivates(admin_client, operator):
    form = new_user_form(username="ana", password=NEW_PASSWORD)
    del form["is_active"]  # an unchecked box is not sent
    admin_client.post(f"/users/{operator.pk}/", form)
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)
    assert not operator.is_active


def test_it_shows_the_current_values_in_the_edit_form(admin_client, supervisor):
    page = html(admin_client.get(f"/users/{supervisor.pk}/"))
    assert 'value="supervisor"' in page
    assert re.search(r'value="noc_dashboard"[^>]*checked', page)
    assert not re.search(r'value="noc_control"[^>]*checked', page)
    assert "Leave empty to keep the current password." in page


def test_it_refuses_to_demote_the_last_admin(admin_client, admin):
    form = new_user_form(username="admin", role=Role.OPERATOR, password="")
    response = admin_client.post(f"/users/{admin.pk}/", form)
    assert response.status_code == 422
    assert "This is the last active administrator" in html(response)
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_it_answers_404_for_an_unknown_user(admin_client):
    response = admin_client.get("/users/999999/")
    assert response.status_code == 404
    assert "Page not found" in html(response)


# API tokens ---------------------------------------------------------------------------------


def test_it_lists_only_the_persons_own_tokens(operator_client, operator, admin):
    ApiToken.objects.create(user=operator, name="mine", prefix="isp_mine00", token_hash="a" * 64)
    ApiToken.objects.create(user=admin, name="theirs", prefix="isp_their0", token_hash="b" * 64)
    page = html(operator_client.get("/tokens/"))
    assert "mine" in page and "isp_mine00…" in page
    assert "theirs" not in page


def test_it_shows_a_new_token_secret_once(operator_client, operator):
    response = operator_client.post("/tokens/", {"name": "Reports script"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=operator)
    secret = response.context["new_token"].secret
    assert token.token_hash == hash_token(secret)
    assert secret in html(response)
    assert "shown only this once" in html(response)
    assert "no-store" in response["Cache-Control"]
    again = operator_client.get("/tokens/")
    assert secret not in html(again)
    assert "Reports script" in html(again)
    assert AuditEvent.objects.filter(action="token.created").exists()


def test_it_revokes_an_own_token(operator_client, operator):
    operator_client.post("/tokens/", {"name": "old"})
    token = ApiToken.objects.get(user=operator)
    assert operator_client.get(f"/tokens/{token.pk}/revoke/").status_code == 405
    response = operator_client.post(f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoked", object_id=str(token.pk)).exists()
    assert "Revoked" in html(operator_client.get("/tokens/"))


def test_it_does_not_let_a_person_revoke_someone_elses_token(outsider_client, operator):
    token = ApiToken.objects.create(user=operator, name="x", prefix="isp_x", token_hash="c" * 64)
    response = outsider_client.post(f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_it_refuses_a_token_name_that_is_too_long(operator_client, operator):
    response = operator_client.post("/tokens/", {"name": "x" * 101})
    assert response.status_code == 422
    assert not ApiToken.objects.filter(user=operator).exists()


def test_it_checks_csrf_on_forms(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post("/tokens/", {"name": "no csrf"})
    assert response.status_code == 403
    assert "This form expired" in html(response)
    assert not ApiToken.objects.exists()


def test_it_renders_the_server_error_page_without_a_request():
    from django.template.loader import render_to_string

    page = render_to_string("500.html")
    assert "Something went wrong" in page
    assert 'href="/"' in page
