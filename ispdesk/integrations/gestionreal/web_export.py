"""Gestión Real's cases CSV through its web UI, for ISPs without API credentials.

Playwright drives the system Chromium, headless: open the login page, fill `myusername` and
`mypassword`, submit, open the cases page (`index.php?menuitem=10`), click the export link
and keep the downloaded file. URLs and selectors default to what PROTOCOLS.md knows and are
configurable, because no public documentation pins them down.

The async API is used (called through `asyncio.run`) because it bounds the whole run for
real: `asyncio.timeout` also cancels a download whose body never ends, which the sync API's
`Download.path()` would wait for forever. The browser is closed on every path, the file is
capped in size while it downloads, and the password never reaches a log line or an error
message (texts that come from Playwright are scrubbed before they leave this module).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ispdesk.integrations.gestionreal.client import GestionRealError

if TYPE_CHECKING:
    from playwright.async_api import Browser, Download, Page

logger = logging.getLogger("ispdesk.integrations.gestionreal.web")

DEFAULT_CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless and quiet: no GPU, no calls home. `--no-sandbox` is added only when running as
# root, where Chromium refuses to start with its sandbox; other users keep the sandbox,
# which matters here because the browser visits a site on the Internet.
CHROMIUM_ARGS = (
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
CASES_PATH = "index.php?menuitem=10"
USERNAME_SELECTOR = 'input[name="myusername"]'
PASSWORD_SELECTOR = 'input[name="mypassword"]'  # noqa: S105 - a CSS selector
SUBMIT_SELECTOR = 'form:has(input[name="mypassword"]) [type="submit"]'
# Gestión Real labels the button "Exportar" (sometimes "Exportar a CSV/Excel"), as a link, a
# button or a submit input.
EXPORT_SELECTOR = (
    'a:has-text("Exportar"), button:has-text("Exportar"), input[type="submit"][value*="Exportar"]'
)
DEFAULT_TIMEOUT = 60.0
MAX_BYTES = 20 * 2**20
# How often the growing download is measured against the size cap.
SIZE_POLL_SECONDS = 0.2

# Why a run failed (`GestionRealError.code`).
LOGIN_REJECTED = "login_rejected"
LOGIN_FORM_MISSING = "login_form_missing"
SESSION_LOST = "session_lost"
EXPORT_MISSING = "export_missing"
TOO_LARGE = "too_large"
TIMEOUT = "timeout"
CHROMIUM_START_TIMEOUT = 60
HTTP_STATUS = "http_status"
DOWNLOAD_FAILED = "download_failed"
BROWSER = "browser"
OTHER_SITE = "other_site"


@dataclass(frozen=True)
class WebExportSettings:
    """Where and how to log in and export. Empty selectors or URLs take the defaults;
    an empty `submit_selector` presses Enter in the password field instead of clicking."""

    login_url: str
    username: str
    password: str
    cases_url: str = ""  # default: `index.php?menuitem=10` next to the login page
    username_selector: str = USERNAME_SELECTOR
    password_selector: str = PASSWORD_SELECTOR
    submit_selector: str = SUBMIT_SELECTOR
    # A selector that is only on the page after a refused login (optional: the login form
    # still being there after submitting already means the login was refused).
    login_error_selector: str = ""
    export_selector: str = EXPORT_SELECTOR
    # Seconds for the site's part of a run; Chromium's own start has CHROMIUM_START_TIMEOUT
    # (a slow start on a busy machine is not the site's fault, nor worth its budget).
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = MAX_BYTES
    chromium: str = DEFAULT_CHROMIUM

    @property
    def resolved_cases_url(self) -> str:
        return self.cases_url or urljoin(self.login_url, CASES_PATH)

    def __repr__(self) -> str:  # the password must not show up in a traceback's locals
        return f"WebExportSettings(login_url={self.login_url!r}, username={self.username!r})"


@dataclass(frozen=True)
class ExportedFile:
    data: bytes
    file_name: str
    seconds: float


class WebExportError(GestionRealError):
    """A failed web export; `code` is one of this module's reasons, `permanent` says whether
    another try with the same settings can help."""


class _BrowserGone(WebExportError):
    """Chromium went away in the middle of a run (it crashed, or the machine ran out of
    memory): worth one more run at once."""


def chromium_args(*, as_root: bool) -> list[str]:
    return [*CHROMIUM_ARGS, *(["--no-sandbox"] if as_root else [])]


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _scrub(text: str, settings: WebExportSettings) -> str:
    """`text` without the password (Playwright's messages may quote what it was doing)."""
    if settings.password:
        text = text.replace(settings.password, "***")
    return text.splitlines()[0][:300] if text else text


def export_cases_csv(settings: WebExportSettings) -> ExportedFile:
    """Log in, export the cases CSV and return its bytes; `WebExportError` otherwise.

    Must be called from a thread without a running event loop (a sync view, a job, a
    command), like any Playwright sync code.
    """
    if not settings.login_url or not settings.username or not settings.password:
        raise WebExportError(
            _("Enter the login page, the user and the password first."),
            permanent=True,
            code=LOGIN_FORM_MISSING,
        )
    if not Path(settings.chromium).is_file():
        raise WebExportError(
            _("Chromium was not found at %(path)s: install it or set ISPDESK_CHROMIUM.")
            % {"path": settings.chromium},
            permanent=True,
            code=BROWSER,
        )
    if _loop_running():
        raise RuntimeError("export_cases_csv blocks: call it from a thread without a loop")
    started = time.monotonic()
    try:
        try:
            exported = asyncio.run(_export(settings, started))
        except _BrowserGone as exc:
            logger.warning("gestionreal web export: %s; once more with a new browser", exc.message)
            exported = asyncio.run(_export(settings, time.monotonic()))
    except WebExportError as exc:
        logger.warning(
            "gestionreal web export failed after %.1f s: %s (%s)",
            time.monotonic() - started,
            exc.message,
            exc.code,
        )
        raise
    logger.info(
        "gestionreal web export: %s, %d bytes in %.1f s",
        exported.file_name,
        len(exported.data),
        exported.seconds,
    )
    return exported


class _Run:
    """One run's clock and current step, so every failure can say where it happened. The
    clock starts once Chromium runs."""

    def __init__(self, settings: WebExportSettings) -> None:
        self.settings = settings
        self.deadline = time.monotonic() + settings.timeout
        self.step = _("opening the login page")

    def ms(self) -> float:
        """What is left of the run's time, in milliseconds, for one Playwright call."""
        return max(1.0, (self.deadline - time.monotonic()) * 1000)

    def timed_out(self) -> WebExportError:
        return WebExportError(
            _("Gestión Real's site did not answer in time (%(seconds)s s) while %(step)s.")
            % {"seconds": f"{self.settings.timeout:g}", "step": self.step},
            permanent=False,
            code=TIMEOUT,
        )


def _slow_start() -> WebExportError:
    return WebExportError(
        _("Chromium did not start within %(seconds)s s; the machine may be overloaded.")
        % {"seconds": CHROMIUM_START_TIMEOUT},
        permanent=False,
        code=BROWSER,
    )


async def _export(settings: WebExportSettings, started: float) -> ExportedFile:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright

    run: _Run | None = None
    with tempfile.TemporaryDirectory(prefix="ispdesk-gr-") as folder:
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=settings.chromium,
                    args=chromium_args(as_root=_running_as_root()),
                    headless=True,
                    timeout=CHROMIUM_START_TIMEOUT * 1000,
                    downloads_path=folder,
                )
                run = _Run(settings)
                try:
                    async with asyncio.timeout(max(0.0, run.deadline - time.monotonic())):
                        data, name = await _steps(browser, run, Path(folder))
                finally:
                    await browser.close()
        except (TimeoutError, PlaywrightTimeout):  # the run's deadline, or one call's share
            if run is None:
                raise _slow_start() from None
            raise run.timed_out() from None
        except PlaywrightError as exc:
            step = run.step if run is not None else _("starting Chromium")
            gone = "has been closed" in exc.message  # Playwright's TargetClosedError
            # `from None`: the original message may hold the call log; ours is scrubbed.
            raise (_BrowserGone if gone else WebExportError)(
                _("The browser failed while %(step)s: %(reason)s")
                % {"step": step, "reason": _scrub(exc.message, settings)},
                permanent=False,
                code=BROWSER,
            ) from None
    return ExportedFile(data=data, file_name=name, seconds=time.monotonic() - started)


