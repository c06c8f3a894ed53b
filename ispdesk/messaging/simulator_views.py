"""The simulator page: staff play a customer's WhatsApp phone.

The page's script POSTs what the "customer" types to the simulator connection's webhook URL,
the same path real gateways use, and shows live what ispdesk sends to the number (realtime
group `simulator.<digits>`). Without JavaScript the form posts to `simulator_send`, which
runs the same webhook code in-process.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ispdesk.integrations.whatsapp.base import WebhookRequest
from ispdesk.integrations.whatsapp.simulator import group_for
from ispdesk.lib.htmx import render_page_or_fragment
from ispdesk.lib.phones import PhoneError, format_phone, normalize_phone, whatsapp_digits
from ispdesk.messaging.simulator import (
    SimulatorUnavailable,
    history,
    recent_numbers,
    simulator_available,
    simulator_connection,
    webhook_path,
)
from ispdesk.messaging.webhooks import handle_delivery

MAX_NAME_LENGTH = 80
MAX_TEXT_LENGTH = 4096


def _require_simulator() -> None:
    if not simulator_available():
        raise Http404


def _number(raw: str) -> tuple[str, str]:
    """(E.164, "") for a usable number, ("", the reason) otherwise, ("", "") when empty."""
    raw = raw.strip()[:40]
    if not raw:
        return "", ""
    try:
        return normalize_phone(raw, mobile=True), ""
    except PhoneError as exc:
        return "", _("“%(number)s” is not a WhatsApp number: %(reason)s.") % {
            "number": raw,
            "reason": exc.reason,
        }


def _page_url(phone: str, name: str) -> str:
    query = {"phone": phone, **({"name": name} if name else {})}
    return f"{reverse('simulator')}?{urlencode(query)}"


@login_required
@require_GET
def simulator_page(request: HttpRequest) -> HttpResponse:
    """The page; for HTMX requests (a resync after reconnecting) only the chat thread."""
    _require_simulator()
    phone, phone_error = _number(request.GET.get("phone", ""))
    name = request.GET.get("name", "").strip()[:MAX_NAME_LENGTH]
    context: dict[str, Any] = {
        "phone": phone,
        "phone_input": request.GET.get("phone", "")[:40],
        "phone_error": phone_error,
        "name": name,
        "max_text_length": MAX_TEXT_LENGTH,
    }
    try:
        connection = simulator_connection()
    except SimulatorUnavailable:
        context["unavailable"] = True
        return render_page_or_fragment(
            request, "messaging/simulator.html", "messaging/simulator_thread.html", context
        )
    context.update(
        connection=connection,
        webhook_url=webhook_path(connection),
        recent=[(number, format_phone(number), who) for number, who in recent_numbers(connection)],
    )
    if phone:
        context.update(
            phone_display=format_phone(phone),
            digits=whatsapp_digits(phone),
            group=group_for(phone),
            lines=history(connection, phone),
            page_url=_page_url(phone, name),
        )
    return render_page_or_fragment(
        request, "messaging/simulator.html", "messaging/simulator_thread.html", context
    )


@login_required
@require_POST
def simulator_send(request: HttpRequest) -> HttpResponse:
    """The no-JavaScript path: the same webhook code, called in-process."""
    _require_simulator()
    phone, phone_error = _number(request.POST.get("phone", ""))
    name = request.POST.get("name", "").strip()[:MAX_NAME_LENGTH]
    text = request.POST.get("text", "").strip()[:MAX_TEXT_LENGTH]
    if not phone:
        messages.error(request, phone_error or _("Type a phone number first."))
        return redirect("simulator")
    if not text:
        return redirect(_page_url(phone, name))
    body = {
        "type": "message",
        "id": f"sim-in-{uuid.uuid4().hex}",
        "from": phone,
        "name": name,
        "text": text,
        "timestamp": int(time.time()),
    }
    try:
        connection = simulator_connection()
        answer = handle_delivery(
            connection,
            WebhookRequest("POST", json.dumps(body).encode(), headers={}, query={}),
        )
    except (SimulatorUnavailable, DatabaseError):
        answer = None
    if answer is None or answer.status != 200:
        messages.error(request, _("The message could not be delivered; try again."))
    return redirect(_page_url(phone, name))
