"""The integrations overview: each external system, whether it is on, and its last test."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.pipeline.models import ExternalSystem, SystemKind


@dataclass(frozen=True)
class SystemCard:
    kind: str
    name: str
    purpose: str | Promise
    url: str
    system: ExternalSystem | None


PURPOSES: dict[str, str | Promise] = {
    SystemKind.SPLYNX: _("Where tickets live: created, assigned and kept in sync with ispdesk."),
    SystemKind.GESTIONREAL: _("Where support cases come from: the API, CSV exports or the web."),
    SystemKind.TICKET_HOOK: _("Tickets posted by another system to a secret address."),
}
PAGES: dict[str, str] = {
    SystemKind.SPLYNX: "integration_splynx",
    SystemKind.GESTIONREAL: "integration_gestionreal",
    SystemKind.TICKET_HOOK: "integration_ticket_hook",
}


@admin_required
def integrations(request: AuthenticatedRequest) -> HttpResponse:
    stored = {system.kind: system for system in ExternalSystem.objects.all()}
    cards = [
        SystemCard(kind, str(label), PURPOSES[kind], reverse(PAGES[kind]), stored.get(kind))
        for kind, label in SystemKind.choices
    ]
    return render(
        request,
        "pipeline/integrations.html",
        {"cards": cards, "integrations_page": True, "csv_url": reverse("csv_import")},
    )
