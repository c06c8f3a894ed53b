"""WhatsApp connection pages (admins): the list with live status, add/edit per kind with a
"test connection" button, the session (QR, connect, restart, logout), default and delete.

Views parse, fetch through `access.py`, call the actions in `connections.py` and render. The
list and each connection's status panel refetch themselves on `session:status`,
`session:qr`, `connection:update` and after a reconnect (`resync`). Secret inputs are always
empty: a blank one keeps the stored value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.lib.htmx import is_htmx, render_page_or_fragment
from ispdesk.lib.phones import format_phone
from ispdesk.messaging.access import access_connection
from ispdesk.messaging.api import connections_with_queue
from ispdesk.messaging.connections import (
    MAX_RATE_PER_SECOND,
    NAME_MAX_LENGTH,
    ConnectionChangeError,
    GatewayActionFailed,
    Probe,
    check_kind,
    clean_config,
    config_class,
    default_rate,
    do_connect,
    do_create_connection,
    do_delete_connection,
    do_logout,
    do_restart,
    do_test_connection,
    do_test_new_connection,
    do_update_connection,
    pending_count,
    safe_qr,
    secret_names,
    webhook_path,
)
from ispdesk.messaging.models import GatewayConnection, GatewayKind

CONFIG_PREFIX = "config_"
PAGE_CONTEXT = {"whatsapp_page": True}

# Labels and help for the config keys the adapters define (unknown keys show their name).
CONFIG_LABELS = {
    "base_url": gettext_lazy("Gateway URL"),
    "api_key": gettext_lazy("API key"),
    "instance": gettext_lazy("Instance name"),
    "session": gettext_lazy("Session name"),
    "secret_key": gettext_lazy("Secret key"),
    "api_version": gettext_lazy("Graph API version"),
    "phone_number_id": gettext_lazy("Phone number ID"),
    "access_token": gettext_lazy("Access token"),
    "app_secret": gettext_lazy("App secret"),
    "verify_token": gettext_lazy("Webhook verify token"),
}
CONFIG_HELP = {
    ("evolution", "base_url"): gettext_lazy(
        "Where Evolution API listens, e.g. https://evo.example.com"
    ),
    ("evolution", "api_key"): gettext_lazy("The global API key, or the instance token."),
    ("evolution", "instance"): gettext_lazy("Created on the gateway when you connect."),
    ("wppconnect", "base_url"): gettext_lazy(
        "Where WPPConnect Server listens, e.g. http://wpp:21465"
    ),
    ("wppconnect", "secret_key"): gettext_lazy("The server's SECRET_KEY (never the default one)."),
    ("meta_cloud", "base_url"): gettext_lazy("Meta's Graph API; change it only for a proxy."),
    ("meta_cloud", "verify_token"): gettext_lazy(
        "Any phrase; enter the same in Meta's webhook setup."
    ),
}
KIND_HELP: dict[str, Any] = {
    GatewayKind.EVOLUTION: gettext_lazy("Self-hosted Evolution API v2 (Baileys): scan a QR."),
    GatewayKind.WPPCONNECT: gettext_lazy("Self-hosted WPPConnect Server: scan a QR."),
    GatewayKind.META_CLOUD: gettext_lazy("Meta's official WhatsApp Cloud API: a business number."),
    GatewayKind.SIMULATOR: gettext_lazy(
        "A pretend phone inside ispdesk, for demos and training (no real WhatsApp)."
    ),
}
SESSION_ACTIONS = ("connect", "restart", "logout", "refresh")
KEEP_SECRET_HELP = gettext_lazy("Stored. Leave blank to keep it; type a new value to replace it.")


class ConnectionForm(forms.Form):
    """Name, on/off, send rate, and one input per key of the kind's config class."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=NAME_MAX_LENGTH)
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)
    rate_per_second = forms.FloatField(
        label=gettext_lazy("Send rate (messages per second)"),
        required=False,
        min_value=0,
        max_value=MAX_RATE_PER_SECOND,
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        *,
        kind: str,
        connection: GatewayConnection | None = None,
    ) -> None:
        initial: dict[str, Any] = {}
        stored: Mapping[str, Any] = connection.config if connection is not None else {}
        if connection is not None:
            initial = {
                "name": connection.name,
                "enabled": connection.enabled,
                "rate_per_second": connection.rate_per_second,
            }
        super().__init__(data, initial=initial)
        self.kind = kind
        self.secrets = secret_names(kind, stored)
        rate = default_rate(kind)
        self.fields["rate_per_second"].help_text = (
            _("Blank: this kind's default (%(rate)s per second). 0: unlimited.") % {"rate": rate}
            if rate
            else _("Blank: this kind's default (unlimited). 0: unlimited.")
        )
        self.config_names: list[str] = []
        for name, info in config_class(kind).model_fields.items():
            self.config_names.append(name)
            label = CONFIG_LABELS.get(name, name)
            help_text = CONFIG_HELP.get((kind, name), "")
            if name in self.secrets:
                is_set = bool(stored.get(name))
                field: forms.Field = forms.CharField(
                    label=label,
                    required=info.is_required() and not is_set,
                    widget=forms.PasswordInput(
                        render_value=False, attrs={"autocomplete": "new-password"}
                    ),
                    help_text=KEEP_SECRET_HELP if is_set else help_text,
                    strip=False,
                )
            else:
                value = stored.get(name, None if info.is_required() else info.default)
                field = forms.CharField(
                    label=label,
                    required=info.is_required(),
                    initial=value,
                    help_text=help_text,
                )
            field.secret_is_set = name in self.secrets and bool(stored.get(name))  # type: ignore[attr-defined]
            self.fields[CONFIG_PREFIX + name] = field

    def config_fields(self) -> list[forms.BoundField]:
        return [self[CONFIG_PREFIX + name] for name in self.config_names]

    def submitted_config(self) -> dict[str, Any]:
        """The settings typed in; blank optional values fall back to the kind's defaults and
        blank secrets keep the stored ones."""
        config: dict[str, Any] = {}
        for name in self.config_names:
            value = self.cleaned_data.get(CONFIG_PREFIX + name)
            if value in (None, "") and name not in self.secrets:
                continue
            config[name] = value
        return config

    def changes(self) -> dict[str, Any]:
        return {
            "name": self.cleaned_data["name"],
            "enabled": self.cleaned_data["enabled"],
            "rate_per_second": self.cleaned_data["rate_per_second"],
            "config": self.submitted_config(),
        }

    def add_change_error(self, exc: ConnectionChangeError) -> None:
        """Put an action's refusal beside the fields it names."""
        placed = False
        for name, message in exc.fields.items():
            field = CONFIG_PREFIX + name[len("config.") :] if name.startswith("config.") else name
            field = field.split(".")[0]
            if field in self.fields:
                self.add_error(field, message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)


