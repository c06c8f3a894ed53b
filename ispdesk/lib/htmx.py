"""HTMX helpers: one view renders its whole page, or only its fragment for an HTMX request.

Pages that refresh themselves listen for real-time events re-dispatched on <body> by
`static/ispdesk/realtime.js`, e.g. `hx-trigger="ispdesk:job:run from:body, ispdesk:resync
from:body"`, and GET their own URL again; the view answers that request with the fragment.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def is_htmx(request: HttpRequest) -> bool:
    """True for requests htmx makes for a fragment (boosted navigation wants whole pages)."""
    details = getattr(request, "htmx", None)
    return bool(details) and not getattr(details, "boosted", False)


def render_page_or_fragment(
    request: HttpRequest,
    page_template: str,
    fragment_template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    template = fragment_template if is_htmx(request) else page_template
    response = render(request, template, context, status=status)
    # The same URL answers with two bodies; caches must keep them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response
