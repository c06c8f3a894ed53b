"""System pages: business settings, the system pause and the audit log (admins)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.system.actions import do_pause_system, do_resume_system, do_set_config
from ispdesk.system.config import ConfigValueError, config_keys
from ispdesk.system.forms import AuditFilterForm, ConfigForm, config_as_text
from ispdesk.system.models import AuditEvent

AUDIT_PAGE_SIZE = 50
VALUE_PREVIEW_CHARS = 80


# Settings -----------------------------------------------------------------------------------


@admin_required
def settings_page(request: AuthenticatedRequest) -> HttpResponse:
    definitions = config_keys()
    form = ConfigForm(definitions, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_set_config(request.user, form.cleaned_data)
        except ConfigValueError as exc:  # a key removed by a deploy between render and save
            form.add_config_error(exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("settings")
    groups = [
        (
            group,
            [
                {
                    "definition": item,
                    "field": form[item.key],
                    "default": config_as_text(item, item.default),
                }
                for item in items
            ],
        )
        for group, items in groupby(definitions, key=lambda item: str(item.group))
    ]
    status = 422 if form.errors else 200
    return render(request, "system/settings.html", {"form": form, "groups": groups}, status=status)


# System pause -------------------------------------------------------------------------------


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "home"


@admin_required
@require_POST
def system_pause(request: AuthenticatedRequest) -> HttpResponse:
    do_pause_system(request.user, request.POST.get("reason", "").strip())
    messages.warning(request, _("The system is paused: automation stops until you resume it."))
    return redirect(_back(request))


@admin_required
@require_POST
def system_resume(request: AuthenticatedRequest) -> HttpResponse:
    do_resume_system(request.user)
    messages.success(request, _("The system is running again."))
    return redirect(_back(request))


@login_required
def system_banner(request: AuthenticatedRequest) -> HttpResponse:
    """The pause banner alone, refetched by every page on `system:status` events."""
    return render(request, "_system_banner.html")


# Audit log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str
    before: str | None
    after: str | None


_ABSENT = object()


def _preview(value: Any) -> str | None:
    if value is _ABSENT:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_PREVIEW_CHARS else text[: VALUE_PREVIEW_CHARS - 1] + "…"


def audit_changes(before: Any, after: Any) -> list[Change]:
    """What an event changed, compactly: only the keys whose values differ."""
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        keys = list(dict.fromkeys([*old, *new]))
        return [
            Change(key, _preview(old.get(key, _ABSENT)), _preview(new.get(key, _ABSENT)))
            for key in keys
            if old.get(key, _ABSENT) != new.get(key, _ABSENT)
        ]
    if before is None and after is None:
        return []
    return [
        Change(
            "",
            None if before is None else _preview(before),
            None if after is None else _preview(after),
        )
    ]


def _full_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str, sort_keys=True)


@admin_required
def audit(request: AuthenticatedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.order_by("-created_at", "-id")
    if form.is_bound:
        # A filter that cannot be applied shows its error and no rows, never everything.
        events = form.filter(events) if form.is_valid() else events.none()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "event": event,
            "changes": audit_changes(event.before, event.after),
            "before_json": _full_json(event.before) if event.before is not None else "",
            "after_json": _full_json(event.after) if event.after is not None else "",
        }
        for event in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    object_types = (
        AuditEvent.objects.exclude(object_type="")
        .order_by("object_type")
        .values_list("object_type", flat=True)
        .distinct()
    )
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "object_types": list(object_types),
    }
    return render(request, "system/audit.html", context)
