"""Role checks shared by the API and the pages."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from ispdesk.api_errors import ApiError


def api_require_admin(user: Any) -> None:
    if not getattr(user, "is_admin", False):
        raise ApiError(403, "permission_denied", _("Only administrators may do this."))


def api_require_supervisor(user: Any) -> None:
    if not getattr(user, "is_supervisor_or_admin", False):
        raise ApiError(
            403, "permission_denied", _("Only supervisors and administrators may do this.")
        )
