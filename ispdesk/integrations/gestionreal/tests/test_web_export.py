"""The web export in real Chromium against a local fake of Gestión Real's web UI."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from ispdesk.integrations.gestionreal.web_export import (
    BROWSER,
    EXPORT_MISSING,
    HTTP_STATUS,
    LOGIN_FORM_MISSING,
    LOGIN_REJECTED,
    OTHER_SITE,
    SESSION_LOST,
    TIMEOUT,
    TOO_LARGE,
    WebExportError,
    chromium_args,
    export_cases_csv,
    site_of,
)
from ispdesk.testing.fakes.gestionreal_web import (
    PASSWORD,
    FakeGestionRealWeb,
    fake_gestionreal_web,  # noqa: F401
)


def failure(settings) -> WebExportError:  # type: ignore[no-untyped-def]
    with pytest.raises(WebExportError) as caught:
        export_cases_csv(settings)
    return caught.value


def test_it_logs_in_and_downloads_the_cases_export(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    exported = export_cases_csv(fake_gestionreal_web.settings())
    assert exported.data == fake_gestionreal_web.csv
    assert exported.data.startswith(b"Numero;Cliente;Nombre;Estado;")
    assert exported.file_name == "casos.csv"
    assert fake_gestionreal_web.logins == [("soporte", True)]
    assert fake_gestionreal_web.exports == 1
    assert fake_gestionreal_web.requests_to("/export.php")[0].query == {
        "menuitem": "10",
        "formato": "csv",
    }


def test_it_exports_through_a_submit_button_as_well(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.export_as_button = True
    exported = export_cases_csv(fake_gestionreal_web.settings())
    assert exported.data == fake_gestionreal_web.csv
    assert [r.method for r in fake_gestionreal_web.requests_to("/export.php")] == ["POST"]


def test_it_follows_configured_selectors_and_can_press_enter_to_log_in(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    settings = fake_gestionreal_web.settings(
        submit_selector="",
        username_selector="#login input[type=text]",
        export_selector='a[href*="export.php"]',
    )
    assert export_cases_csv(settings).data == fake_gestionreal_web.csv
    assert fake_gestionreal_web.logins == [("soporte", True)]


def test_it_says_a_rejected_login_was_rejected_and_asks_for_nothing_more(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    error = failure(fake_gestionreal_web.settings(password="not-the-password"))
    assert error.code == LOGIN_REJECTED
    assert error.permanent
    assert error.message == "Gestión Real rejected the login: check the user and the password."
    assert fake_gestionreal_web.logins == [("soporte", False)]
    assert not fake_gestionreal_web.requests_to("/export.php")
    assert "not-the-password" not in str(error)


def test_it_recognises_a_rejected_login_by_the_configured_error_text(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    settings = fake_gestionreal_web.settings(
        password="wrong", login_error_selector='p.error:has-text("incorrectos")'
    )
    assert failure(settings).code == LOGIN_REJECTED


def test_it_reports_a_cases_page_without_the_export_link(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.export_link = False
    error = failure(fake_gestionreal_web.settings(export_selector="a.exportar"))
    assert error.code == EXPORT_MISSING
    assert error.permanent
    assert error.message == "The cases page has no export link (a.exportar)."
    assert fake_gestionreal_web.requests_to("/index.php", "GET")[-1].query == {"menuitem": "10"}


def test_it_reports_a_login_page_without_the_login_form(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    error = failure(fake_gestionreal_web.settings(login_url=f"{fake_gestionreal_web.url}/nada"))
    assert error.code == HTTP_STATUS  # the fake answers 404 there
    assert "HTTP 404" in error.message
    error = failure(fake_gestionreal_web.settings(password_selector="input[name=clave]"))
    assert error.code == LOGIN_FORM_MISSING
    assert not any(accepted for _user, accepted in fake_gestionreal_web.logins)


def _kill_our_chromium() -> int:
    """SIGKILL the Chromium processes (browser, crash handler) this test process started
    through Playwright's driver; how many."""
    parents: dict[int, int] = {}
    browsers: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if b"chromium" in command[0] and not any(arg.startswith(b"--type=") for arg in command):
            browsers.append(int(entry.name))

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parents.get(pid, 1)
        return False

    killed = [pid for pid in browsers if ours(pid)]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    return len(killed)


