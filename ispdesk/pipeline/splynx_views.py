"""The Splynx settings page (admins): connection settings with "Test connection", how
customers are matched and Splynx's time zone, and the mappings (our statuses, default group
and type, operators ↔ Splynx administrators) picked from lists fetched live from Splynx.

Views parse forms and call `splynx_settings`; password inputs are always empty (blank keeps
the stored value). The mappings fragment loads on its own (HTMX) so a slow or unreachable
Splynx never delays the settings form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.lib.htmx import is_htmx
from ispdesk.operators.models import Operator
from ispdesk.pipeline.splynx_settings import (
    CUSTOMER_KEYS,
    MAPPING_IDS,
    SECRET_FIELDS,
    SplynxSettingsError,
    TestOutcome,
    do_map_operators,
    do_save_splynx_settings,
    do_test_splynx,
    fetch_catalog,
    mappings_of,
    settings_out,
    splynx_system,
)
from ispdesk.pipeline.splynx_sync_customers import MATCH_MODES
from ispdesk.tickets.models import Status

AUTH_CHOICES = [
    ("api_key", gettext_lazy("API key (signed requests)")),
    ("admin", gettext_lazy("Administrator login and password (access token)")),
    ("basic", gettext_lazy("API key with unsecure access (HTTP Basic)")),
]
MAPPING_LABELS = {
    "default_group_id": gettext_lazy("Default group for new tickets"),
    "default_type_id": gettext_lazy("Default type for new tickets"),
    "new_status_id": gettext_lazy("Status of a reopened ticket"),
    "resolved_status_id": gettext_lazy("Status of a closed ticket"),
}
MATCH_LABELS = {
    "login": gettext_lazy("By login: the Gestión Real client number is the Splynx login"),
    "none": gettext_lazy("Not by login: only the DNI and the phone"),
}
# Suggestions only: the input takes any IANA name.
COMMON_ZONES = (
    "UTC",
    "America/Argentina/Buenos_Aires",
    "America/Argentina/Cordoba",
    "America/Argentina/Mendoza",
    "America/Montevideo",
    "America/Asuncion",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/La_Paz",
    "America/Lima",
    "America/Bogota",
    "America/Mexico_City",
    "America/New_York",
    "Europe/Madrid",
    "Europe/London",
)
# Blank means something (the project's zone; DNI matching off), so blank is sent, not dropped.
BLANK_MEANS_DEFAULT = ("base_url", "time_zone", "dni_attribute")
SHOWN_FIELDS = ("enabled", "base_url", "auth_type", "login", *CUSTOMER_KEYS)
MAPPING_CATALOG = {
    "default_group_id": "groups",
    "default_type_id": "types",
    "new_status_id": "statuses",
    "resolved_status_id": "statuses",
}


class SplynxSettingsForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False)
    base_url = forms.CharField(
        label=gettext_lazy("Splynx address"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("The Splynx server, e.g. https://splynx.example.com"),
    )
    auth_type = forms.ChoiceField(label=gettext_lazy("Authentication"), choices=AUTH_CHOICES)
    login = forms.CharField(
        label=gettext_lazy("Administrator login"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Only for the login and password authentication."),
    )
    password = forms.CharField(
        label=gettext_lazy("Administrator password"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    api_key = forms.CharField(
        label=gettext_lazy("API key"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    api_secret = forms.CharField(
        label=gettext_lazy("API secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    customer_match = forms.ChoiceField(
        label=gettext_lazy("Find the Splynx customer"),
        choices=[(mode, MATCH_LABELS.get(mode, mode)) for mode in MATCH_MODES],
    )
    dni_attribute = forms.CharField(
        label=gettext_lazy("Splynx attribute with the DNI"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
        help_text=gettext_lazy(
            "The name of the additional customer attribute where your Splynx keeps the DNI, "
            "e.g. dni. With a name, a contact's DNI finds their customer; blank leaves DNI "
            "matching off. The phone is tried last either way."
        ),
    )
    time_zone = forms.CharField(
        label=gettext_lazy("Splynx time zone"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "splynx-time-zones", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The zone of the Splynx server's clock, as an IANA name (pick one or type any, "
            "e.g. UTC). Hosted Splynx installs often run in UTC. The status sync compares "
            "the times Splynx gives with ours, so a wrong zone can undo a status changed "
            "here. Blank uses the help desk's own zone."
        ),
    )

    def __init__(self, data: Mapping[str, Any] | None, *, shown: Mapping[str, Any]) -> None:
        initial = {name: shown[name] for name in SHOWN_FIELDS}
        super().__init__(data, initial=initial)
        for name in SECRET_FIELDS:
            if shown[f"has_{name}"]:
                self.fields[name].help_text = _("Stored — leave blank to keep it.")
                self.fields[name].widget.attrs["placeholder"] = "••••••••"

    def submitted(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        return {
            name: value
            for name, value in data.items()
            if value != "" or name in BLANK_MEANS_DEFAULT
        }

    def add_errors(self, exc: SplynxSettingsError) -> None:
        for name, text in exc.fields.items():
            self.add_error(name if name in self.fields else None, text)
        if not exc.fields:
            self.add_error(None, exc.message)


def _page(
    request: AuthenticatedRequest,
    form: SplynxSettingsForm,
    outcome: TestOutcome | None = None,
    status: int = 200,
) -> HttpResponse:
    shown = settings_out(splynx_system())
    context = {"form": form, "shown": shown, "outcome": outcome, "common_zones": COMMON_ZONES}
    context["integrations_page"] = True  # marks the section in the navigation
    return render(request, "pipeline/splynx.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def integration_splynx(request: AuthenticatedRequest) -> HttpResponse:
    shown = settings_out(splynx_system())
    if request.method == "GET":
        return _page(request, SplynxSettingsForm(None, shown=shown))
    form = SplynxSettingsForm(request.POST, shown=shown)
    if not form.is_valid():
        return _page(request, form, status=422)
    try:
        do_save_splynx_settings(request.user, form.submitted())
    except SplynxSettingsError as exc:
        form.add_errors(exc)
        return _page(request, form, status=422)
    messages.success(request, _("Splynx settings saved."))
    return redirect("integration_splynx")


@admin_required
@require_POST
def integration_splynx_test(request: AuthenticatedRequest) -> HttpResponse:
    """Try the settings in the form (blank credentials use the stored ones; nothing saved)."""
    form = SplynxSettingsForm(request.POST, shown=settings_out(splynx_system()))
    outcome: TestOutcome
    if not form.is_valid():
        outcome = TestOutcome(False, _("Please correct the marked fields."))
    else:
        submitted = form.submitted()
        submitted.pop("enabled", None)
        try:
            outcome = do_test_splynx(request.user, submitted)
        except SplynxSettingsError as exc:
            form.add_errors(exc)
            outcome = TestOutcome(False, exc.message)
    if is_htmx(request):
        return render(request, "pipeline/splynx_test_result.html", {"outcome": outcome})
    return _page(request, form, outcome=outcome)


class MappingsForm(forms.Form):
    """One picker per mapping, its choices from the catalog fetched from Splynx."""

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        *,
        catalog: Mapping[str, list[dict[str, Any]]],
        mappings: Mapping[str, Any],
        operators: list[Operator],
    ) -> None:
        super().__init__(data)
        blank = [("", _("— none —"))]
        statuses = blank + [(str(row["id"]), row["title"]) for row in catalog["statuses"]]
        self.status_names: list[str] = []
        for value, label in Status.choices:
            name = f"status_{value}"
            self.fields[name] = forms.TypedChoiceField(
                label=label, choices=statuses, required=False, coerce=int, empty_value=None
            )
            self.initial[name] = mappings["statuses"].get(value)
            self.status_names.append(name)
        for name in MAPPING_IDS:
            rows = catalog[MAPPING_CATALOG[name]]
            self.fields[name] = forms.TypedChoiceField(
                label=MAPPING_LABELS[name],
                choices=blank + [(str(row["id"]), row["title"]) for row in rows],
                required=False,
                coerce=int,
                empty_value=None,
            )
            self.initial[name] = mappings.get(name)
        admins = blank + [
            (str(row["id"]), f"{row['name']} ({row['login']})") for row in catalog["administrators"]
        ]
        self.operator_names: list[str] = []
        for operator in operators:
            name = f"operator_{operator.pk}"
            self.fields[name] = forms.TypedChoiceField(
                label=operator.user.display_name,
                choices=admins,
                required=False,
                coerce=int,
                empty_value=None,
            )
            self.initial[name] = operator.person_id
            self.operator_names.append(name)

    def mappings(self) -> dict[str, Any]:
        data = self.cleaned_data
        statuses = {
            name.removeprefix("status_"): data[name]
            for name in self.status_names
            if data.get(name) is not None
        }
        return {"statuses": statuses, **{name: data.get(name) for name in MAPPING_IDS}}

    def operator_links(self) -> dict[int, int | None]:
        return {
            int(name.removeprefix("operator_")): self.cleaned_data.get(name)
            for name in self.operator_names
        }

    def status_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.status_names]

    def default_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in MAPPING_IDS]

    def operator_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.operator_names]


def _operators() -> list[Operator]:
    return list(Operator.objects.select_related("user").order_by("user__first_name", "pk"))


@admin_required
@require_http_methods(["GET", "POST"])
def integration_splynx_mappings(request: AuthenticatedRequest) -> HttpResponse:
    """The mappings fragment (loaded by the page) and its save."""
    system = splynx_system()
    try:
        catalog = fetch_catalog(system)
    except SplynxSettingsError as exc:
        return render(request, "pipeline/splynx_mappings.html", {"catalog_error": exc.message})
    operators = _operators()
    mappings = mappings_of(system.config or {})
    data = request.POST if request.method == "POST" else None
    form = MappingsForm(data, catalog=catalog, mappings=mappings, operators=operators)
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            do_save_splynx_settings(request.user, {"mappings": form.mappings()})
            do_map_operators(request.user, form.operator_links())
            saved = True
        except SplynxSettingsError as exc:
            for name, text in exc.fields.items():
                field = f"operator_{name}" if name.isdigit() else None
                form.add_error(field if field in form.fields else None, text)
            if not exc.fields:
                form.add_error(None, exc.message)
        if saved and not is_htmx(request):
            messages.success(request, _("Splynx mappings saved."))
            return redirect("integration_splynx")
    context: dict[str, Any] = {"form": form, "saved": saved}
    status = 422 if request.method == "POST" and not saved else 200
    return render(request, "pipeline/splynx_mappings.html", context, status=status)