@dataclass(frozen=True)
class ConnectionRow:
    connection: GatewayConnection
    queued: int
    qr: str
    phone: str  # readable, e.g. "+54 9 11 5555-0000"


def _rows() -> list[ConnectionRow]:
    return [
        ConnectionRow(
            connection,
            connection.queued,  # type: ignore[attr-defined]
            safe_qr(connection.last_qr),
            format_phone(connection.phone_number) if connection.phone_number else "",
        )
        for connection in connections_with_queue()
    ]


def _render(
    request: AuthenticatedRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {**PAGE_CONTEXT, **context}, status=status)


@admin_required
@require_GET
def connections(request: AuthenticatedRequest) -> HttpResponse:
    """The list; for HTMX requests only the list itself (refetched on status events)."""
    context = {**PAGE_CONTEXT, "rows": _rows()}
    return render_page_or_fragment(
        request, "messaging/connections.html", "messaging/_connection_list.html", context
    )


def _kind_choices() -> list[dict[str, Any]]:
    return [
        {"value": value, "label": label, "help": KIND_HELP.get(value, "")}
        for value, label in GatewayKind.choices
    ]


def _test_result(request: AuthenticatedRequest, outcome: Probe) -> HttpResponse:
    return _render(request, "messaging/_connection_test_result.html", {"outcome": outcome})


