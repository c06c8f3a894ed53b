"""`ispdesk check-config`: one line per check, OK or the reason, non-zero exit on failure.

The subprocess cases run the installed `ispdesk` script, because the exit code and what the
process prints are the point; they use their own SQLite file, never the test database.
"""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from ispdesk.tests.environment import settings_environment

ISPDESK = Path(sys.executable).with_name("ispdesk")
SECRET_KEY = "check-config-test-key-0123456789abcdefghijklmnop"
PASSWORD = "hunter2-do-not-print"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A migrated SQLite database of its own, shared by the subprocess cases."""
    folder = tmp_path_factory.mktemp("check-config")
    variables = {"DATABASE_URL": f"sqlite:///{folder / 'desk.sqlite3'}"}
    result = run_ispdesk(folder, ["migrate", "--verbosity", "0"], **variables)
    assert result.returncode == 0, result.stderr
    return folder, variables


def run_ispdesk(folder: Path, args: list[str], **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ISPDESK), *args],
        env=settings_environment(folder, SECRET_KEY=SECRET_KEY, **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lines_by_check(output: str) -> dict[str, str]:
    lines = {}
    for line in output.splitlines():
        name, _dots, status = line.partition(".")
        lines[name.strip()] = status.lstrip(". ")
    return lines


def test_it_prints_one_ok_line_per_check_and_exits_zero_when_all_is_well(migrated_sqlite):
    folder, variables = migrated_sqlite
    result = run_ispdesk(folder, ["check-config"], **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    assert {"settings", "database", "migrations", "redis"} <= set(lines)
    assert all(status.startswith("OK") for status in lines.values()), result.stdout


def test_it_fails_on_unreachable_services_without_printing_their_passwords(migrated_sqlite):
    folder, _variables = migrated_sqlite
    result = run_ispdesk(
        folder,
        ["check-config"],
        DATABASE_URL=f"postgres://desk:{PASSWORD}@127.0.0.1:1/ispdesk",
        REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:1/0",
    )
    assert result.returncode == 1
    lines = lines_by_check(result.stdout)
    assert lines["settings"].startswith("OK")
    assert lines["database"].startswith("FAIL postgresql:")
    assert lines["redis"].startswith("FAIL redis://:***@127.0.0.1:1/0")
    assert PASSWORD not in result.stdout + result.stderr


def test_a_bad_setting_fails_the_settings_line_with_exit_code_two(tmp_path):
    result = run_ispdesk(
        tmp_path,
        ["check-config"],
        AXES_FAILURE_LIMIT="five",
        DATABASE_URL=f"postgres://desk:{PASSWORD}@127.0.0.1:1/ispdesk",
    )
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "settings................ FAIL AXES_FAILURE_LIMIT: expected an integer, got 'five'"
    ]
    assert PASSWORD not in result.stdout + result.stderr


def test_an_unsupported_database_url_fails_without_printing_its_password(tmp_path):
    result = run_ispdesk(
        tmp_path, ["check-config"], DATABASE_URL=f"ftp://desk:{PASSWORD}@files.example/db"
    )
    assert result.returncode == 2
    assert "FAIL DATABASE_URL" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_it_reports_ok_for_the_test_database(db):
    out = StringIO()
    call_command("check_config", stdout=out)
    lines = lines_by_check(out.getvalue())
    assert lines["database"] == f"OK ({connection.vendor})"
    assert lines["migrations"] == "OK"


def test_it_fails_the_migrations_line_when_one_is_pending(db):
    MigrationRecorder.Migration.objects.filter(app="jobs").order_by("-id").first().delete()
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("check_config", stdout=out)
    assert exited.value.code == 1
    assert lines_by_check(out.getvalue())["migrations"] == (
        "FAIL 1 migration(s) pending (run `ispdesk migrate`)"
    )