async def _open(page: Page, url: str, run: _Run) -> None:
    response = await page.goto(url, wait_until="load", timeout=run.ms())
    if response is not None and response.status >= 400:
        raise WebExportError(
            _("Gestión Real's site answered HTTP %(status)s while %(step)s.")
            % {"status": response.status, "step": run.step},
            permanent=response.status < 500 and response.status != 429,
            code=HTTP_STATUS,
        )


def site_of(url: str) -> str:
    """Host and port; an upgrade from http to https on the same host is the same site."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return ""
    return f"{(parts.hostname or '').lower()}:{'' if port in (None, default) else port}"


async def _visible(page: Page, selector: str) -> bool:
    if not selector:
        return False
    return await page.locator(selector).first.is_visible()


async def _steps(browser: Browser, run: _Run, folder: Path) -> tuple[bytes, str]:
    settings = run.settings
    context = await browser.new_context(accept_downloads=True, locale="es-AR")
    context.set_default_timeout(run.ms())
    page = await context.new_page()

    run.step = _("opening the login page")
    await _open(page, settings.login_url, run)
    if not await page.locator(settings.password_selector).count():
        raise WebExportError(
            _("The login page has no login form (%(selector)s).")
            % {"selector": settings.password_selector},
            permanent=True,
            code=LOGIN_FORM_MISSING,
        )

    password = page.locator(settings.password_selector).first
    # The password is saved for the login page's address: never type it into a page, or
    # submit it to a form, of another host (a redirect or a changed form must not leak it).
    action = await password.evaluate("field => field.form ? field.form.action : ''")
    for url in (page.url, action or page.url):
        if site_of(url) != site_of(settings.login_url):
            raise WebExportError(
                _("The login form is on another site (%(host)s); the password was not sent.")
                % {"host": site_of(url) or url},
                permanent=True,
                code=OTHER_SITE,
            )

    run.step = _("logging in")
    await page.locator(settings.username_selector).first.fill(settings.username, timeout=run.ms())
    await password.fill(settings.password, timeout=run.ms())
    async with page.expect_navigation(wait_until="load", timeout=run.ms()) as navigation:
        if settings.submit_selector:
            await page.locator(settings.submit_selector).first.click(timeout=run.ms())
        else:
            await password.press("Enter", timeout=run.ms())
    response = await navigation.value
    if response is not None and response.status >= 500:
        raise WebExportError(
            _("Gestión Real's site answered HTTP %(status)s while %(step)s.")
            % {"status": response.status, "step": run.step},
            permanent=False,
            code=HTTP_STATUS,
        )
    if await _visible(page, settings.login_error_selector) or await _visible(
        page, settings.password_selector
    ):
        raise WebExportError(
            _("Gestión Real rejected the login: check the user and the password."),
            permanent=True,
            code=LOGIN_REJECTED,
        )

    run.step = _("opening the cases page")
    await _open(page, settings.resolved_cases_url, run)
    if await _visible(page, settings.password_selector):
        raise WebExportError(
            _("Gestión Real showed the login form again instead of the cases page."),
            permanent=False,
            code=SESSION_LOST,
        )
    export = page.locator(settings.export_selector).first
    if not await export.count():
        raise WebExportError(
            _("The cases page has no export link (%(selector)s).")
            % {"selector": settings.export_selector},
            permanent=True,
            code=EXPORT_MISSING,
        )

    run.step = _("downloading the export")
    async with page.expect_download(timeout=run.ms()) as download_info:
        await export.click(timeout=run.ms())
    download = await download_info.value
    path = await _finished(download, run, folder)
    size = path.stat().st_size
    if size > settings.max_bytes:
        raise _too_large(settings)
    return path.read_bytes(), download.suggested_filename or "casos.csv"


def _too_large(settings: WebExportSettings) -> WebExportError:
    return WebExportError(
        _("The export is larger than %(size)s; nothing was imported.")
        % {"size": filesizeformat(settings.max_bytes)},
        permanent=True,
        code=TOO_LARGE,
    )


def _bytes_in(folder: Path) -> int:
    total = 0
    for item in folder.rglob("*"):
        try:
            total += item.stat().st_size if item.is_file() else 0
        except FileNotFoundError:  # renamed while we looked
            continue
    return total


async def _finished(download: Download, run: _Run, folder: Path) -> Path:
    """The downloaded file once complete; the download is cancelled as soon as the file
    grows past the cap, so a runaway export never fills the disk."""
    waiting = asyncio.ensure_future(download.path())
    try:
        while True:
            done, _pending = await asyncio.wait({waiting}, timeout=SIZE_POLL_SECONDS)
            if done:
                break
            if _bytes_in(folder) > run.settings.max_bytes:
                await download.cancel()
                raise _too_large(run.settings)
    finally:
        if not waiting.done():
            waiting.cancel()
    failure = await download.failure()
    if failure:
        raise WebExportError(
            _("The export download failed: %(reason)s") % {"reason": _scrub(failure, run.settings)},
            permanent=False,
            code=DOWNLOAD_FAILED,
        )
    return Path(waiting.result())
