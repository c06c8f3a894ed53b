"""Template context for the ticket pages' navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from ispdesk.operators.models import Operator


def tickets(request: HttpRequest) -> dict[str, Any]:
    """`has_operator_profile`: whether to offer "My tickets" (queried only when a page asks)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"has_operator_profile": False}
    return {
        "has_operator_profile": SimpleLazyObject(
            lambda: Operator.objects.filter(user_id=user.pk).exists()
        )
    }