def test_a_browser_that_dies_mid_run_gets_one_more_run(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    crashes: list[int] = []

    def crash_once(request) -> None:  # type: ignore[no-untyped-def]
        if not crashes:
            crashes.append(_kill_our_chromium())

    fake_gestionreal_web.on_request = crash_once
    exported = export_cases_csv(fake_gestionreal_web.settings())
    assert len(crashes) == 1 and crashes[0] >= 1  # the browser (and its helpers) died
    assert exported.data == fake_gestionreal_web.csv


def test_a_server_error_is_worth_another_try(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.fail_next("server_error", path="/index.php")
    error = failure(fake_gestionreal_web.settings())
    assert error.code == HTTP_STATUS
    assert not error.permanent
    assert error.message == ("Gestión Real's site answered HTTP 500 while opening the login page.")


def test_it_reports_a_session_the_site_did_not_keep(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    # The cases page on another host name: the session cookie does not go there.
    other = f"http://localhost:{fake_gestionreal_web.port}/index.php?menuitem=10"
    error = failure(fake_gestionreal_web.settings(cases_url=other))
    assert error.code == SESSION_LOST
    assert fake_gestionreal_web.logins == [("soporte", True)]


def test_it_gives_up_on_a_hanging_export_when_the_run_is_out_of_time(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.fail_next("hang")
    started = time.monotonic()
    error = failure(fake_gestionreal_web.settings(timeout=4))
    elapsed = time.monotonic() - started
    assert error.code == TIMEOUT
    assert not error.permanent
    assert error.message == (
        "Gestión Real's site did not answer in time (4 s) while downloading the export."
    )
    assert 3.5 < elapsed < 12


def test_it_refuses_an_export_larger_than_the_cap(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.csv = fake_gestionreal_web.csv * 600  # about 1.1 MB
    error = failure(fake_gestionreal_web.settings(max_bytes=2**20))
    assert error.code == TOO_LARGE
    assert error.message == "The export is larger than 1.0\xa0MB; nothing was imported."
    fake_gestionreal_web.csv = fake_gestionreal_web.csv[: 2**20]
    assert len(export_cases_csv(fake_gestionreal_web.settings(max_bytes=2**20)).data) == 2**20


def test_the_password_never_reaches_a_log_line_or_an_error(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = fake_gestionreal_web.settings()
    export_cases_csv(settings)
    fake_gestionreal_web.export_link = False
    errors = [failure(settings), failure(settings.__class__(**{**vars(settings), "timeout": 0.5}))]
    # The password did travel, to the login form only.
    logins = fake_gestionreal_web.requests_to("/index.php", "POST")
    assert all(PASSWORD.encode() in request.body for request in logins)
    assert len(logins) >= 2
    assert "gestionreal web export" in caplog.text
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in f"{error} {error!r} {error.message}" for error in errors)
    assert PASSWORD not in repr(settings)


def test_it_says_where_chromium_is_missing_without_starting_anything(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    error = failure(fake_gestionreal_web.settings(chromium="/nowhere/chromium"))
    assert error.code == BROWSER
    assert error.permanent
    assert "/nowhere/chromium" in error.message
    assert "ISPDESK_CHROMIUM" in error.message
    assert not fake_gestionreal_web.requests


def test_it_needs_the_login_page_the_user_and_the_password(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    error = failure(fake_gestionreal_web.settings(password=""))
    assert error.message == "Enter the login page, the user and the password first."
    assert not fake_gestionreal_web.requests


def test_chromium_drops_its_sandbox_only_as_root() -> None:
    assert "--no-sandbox" in chromium_args(as_root=True)
    assert "--no-sandbox" not in chromium_args(as_root=False)


def test_it_never_types_the_password_into_another_sites_login_form(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.login_redirect = f"http://localhost:{fake_gestionreal_web.port}/"
    error = failure(fake_gestionreal_web.settings())
    assert error.code == OTHER_SITE
    assert error.message == (
        f"The login form is on another site (localhost:{fake_gestionreal_web.port}); "
        "the password was not sent."
    )
    assert not fake_gestionreal_web.requests_to("/", "POST")
    assert not fake_gestionreal_web.requests_to("/index.php", "POST")


def test_it_never_submits_the_password_to_a_form_posting_elsewhere(
    fake_gestionreal_web: FakeGestionRealWeb,  # noqa: F811
) -> None:
    fake_gestionreal_web.login_action = "https://colector.example.net/robar.php"
    error = failure(fake_gestionreal_web.settings())
    assert error.code == OTHER_SITE
    assert "colector.example.net" in error.message
    assert not [r for r in fake_gestionreal_web.requests if r.method == "POST"]


def test_the_same_site_may_upgrade_to_https_but_not_change_host_or_port() -> None:
    assert site_of("http://gr.example.com/index.php") == site_of("https://GR.example.com:443/x")
    assert site_of("http://gr.example.com/") != site_of("http://gr.example.com:8080/")
    assert site_of("http://gr.example.com/") != site_of("http://gr.example.com.evil.net/")
