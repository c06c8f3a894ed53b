"""Gestión Real pages (admins): the settings with "test", and the CSV import
(upload → preview → import), which keeps the upload in the session between the two steps."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.integrations.gestionreal.csv import CsvFileError
from ispdesk.lib.htmx import is_htmx
from ispdesk.lib.parked_uploads import drop_upload, park_upload, take_upload
from ispdesk.pipeline.csv_import import CsvPlan, import_csv, preview_csv
from ispdesk.pipeline.gestionreal_settings import (
    CLOSE_SYNC_BATCH_RANGE,
    DEFAULT_WEB,
    MODES,
    REOPEN_WINDOW_RANGE,
    WEB_NUMBER_RANGES,
    WEB_TEXT_MAX_LENGTH,
    SettingsError,
    TestOutcome,
    do_save_gestionreal,
    do_test_gestionreal,
    gestionreal_system,
    public_settings,
)

PAGE_CONTEXT = {"integrations_page": True}
MAX_CSV_BYTES = 5 * 2**20
PREVIEW_ROWS = 1000  # rows shown; the counts cover the whole file
CSV_SESSION_KEY = "gestionreal_csv_import"
FILTER_FIELDS = {
    "keywords": gettext_lazy("Only subjects with one of these words"),
    "groups": gettext_lazy("Only cases assigned to these groups (Asignado)"),
    "states": gettext_lazy("Only cases in these states"),
    "exclude_states": gettext_lazy("Never cases in these states"),
}
MODE_LABELS = {
    "api": gettext_lazy("API (CUIT and secret)"),
    "csv": gettext_lazy("CSV files (upload or watched folder)"),
    "web": gettext_lazy("Web export (the browser logs in and downloads the CSV)"),
}
KEEP_HELP = gettext_lazy("Stored. Leave blank to keep it; type a new one to replace it.")
# The web export page's fields are named `web_<key>`, after the keys of `config["web"]`.
WEB_LABELS = {
    "cases_url": gettext_lazy("Cases page"),
    "username_selector": gettext_lazy("User field (CSS selector)"),
    "password_selector": gettext_lazy("Password field (CSS selector)"),
    "submit_selector": gettext_lazy("Login button (CSS selector)"),
    "login_error_selector": gettext_lazy("Refused login message (CSS selector)"),
    "export_selector": gettext_lazy("Export button (CSS selector)"),
    "timeout_seconds": gettext_lazy("Time limit for a run (seconds)"),
    "max_megabytes": gettext_lazy("Largest file (MB)"),
}
WEB_HELP = {
    "cases_url": gettext_lazy("Empty: index.php?menuitem=10 next to the login page."),
    "submit_selector": gettext_lazy("Empty: press Enter in the password field."),
    "login_error_selector": gettext_lazy("Optional: an element only shown after a refused login."),
}


def _render(
    request: AuthenticatedRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {**PAGE_CONTEXT, **context}, status=status)


# Settings ------------------------------------------------------------------------------------


class GestionRealForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False)
    mode = forms.ChoiceField(label=gettext_lazy("How cases arrive"), choices=())
    base_url = forms.CharField(label=gettext_lazy("API address"), max_length=200)
    cuit = forms.CharField(label="CUIT", max_length=20, required=False)
    secret = forms.CharField(
        label=gettext_lazy("API secret"),
        required=False,
        max_length=500,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    login_url = forms.CharField(
        label=gettext_lazy("Web login page"), max_length=300, required=False
    )
    username = forms.CharField(label=gettext_lazy("Web user"), max_length=150, required=False)
    password = forms.CharField(
        label=gettext_lazy("Web password"),
        required=False,
        max_length=500,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    watched_folder = forms.CharField(
        label=gettext_lazy("Watched folder"),
        max_length=500,
        required=False,
        help_text=gettext_lazy(
            "New .csv files there are imported once and moved to its processed/ folder."
        ),
    )

    closed_states = forms.CharField(
        label=gettext_lazy("Case states that mean closed"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=gettext_lazy("One per line or separated by commas, as Gestión Real names them."),
    )
    reopen_window_hours = forms.IntegerField(
        label=gettext_lazy("Reopen window (hours)"),
        min_value=REOPEN_WINDOW_RANGE[0],
        max_value=REOPEN_WINDOW_RANGE[1],
        help_text=gettext_lazy(
            "A ticket closed in Splynx while its case is still open in Gestión Real is "
            "reopened if it was closed less than this long ago. 0: never reopen."
        ),
    )
    close_sync_batch = forms.IntegerField(
        label=gettext_lazy("Cases checked per run"),
        min_value=CLOSE_SYNC_BATCH_RANGE[0],
        max_value=CLOSE_SYNC_BATCH_RANGE[1],
        help_text=gettext_lazy(
            "Each run of the close sync reads this many cases from Gestión Real, one request "
            "each, and goes on from there on the next run."
        ),
    )

    def __init__(self, data: Any = None, *, current: dict[str, Any]) -> None:
        initial = {key: current[key] for key in ("enabled", "mode", "base_url", "cuit")}
        initial |= {key: current[key] for key in ("login_url", "username", "watched_folder")}
        for key in FILTER_FIELDS:
            initial[key] = "\n".join(current["filters"].get(key, []))
        initial["closed_states"] = "\n".join(current["closed_states"])
        initial |= {key: current[key] for key in ("reopen_window_hours", "close_sync_batch")}
        initial |= {f"web_{key}": value for key, value in current["web"].items()}
        super().__init__(data, initial=initial)
        # The web export page's fields are on the page in web mode only; a form posted
        # without them leaves those settings alone.
        if data is None:
            self.show_web = current["mode"] == "web"
        else:
            self.show_web = data.get("web_section") == "1"
        if self.show_web:
            self._add_web_fields()
        self.fields["mode"].choices = [(mode, MODE_LABELS[mode]) for mode in MODES]  # type: ignore[attr-defined]
        for key, label in FILTER_FIELDS.items():
            self.fields[key] = forms.CharField(
                label=label,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("One per line; empty: no condition."),
            )
        for name, stored in (("secret", "has_secret"), ("password", "has_password")):
            if current[stored]:
                self.fields[name].help_text = KEEP_HELP
                self.fields[name].secret_is_set = True  # type: ignore[attr-defined]

    def _add_web_fields(self) -> None:
        for key, label in WEB_LABELS.items():
            name = f"web_{key}"
            help_text = WEB_HELP.get(key, "")
            if key in WEB_NUMBER_RANGES:
                low, high = WEB_NUMBER_RANGES[key]
                self.fields[name] = forms.IntegerField(
                    label=label, min_value=low, max_value=high, help_text=help_text
                )
            else:
                # Not required here: the settings say which may be blank, and what blank means.
                self.fields[name] = forms.CharField(
                    label=label,
                    max_length=WEB_TEXT_MAX_LENGTH,
                    required=False,
                    help_text=help_text,
                )

    @property
    def web_fields(self) -> list[forms.BoundField]:
        return [self[f"web_{key}"] for key in DEFAULT_WEB] if self.show_web else []

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {
            key: data[key]
            for key in ("enabled", "mode", "base_url", "cuit", "login_url", "username")
        }
        changes["watched_folder"] = data["watched_folder"]
        for name in ("secret", "password"):
            if data[name]:
                changes[name] = data[name]
        changes["filters"] = {
            key: [line.strip() for line in data[key].splitlines() if line.strip()]
            for key in FILTER_FIELDS
        }
        states = data["closed_states"].replace(",", "\n").splitlines()
        changes["closed_states"] = [state.strip() for state in states if state.strip()]
        changes["reopen_window_hours"] = data["reopen_window_hours"]
        changes["close_sync_batch"] = data["close_sync_batch"]
        if self.show_web:
            changes["web"] = {key: data[f"web_{key}"] for key in DEFAULT_WEB}
        return changes

    def add_settings_error(self, exc: SettingsError) -> None:
        placed = False
        for name, message in exc.fields.items():
            if name.startswith("filters."):
                field = name.split(".")[-1]
            elif name.startswith("web."):
                field = f"web_{name.split('.', 1)[1]}"
            else:
                field = name.split(".")[0]
            if field in self.fields:
                self.add_error(field, message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)


def _settings_page(
    request: AuthenticatedRequest,
    form: GestionRealForm | None = None,
    outcome: TestOutcome | None = None,
    status: int = 200,
) -> HttpResponse:
    system = gestionreal_system()
    current = public_settings(system)
    form = form or GestionRealForm(current=current)
    context = {
        "form": form,
        "system": system,
        "current": current,
        "outcome": outcome,
        "filter_fields": [form[name] for name in FILTER_FIELDS],
        "close_fields": [
            form[name] for name in ("closed_states", "reopen_window_hours", "close_sync_batch")
        ],
    }
    return _render(request, "pipeline/gestionreal.html", context, status)


@admin_required
@require_http_methods(["GET", "POST"])
def integration_gestionreal(request: AuthenticatedRequest) -> HttpResponse:
    if request.method != "POST":
        return _settings_page(request)
    form = GestionRealForm(request.POST, current=public_settings(gestionreal_system()))
    if not form.is_valid():
        return _settings_page(request, form, status=422)
    try:
        do_save_gestionreal(request.user, form.changes())
    except SettingsError as exc:
        form.add_settings_error(exc)
        return _settings_page(request, form, status=422)
    messages.success(request, _("Gestión Real settings saved."))
    return redirect("integration_gestionreal")


@admin_required
@require_POST
def integration_gestionreal_test(request: AuthenticatedRequest) -> HttpResponse:
    """Try the stored settings; HTMX gets the result fragment, others the whole page."""
    outcome = do_test_gestionreal(request.user)
    if is_htmx(request):
        return _render(request, "pipeline/_gestionreal_test_result.html", {"outcome": outcome})
    return _settings_page(request, outcome=outcome)


# CSV import ----------------------------------------------------------------------------------


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "The cases CSV exported from Gestión Real (separated by semicolons, Latin-1). "
            "At most 5 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB."),
                params={"size": MAX_CSV_BYTES // 2**20},
                code="too_large",
            )
        return upload


def _csv_page(
    request: AuthenticatedRequest,
    form: CsvUploadForm | None = None,
    plan: CsvPlan | None = None,
    token: str = "",
    file_name: str = "",
    status: int = 200,
) -> HttpResponse:
    shown = plan.rows[:PREVIEW_ROWS] if plan is not None else []
    context = {
        "form": form or CsvUploadForm(),
        "plan": plan,
        "shown": shown,
        "hidden_rows": len(plan.rows) - len(shown) if plan is not None else 0,
        "token": token,
        "file_name": file_name,
    }
    return _render(request, "pipeline/csv_import.html", context, status)


def _csv_preview(request: AuthenticatedRequest) -> HttpResponse:
    form = CsvUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _csv_page(request, form, status=422)
    upload = form.cleaned_data["file"]
    data = upload.read(MAX_CSV_BYTES + 1)
    try:
        plan = preview_csv(data)
    except CsvFileError as exc:
        form.add_error("file", exc.message)
        return _csv_page(request, form, status=422)
    token = park_upload(request.session, CSV_SESSION_KEY, data, name=upload.name or "")
    return _csv_page(request, plan=plan, token=token, file_name=upload.name or "")


def _csv_confirm(request: AuthenticatedRequest) -> HttpResponse:
    pending = take_upload(request.session, CSV_SESSION_KEY, request.POST.get("token", ""))
    if pending is None:
        messages.error(request, _("That preview is no longer available; upload the file again."))
        return redirect("csv_import")
    name = pending.name
    try:
        result = import_csv(request.user, pending.data, file_name=name)
    except CsvFileError as exc:  # not after a good preview; kept as a safety net
        messages.error(request, exc.message)
        return redirect("csv_import")
    messages.success(
        request,
        _(
            "Import done. Tickets created: %(create)s; already there: %(exists)s; "
            "filtered out: %(skipped)s; invalid rows: %(invalid)s."
        )
        % result.counts,
    )
    return _csv_page(request, plan=result, file_name=name)


@admin_required
@require_http_methods(["GET", "POST"])
def csv_import(request: AuthenticatedRequest) -> HttpResponse:
    """Upload a Gestión Real export to preview what happens per row; confirm to import."""
    if request.method != "POST":
        return _csv_page(request)
    if "token" in request.POST:
        return _csv_confirm(request)
    return _csv_preview(request)


@admin_required
@require_POST
def csv_import_cancel(request: AuthenticatedRequest) -> HttpResponse:
    drop_upload(request.session, CSV_SESSION_KEY)
    return redirect("csv_import")
