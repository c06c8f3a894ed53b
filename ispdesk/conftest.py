"""The shared test base: named people and API clients.

- `admin`: may do everything.
- `supervisor`: watches and pauses, but cannot configure.
- `operator` (Ana): works items, sees her own.
- `outsider` (Omar): an operator with no page permissions, who must see nothing of others.

Also `browser` (Chromium for one test; see `ispdesk.testing.browser`).
"""

from __future__ import annotations

import dataclasses

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import settings as hypothesis_settings

from ispdesk.accounts.models import PagePermission, Role, User
from ispdesk.lib import dbthreads
from ispdesk.system.config import clear_config_cache
from ispdesk.testing.browser import browser, chromium_extra_args  # noqa: F401

PASSWORD = "correct-horse-battery-staple"

# Property tests must not fail because a busy 2-core machine made one example slow.
hypothesis_settings.register_profile("ispdesk", deadline=None, print_blob=True)
hypothesis_settings.load_profile("ispdesk")


@pytest.fixture(autouse=True)
def _the_real_today_is_no_holiday(monkeypatch):  # type: ignore[no-untyped-def]
    """Tests read the business calendar at the real time. On a national holiday (7 December
    2026 is one in Argentina) an area without hours of its own is closed, and every test that
    queues a chat found nobody to take it: the suite passed or failed by the date. Tests
    about holidays use fixed dates, so the real today (in the business time zone, and in UTC)
    is taken out of the live calendar's holidays; calendar exceptions still apply."""
    from datetime import UTC, datetime

    from django.utils import timezone

    from ispdesk.operators import calendars
    from ispdesk.tickets import team

    real = calendars.calendar_from_exceptions

    def without_today(around, rows):  # type: ignore[no-untyped-def]
        found = real(around, rows)
        today = {timezone.localdate(), datetime.now(UTC).date()}
        return dataclasses.replace(found, holidays=found.holidays - today)

    for module in (calendars, team):  # each reads the live calendar through it
        monkeypatch.setattr(module, "calendar_from_exceptions", without_today)


@pytest.fixture(autouse=True)
def _fast_hashing_and_clean_caches(settings):  # type: ignore[no-untyped-def]
    # Argon2 is the production hasher (see test_settings); MD5 keeps the suite fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clear_config_cache()
    yield
    clear_config_cache()
    # The webhook's threads keep their database connections between deliveries: none may
    # outlive a test (the test database could not be flushed or dropped).
    dbthreads.close_all()


def make_user(username: str, role: str, **fields) -> User:  # type: ignore[no-untyped-def]
    user = User(username=username, role=role, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def admin(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("admin", Role.ADMIN, first_name="Alicia")


@pytest.fixture
def supervisor(db) -> User:  # type: ignore[no-untyped-def]
    return make_user(
        "supervisor",
        Role.SUPERVISOR,
        first_name="Silvia",
        page_permissions=[PagePermission.OPERATOR_VIEW, PagePermission.NOC_DASHBOARD],
    )


@pytest.fixture
def operator(db) -> User:  # type: ignore[no-untyped-def]
    return make_user(
        "ana", Role.OPERATOR, first_name="Ana", page_permissions=[PagePermission.OPERATOR_VIEW]
    )


@pytest.fixture
def outsider(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("omar", Role.OPERATOR, first_name="Omar")


def logged_in_client(user: User) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin) -> Client:  # type: ignore[no-untyped-def]
    return logged_in_client(admin)


@pytest.fixture
def supervisor_client(supervisor) -> Client:  # type: ignore[no-untyped-def]
    return logged_in_client(supervisor)


@pytest.fixture
def operator_client(operator) -> Client:  # type: ignore[no-untyped-def]
    return logged_in_client(operator)


@pytest.fixture
def outsider_client(outsider) -> Client:  # type: ignore[no-untyped-def]
    return logged_in_client(outsider)


assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
