"""A local Gestión Real web UI for the web export's tests: real HTTP on a free port.

    from ispdesk.testing.fakes.gestionreal_web import fake_gestionreal_web  # noqa: F401

    def test_it_exports(fake_gestionreal_web):
        exported = export_cases_csv(fake_gestionreal_web.settings())
        assert exported.data == fake_gestionreal_web.csv

A PHP-style site, as PROTOCOLS.md describes it: `index.php` shows the login form (fields
`myusername`, `mypassword`) until a POST of the right user and password sets the
`PHPSESSID` cookie and redirects; `index.php?menuitem=10` is the cases page, whose
"Exportar CSV" link (`export.php?menuitem=10&formato=csv`) downloads the cases as a
Latin-1, `;`-separated attachment (`csv`, by default the CSV fixture). Without a session
every page shows the login form again; a refused login shows it with an error text.

Knobs: `export_link = False` (the cases page has no export link), `export_as_button = True`
(the export is a form's submit button instead of a link), `csv` (the bytes exported),
`forget_sessions()` (every session ends, as after a server restart), `login_redirect` (a
URL `index.php` redirects to without a session; `/` still shows the form), `login_action`
(where the login form posts). `logins` records each login attempt's user and whether it
was accepted (never the password). Failures through `fail_next(name, path=...)`, on the
export by default: "server_error" (500 page), "hang".
"""

from __future__ import annotations

import html
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import pytest

from ispdesk.integrations.gestionreal.web_export import WebExportSettings
from ispdesk.testing.fakes.server import Answer, FakeServer, RecordedRequest, serving

FIXTURE = Path(__file__).parents[2] / "integrations/gestionreal/tests/fixtures/casos_export.csv"
USERNAME = "soporte"
PASSWORD = "Cl4ve-Web-del-ISP"  # noqa: S105 - the fake's test credential
COOKIE = "PHPSESSID"
LOGIN_ERROR = "Usuario o contraseña incorrectos"

_PAGE = """<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>Gestión Real</title></head>
<body>{body}</body></html>"""
_LOGIN = """<h1>Ingreso al sistema</h1>{error}
<form method="post" action="{action}" id="login">
  <label>Usuario <input type="text" name="myusername"></label>
  <label>Contraseña <input type="password" name="mypassword"></label>
  <input type="submit" value="Ingresar">
</form>"""
_HOME = """<h1>Bienvenido, {user}</h1>
<nav><a href="index.php?menuitem=10">Casos</a></nav>"""
_CASES = """<h1>Casos / Reclamos</h1>
<table><tr><th>Numero</th><th>Asunto</th></tr><tr><td>10234</td><td>Sin señal</td></tr></table>
{export}"""
_EXPORT_LINK = '<a class="btn" href="export.php?menuitem=10&amp;formato=csv">Exportar CSV</a>'
_EXPORT_BUTTON = """<form method="post" action="export.php?menuitem=10">
  <input type="hidden" name="formato" value="csv">
  <input type="submit" value="Exportar a CSV">
</form>"""


def _html(status: int, body: str, headers: dict[str, str] | None = None) -> Answer:
    page = _PAGE.format(body=body).encode()
    return status, {"Content-Type": "text/html; charset=utf-8", **(headers or {})}, page


class FakeGestionRealWeb(FakeServer):
    name: ClassVar[str] = "gestionreal-web"
    failures: ClassVar[tuple[str, ...]] = ("server_error",)
    send_path_parts: ClassVar[tuple[str, ...]] = ("/export.php",)

    def __init__(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.csv: bytes = FIXTURE.read_bytes()
        self.export_link = True
        self.export_as_button = False
        self.login_redirect = ""  # a URL the login page redirects to, when set
        self.login_action = "index.php"  # where the login form posts
        self.logins: list[tuple[str, bool]] = []
        self.exports = 0
        # Called with each request before it is answered (a test plays a crash there).
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self._sessions: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def login_url(self) -> str:
        return f"{self.url}/index.php"

    def settings(self, **overrides: Any) -> WebExportSettings:
        values: dict[str, Any] = {
            "login_url": self.login_url,
            "username": self.username,
            "password": self.password,
            "timeout": 30.0,
        }
        return WebExportSettings(**{**values, **overrides})

    def forget_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    # ---- serving -----------------------------------------------------------------------------

    def failure(self, name: str, request: RecordedRequest, retry_after: float | None) -> Answer:
        return _html(500, "<h1>Error interno del servidor</h1>")

    def _user(self, request: RecordedRequest) -> str:
        cookie = SimpleCookie(request.headers.get("cookie", ""))
        token = cookie[COOKIE].value if COOKIE in cookie else ""
        with self._lock:
            return self._sessions.get(token, "")

    def _login_form(self, error: str = "", action: str = "index.php") -> Answer:
        shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
        return _html(200, _LOGIN.format(error=shown, action=html.escape(action)))

    def route(self, request: RecordedRequest) -> Answer:
        if self.on_request is not None:
            self.on_request(request)
        if request.path not in ("/", "/index.php", "/export.php"):
            return _html(404, "<h1>No encontrado</h1>")
        if request.path in ("/", "/index.php") and request.method == "POST":
            return self._login(request)
        user = self._user(request)
        if not user and self.login_redirect and request.path == "/index.php":
            return 302, {"Location": self.login_redirect}, b""
        if not user:
            return self._login_form(action=self.login_action)
        if request.path in ("/", "/index.php"):
            if request.query.get("menuitem") == "10":
                export = ""
                if self.export_link:
                    export = _EXPORT_BUTTON if self.export_as_button else _EXPORT_LINK
                return _html(200, _CASES.format(export=export))
            return _html(200, _HOME.format(user=html.escape(user)))
        with self._lock:  # export.php
            self.exports += 1
        headers = {
            "Content-Type": "text/csv; charset=ISO-8859-1",
            "Content-Disposition": 'attachment; filename="casos.csv"',
        }
        return 200, headers, self.csv

    def _login(self, request: RecordedRequest) -> Answer:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        user = form.get("myusername", "")
        accepted = user == self.username and secrets.compare_digest(
            form.get("mypassword", "").encode(), self.password.encode()
        )
        with self._lock:
            self.logins.append((user, accepted))
        if not accepted:
            return self._login_form(LOGIN_ERROR)
        token = secrets.token_hex(16)
        with self._lock:
            self._sessions[token] = user
        return (
            302,
            {
                "Location": "index.php",
                "Set-Cookie": f"{COOKIE}={token}; Path=/; HttpOnly",
                "Content-Type": "text/html; charset=utf-8",
            },
            b"",
        )


@contextmanager
def serving_fake_gestionreal_web(**settings: Any) -> Iterator[FakeGestionRealWeb]:
    with serving(FakeGestionRealWeb(**settings)) as fake:
        yield fake


@pytest.fixture
def fake_gestionreal_web() -> Iterator[FakeGestionRealWeb]:
    with serving_fake_gestionreal_web() as fake:
        yield fake
