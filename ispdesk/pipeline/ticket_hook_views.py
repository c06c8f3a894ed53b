"""The inbound ticket webhook's endpoints and its settings page (admins).

Webhook answers, and why:
- 404: the secret is not the hook's (or the hook was never set up).
- 405: a method other than POST.
- 503 `disabled`: the hook is switched off, so the sender keeps the ticket and retries;
  503 `unavailable`: our own fault (database busy or down, a bug): retrying will work.
- 413: the body is over `WEBHOOK_MAX_BYTES`; 400: not JSON, or not an object or a list.
- otherwise what `ticket_hook.receive_tickets` / `receive_close` decide (200/201/404/422).
Never a 500, and the secret (in the path) is never logged: Django's request logger is told
the answer was logged already, and this module logs without the path.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from ispdesk.accounts.decorators import AuthenticatedRequest, admin_required
from ispdesk.api_errors import error_response
from ispdesk.pipeline.models import ExternalSystem
from ispdesk.pipeline.ticket_hook import (
    OUR_FIELDS,
    HookAnswer,
    MappingError,
    do_rotate_hook_secret,
    do_save_hook_settings,
    find_hook,
    hook_path,
    hook_system,
    receive_close,
    receive_tickets,
    stored_mapping,
)

logger = logging.getLogger("ispdesk.webhooks")

# Blank rows under the mapping, for adding their fields without JavaScript.
EXTRA_MAPPING_ROWS = 3


class _Malformed(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _read_json(request: HttpRequest) -> Any:
    """The parsed body, or _Malformed (oversized, unreadable, not JSON).

    Read from the stream with a limit rather than `request.body` (see messaging.webhooks).
    """
    limit = settings.WEBHOOK_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    too_large = _Malformed(413, "payload_too_large", _("The request body is too large."))
    if declared > limit:
        raise too_large
    try:
        body = request.read(limit + 1)
    except OSError:  # UnreadablePostError: the sender hung up mid-body
        raise _Malformed(400, "bad_request", _("The request body could not be read.")) from None
    if len(body) > limit:
        raise too_large
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # UnicodeDecodeError is a ValueError too.
        raise _Malformed(400, "malformed_json", _("The request body is not valid JSON.")) from None


def _not_logged_by_django(response: HttpResponse) -> HttpResponse:
    # Django logs every 4xx/5xx answer with its path, which holds the hook's secret.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _answer(request: HttpRequest, secret: str, receive: Any, what: str) -> HttpResponse:
    try:
        system = find_hook(secret)
        if system is None:
            logger.info("ticket hook (%s): the secret given is not the hook's", what)
            return error_response(404, "not_found", _("Not found."))
        if request.method != "POST":
            response = error_response(405, "method_not_allowed", _("Method not allowed."))
            response["Allow"] = "POST"
            return response
        if not system.enabled:
            logger.warning("ticket hook (%s): a delivery arrived while it is disabled", what)
            return error_response(
                503, "disabled", _("The ticket webhook is disabled; retry once it is enabled.")
            )
        try:
            payload = _read_json(request)
        except _Malformed as exc:
            logger.warning("ticket hook (%s): refused with %s (%s)", what, exc.status, exc.code)
            return error_response(exc.status, exc.code, exc.message)
        answer: HookAnswer = receive(system, payload)
    except DatabaseError:
        # Busy (SQLite lock timeout), down, or a deadlock victim: what was not stored will be
        # on the sender's retry, and what was is found again (creation is idempotent).
        logger.exception("ticket hook (%s): database error, answering 503", what)
        return error_response(503, "unavailable", _("Temporarily unavailable; retry later."))
    except Exception:
        # A bug of ours must not cost a ticket: 503 asks for a retry; the traceback is logged.
        logger.exception("ticket hook (%s): unexpected error, answering 503", what)
        return error_response(503, "unavailable", _("Temporarily unavailable; retry later."))
    if answer.status >= 400:
        logger.info("ticket hook (%s): answered %s", what, answer.status)
    return JsonResponse(answer.body, status=answer.status)


@csrf_exempt
def ticket_hook(request: HttpRequest, secret: str) -> HttpResponse:
    """New tickets: one JSON object or a list of them."""
    return _not_logged_by_django(_answer(request, secret, receive_tickets, "tickets"))


@csrf_exempt
def ticket_hook_close(request: HttpRequest, secret: str) -> HttpResponse:
    """Close the ticket whose number is in the JSON object."""
    return _not_logged_by_django(_answer(request, secret, receive_close, "close"))


# The settings page ---------------------------------------------------------------------------


class HookSettingsForm(forms.Form):
    enabled = forms.BooleanField(label=gettext_lazy("Accept tickets"), required=False)


def _mapping_from_post(request: HttpRequest) -> dict[str, str]:
    """Rows of the mapping table (`their` / `ours` pairs); blank names are dropped rows."""
    theirs = request.POST.getlist("their")
    ours = request.POST.getlist("ours")
    mapping: dict[str, str] = {}
    for their, our in zip(theirs, ours, strict=False):
        if their.strip():
            # A repeated name keeps its first row; clean_mapping refuses near-duplicates.
            mapping.setdefault(their, our)
    return mapping


def _page(
    request: AuthenticatedRequest,
    system: ExternalSystem,
    form: HookSettingsForm,
    rows: list[tuple[str, str]],
    *,
    mapping_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "system": system,
        "form": form,
        "hook_url": request.build_absolute_uri(hook_path(system)),
        "close_url": request.build_absolute_uri(
            reverse("ticket_hook_close", args=[system.hook_secret])
        ),
        "rows": [(their, ours, (mapping_errors or {}).get(their, "")) for their, ours in rows]
        + [("", "", "")] * EXTRA_MAPPING_ROWS,
        "our_fields": list(OUR_FIELDS.items()),
        "mapping_errors": mapping_errors or {},
    }
    context["integrations_page"] = True  # marks the section in the navigation
    return render(request, "pipeline/ticket_hook.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def ticket_hook_settings(request: AuthenticatedRequest) -> HttpResponse:
    system = hook_system()
    if request.method == "GET":
        form = HookSettingsForm(initial={"enabled": system.enabled})
        return _page(request, system, form, list(stored_mapping(system).items()))
    form = HookSettingsForm(request.POST)
    mapping = _mapping_from_post(request)
    if form.is_valid():
        try:
            do_save_hook_settings(
                request.user, enabled=form.cleaned_data["enabled"], mapping=mapping
            )
        except MappingError as exc:
            form.add_error(None, exc.message)
            return _page(
                request, system, form, list(mapping.items()), mapping_errors=exc.fields, status=422
            )
        messages.success(request, _("Webhook settings saved."))
        return redirect("integration_ticket_hook")
    return _page(request, system, form, list(mapping.items()), status=422)


@admin_required
@require_POST
def ticket_hook_rotate(request: AuthenticatedRequest) -> HttpResponse:
    do_rotate_hook_secret(request.user)
    messages.success(
        request, _("New webhook URL created; the old one no longer works. Update the sender.")
    )
    return redirect("integration_ticket_hook")