@admin_required
@require_http_methods(["GET", "POST"])
def connection_create(request: AuthenticatedRequest) -> HttpResponse:
    """Choose a kind (`?kind=`), then fill in its settings."""
    kind = request.GET.get("kind") or request.POST.get("kind") or ""
    if kind not in GatewayKind.values:
        return _render(request, "messaging/connection_kind.html", {"kinds": _kind_choices()})
    form = ConnectionForm(request.POST if request.method == "POST" else None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            connection = do_create_connection(request.user, kind=kind, **form.changes())
        except ConnectionChangeError as exc:
            form.add_change_error(exc)
        else:
            messages.success(
                request,
                _("Connection %(name)s saved. Set its webhook on the gateway, then connect.")
                % {"name": connection.name},
            )
            return redirect("connection_detail", connection.pk)
    return _form_page(request, form, None, status=422 if form.errors else 200)


def _form_page(
    request: AuthenticatedRequest,
    form: ConnectionForm,
    connection: GatewayConnection | None,
    *,
    outcome: Probe | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "kind": form.kind,
        "kind_label": GatewayKind(form.kind).label,
        "edited": connection,
        "outcome": outcome,
    }
    if connection is None:
        return _render(request, "messaging/connection_form.html", context, status=status)
    return _render(
        request,
        "messaging/connection_detail.html",
        {**context, **_detail_context(request, connection)},
        status=status,
    )


def _detail_context(request: AuthenticatedRequest, connection: GatewayConnection) -> dict[str, Any]:
    return {
        "connection": connection,
        "qr": safe_qr(connection.last_qr),
        "webhook_url": request.build_absolute_uri(webhook_path(connection)),
        "queued": pending_count(connection),
        "has_session": connection.kind in (GatewayKind.EVOLUTION, GatewayKind.WPPCONNECT),
    }


def _status_fragment(
    request: AuthenticatedRequest,
    connection: GatewayConnection,
    *,
    failure: str = "",
    status: int = 200,
) -> HttpResponse:
    connection.refresh_from_db()
    context = {**_detail_context(request, connection), "failure": failure}
    return _render(request, "messaging/_connection_status_body.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def connection_detail(request: AuthenticatedRequest, connection_id: int) -> HttpResponse:
    """The connection: its live status panel (alone for HTMX requests), settings and actions.
    POST saves the settings form."""
    connection = access_connection(request.user, connection_id)
    if request.method == "GET" and is_htmx(request):
        return _status_fragment(request, connection)
    form = ConnectionForm(
        request.POST if request.method == "POST" else None,
        kind=connection.kind,
        connection=connection,
    )
    if request.method == "POST" and form.is_valid():
        try:
            do_update_connection(request.user, connection, form.changes(), partial=False)
        except ConnectionChangeError as exc:
            form.add_change_error(exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("connection_detail", connection.pk)
    return _form_page(request, form, connection, status=422 if form.errors else 200)


def _config_to_test(
    form: ConnectionForm, connection: GatewayConnection | None
) -> dict[str, Any] | None:
    """The form's settings validated as they would be saved, or None (errors on the form)."""
    if not form.is_valid():
        return None
    try:
        stored = connection.config if connection is not None else None
        return clean_config(form.kind, form.submitted_config(), stored)
    except ConnectionChangeError as exc:
        form.add_change_error(exc)
        return None


def _invalid_outcome(form: ConnectionForm) -> Probe:
    names = [str(form[name].label) for name in form.errors if name in form.fields]
    detail = (
        _("Not tested: correct %(fields)s first.") % {"fields": ", ".join(names)} if names else ""
    )
    return Probe(
        ok=False, state="unknown", detail=detail or _("Not tested: correct the form first.")
    )


@admin_required
@require_POST
def connection_test(
    request: AuthenticatedRequest, connection_id: int | None = None
) -> HttpResponse:
    """Try the settings in the form (unsaved edits included; blank secrets use the stored ones).

    HTMX requests get only the result, shown under the button; without JavaScript the form
    page comes back with the result and the values typed.
    """
    connection = access_connection(request.user, connection_id) if connection_id else None
    kind = connection.kind if connection is not None else request.POST.get("kind", "")
    try:
        check_kind(kind)
    except ConnectionChangeError:
        raise Http404 from None
    form = ConnectionForm(request.POST, kind=kind, connection=connection)
    config = _config_to_test(form, connection)
    if config is None:
        outcome = _invalid_outcome(form)
    elif connection is not None:
        outcome = do_test_connection(request.user, connection, config)
    else:
        outcome = do_test_new_connection(request.user, kind, config)
    if is_htmx(request):
        return _test_result(request, outcome)
    return _form_page(request, form, connection, outcome=outcome)


@admin_required
@require_POST
def connection_session(
    request: AuthenticatedRequest, connection_id: int, action: str
) -> HttpResponse:
    """Connect (register our webhook and fetch the QR), restart, log out, or ask the gateway
    for the state now (`refresh`)."""
    connection = access_connection(request.user, connection_id)
    if action not in SESSION_ACTIONS:
        raise Http404
    failure = ""
    webhook_url = request.build_absolute_uri(webhook_path(connection))
    try:
        if action == "refresh":
            outcome = do_test_connection(request.user, connection)
            failure = "" if outcome.ok else outcome.detail
        elif action == "connect":
            do_connect(request.user, connection, webhook_url)
        elif action == "restart":
            do_restart(request.user, connection, webhook_url)
        else:
            do_logout(request.user, connection)
    except GatewayActionFailed as exc:
        failure = exc.message
    if is_htmx(request):
        return _status_fragment(request, connection, failure=failure)
    if failure:
        messages.error(request, _("The gateway failed: %(reason)s") % {"reason": failure})
    else:
        done = {
            "refresh": _("%(name)s: the gateway answered."),
            "connect": _("Connecting %(name)s: scan the QR code if one appears."),
            "restart": _("%(name)s restarted."),
            "logout": _("%(name)s logged out of WhatsApp."),
        }
        messages.success(request, done[action] % {"name": connection.name})
    return redirect("connection_detail", connection.pk)


@admin_required
@require_POST
def connection_default(request: AuthenticatedRequest, connection_id: int) -> HttpResponse:
    """Make this the connection for operator alerts (`is_default=0` stops it being one)."""
    connection = access_connection(request.user, connection_id)
    make_default = request.POST.get("is_default", "1") not in ("0", "false", "")
    connection = do_update_connection(request.user, connection, {"is_default": make_default})
    if make_default:
        messages.success(
            request, _("Operator alerts now go out through %(name)s.") % {"name": connection.name}
        )
    else:
        messages.success(
            request, _("%(name)s is no longer the default connection.") % {"name": connection.name}
        )
    if request.POST.get("next") == "list":
        return redirect("connections")
    return redirect("connection_detail", connection.pk)


@admin_required
@require_POST
def connection_delete(request: AuthenticatedRequest, connection_id: int) -> HttpResponse:
    connection = access_connection(request.user, connection_id)
    force = request.POST.get("force") in ("1", "true", "on")
    try:
        do_delete_connection(request.user, connection, force=force)
    except ConnectionChangeError as exc:
        messages.error(request, exc.message)
        return redirect("connection_detail", connection.pk)
    messages.success(request, _("Connection %(name)s deleted.") % {"name": connection.name})
    return redirect("connections")
