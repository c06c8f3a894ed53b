"""One error shape for the whole JSON API: `{"code", "message"}` plus `fields` when a value
is invalid. The middleware covers what never reaches Ninja (unknown routes, CSRF failures)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from an endpoint to answer with a stable error code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        super().__init__(message)


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {key: str(value) for key, value in fields.items()}
    return body


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message, fields), status=status)


def default_message(status: int) -> str:
    messages = {
        400: _("The request could not be understood."),
        401: _("Authentication required."),
        403: _("You do not have permission to do this."),
        404: _("Not found."),
        405: _("Method not allowed."),
        413: _("The request body is too large."),
        429: _("Too many requests; try again later."),
        500: _("Internal error; it has been logged."),
    }
    return messages.get(status, _("The request failed."))


class ApiErrorMiddleware:
    """Rewrites non-JSON error answers under /api/ into the JSON error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX) and "\x00" in request.path:
            # No route has a NUL; as a path parameter it would reach the database (a 500 on
            # PostgreSQL).
            return error_response(404, "not_found", default_message(404))
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        rewritten = error_response(
            status, STATUS_CODES.get(status, "error"), default_message(status)
        )
        if response.has_header("Allow"):
            rewritten["Allow"] = response["Allow"]
        return rewritten


def parse_json_body(request: HttpRequest) -> Any:
    """For endpoints that take free-form JSON: the parsed body or a 400 ApiError."""
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", _("The request body is not valid JSON.")) from None
