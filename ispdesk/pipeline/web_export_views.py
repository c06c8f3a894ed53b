"""The Gestión Real settings page's "Run the web export now" button (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.pipeline.web_export import PROBLEMS_SHOWN, do_run_web_export


@admin_required
@require_POST
def integration_gestionreal_web_export(request: AuthenticatedRequest) -> HttpResponse:
    """Run the export (it may take up to its timeout) and show the outcome on the page."""
    outcome = do_run_web_export(request.user)
    if not outcome.ok:
        messages.error(request, outcome.detail)
        return redirect("integration_gestionreal")
    messages.success(request, outcome.detail)
    for problem in outcome.problems[:PROBLEMS_SHOWN]:
        messages.warning(request, problem)
    return redirect("integration_gestionreal")
