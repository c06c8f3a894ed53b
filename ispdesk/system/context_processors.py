from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from ispdesk.system.config import get_config
from ispdesk.system.models import SystemState


def system(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"company_name": get_config("company_name")}
    return {
        "company_name": get_config("company_name"),
        # Read only by pages that show the pause banner: not by the fragments the desk
        # swaps in (a chat, the list), which would pay a query each for nothing.
        "system_state": SimpleLazyObject(
            lambda: SystemState.objects.filter(pk=1).select_related("paused_by").first()
        ),
    }
