"""`ispdesk demo --no-serve`: migrates and loads the demo data, idempotently."""

from io import StringIO

from django.apps import apps
from django.core.management import call_command

from ispdesk.accounts.models import Role, User
from ispdesk.demo import DEFAULT_DEMO_PASSWORD, DEMO_USERS, demo_password


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def run_demo() -> str:
    out = StringIO()
    call_command("demo", "--no-serve", stdout=out)
    return out.getvalue()


def test_running_it_twice_creates_nothing_twice_and_follows_the_demo_password(db, monkeypatch):
    # One test with two runs: loading the demo data is the slow part.
    monkeypatch.setenv("ISPDESK_DEMO_PASSWORD", "first-demo-password")
    output = run_demo()
    after_first = row_counts()
    assert User.objects.count() == len(DEMO_USERS)
    assert User.objects.get(username="admin").role == Role.ADMIN
    assert "first-demo-password" in output
    assert all(spec.username in output for spec in DEMO_USERS)
    assert User.objects.get(username="admin").check_password("first-demo-password")

    monkeypatch.setenv("ISPDESK_DEMO_PASSWORD", "second-demo-password")
    run_demo()
    assert row_counts() == after_first
    ana = User.objects.get(username="ana")
    assert ana.check_password("second-demo-password")
    assert not ana.check_password("first-demo-password")


def test_the_demo_password_has_a_default(monkeypatch):
    monkeypatch.delenv("ISPDESK_DEMO_PASSWORD", raising=False)
    assert demo_password() == DEFAULT_DEMO_PASSWORD
    monkeypatch.setenv("ISPDESK_DEMO_PASSWORD", "")
    assert demo_password() == DEFAULT_DEMO_PASSWORD
