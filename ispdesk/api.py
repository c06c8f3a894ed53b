"""The one NinjaAPI, mounted at /api/, with the shared error handlers."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from ispdesk.accounts.api import router as accounts_router
from ispdesk.accounts.api import users_router
from ispdesk.accounts.auth import BearerTokenAuth, SessionAuth
from ispdesk.api_errors import STATUS_CODES, ApiError, default_message, error_body
from ispdesk.contacts.api import router as contacts_router
from ispdesk.conversations.api import router as conversations_router
from ispdesk.conversations.flow_api import router as flows_router
from ispdesk.jobs.api import router as jobs_router
from ispdesk.jobs.api_runs import router as job_runs_router
from ispdesk.messaging.api import bot_router
from ispdesk.messaging.api import router as connections_router
from ispdesk.messaging.api_whatsapp import router as whatsapp_router
from ispdesk.operators.api import router as operators_router
from ispdesk.operators.hours_api import router as working_hours_router
from ispdesk.pipeline.api_gestionreal import router as gestionreal_router
from ispdesk.pipeline.api_hook import router as ticket_hook_router
from ispdesk.pipeline.api_jobs import router as pipeline_jobs_router
from ispdesk.pipeline.api_splynx import router as splynx_router
from ispdesk.system.api import logs_router
from ispdesk.system.api import router as system_router
from ispdesk.tickets.api import router as tickets_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="ispdesk API",
    version="1",
    urls_namespace="api",
    auth=[BearerTokenAuth(), SessionAuth()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _respond(request, exc.status, error_body(exc.code, exc.message, exc.fields))


# Where a value came from, and the body's parameter name: not part of the field's name.
_LOCATION_PARTS = ("body", "payload", "query", "path", "header", "cookie", "form", "file")


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in _LOCATION_PARTS]
        name = ".".join(location) or "body"
        fields.setdefault(name, str(error.get("msg", _("invalid value"))))
    names = ", ".join(fields)
    message = _("Invalid value for: %(fields)s") % {"fields": names}
    return _respond(request, 422, error_body("validation_error", message, fields))


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _respond(request, 401, error_body("not_authenticated", default_message(401)))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    status = exc.status_code
    code = STATUS_CODES.get(status, "error")
    message = str(exc) or default_message(status)
    if status == 400 and "parse request body" in message:
        code, message = "malformed_json", _("The request body is not valid JSON.")
    elif status == 403 and "CSRF" in message:
        code, message = "csrf_failed", _("CSRF check failed; reload the page and try again.")
    return _respond(request, status, error_body(code, message))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, error_body("not_found", default_message(404)))


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _respond(request, 403, error_body("permission_denied", default_message(403)))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled API error on %s %s", request.method, request.path)
    return _respond(request, 500, error_body("internal_error", default_message(500)))


api.add_router("/auth", accounts_router)
api.add_router("/users", users_router)
api.add_router("/", system_router)
api.add_router("/logs", logs_router)
api.add_router("/admin/jobs", jobs_router)
api.add_router("/jobs", job_runs_router)
api.add_router("/", operators_router)
api.add_router("/tickets", tickets_router)
api.add_router("/tickets", pipeline_jobs_router)
api.add_router("/whatsapp", whatsapp_router)
api.add_router("/connections", connections_router)
api.add_router("/bot", bot_router)
api.add_router("/contacts", contacts_router)
api.add_router("/working-hours", working_hours_router)
api.add_router("/flows", flows_router)
api.add_router("/conversations", conversations_router)
api.add_router("/admin/integrations/splynx", splynx_router)
api.add_router("/admin/integrations/gestionreal", gestionreal_router)
api.add_router("/admin/integrations/ticket-webhook", ticket_hook_router)
